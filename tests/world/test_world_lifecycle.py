"""The World's public surface: lifecycle, kubeconfig, serve(), bulk load, scenario startup."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from cockpit.world.scenario import list_scenarios
from cockpit.world.world import CONTEXT, World
from cockpit.errors import ConfigError, NotFoundError

ROOT = Path(__file__).resolve().parents[2]


def test_context_manager_kubeconfig_and_request_log(tmp_path: Path) -> None:
    with World("healthy", speed=50, services=False) as w:
        assert w.started and w.url.startswith("http://127.0.0.1:")
        path = w.write_kubeconfig(tmp_path / "sub" / "kubeconfig")
        cfg = yaml.safe_load(path.read_text())
        assert cfg["current-context"] == CONTEXT
        assert cfg["clusters"][0]["cluster"]["server"] == w.url
        assert cfg["users"][0]["user"] == {}
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        with urllib.request.urlopen(w.url + "/apis/apps/v1/namespaces/default/deployments") as r:
            names = [d["metadata"]["name"] for d in json.load(r)["items"]]
        assert names == ["api", "web"]
        assert w.request_log == [("GET", "/apis/apps/v1/namespaces/default/deployments")]
        with pytest.raises(NotFoundError):
            w.service_url("default", "web")
    assert not w.started
    with pytest.raises(OSError):
        urllib.request.urlopen(w.url + "/version", timeout=2)


@pytest.mark.parametrize("name", list_scenarios())
def test_every_scenario_starts_with_truthful_history(name: str) -> None:
    with World(name, speed=1, services=True) as w:  # how fast it starts: bench/startup.py (drill to first frame)
        for key in w.services.urls:
            assert w.service_url(*key).startswith("http://127.0.0.1:")
        for d in w.scenario.deployments:
            dep = w.store.require("deployments", d.namespace, d.name)
            assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == str(len(d.revisions))
            assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == d.revisions[-1].image
            rss = w.controller.owned_replicasets(dep)
            assert len(rss) == len({r.image for r in d.revisions})


def test_unknown_scenario_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        World("no-such-scenario")


def test_bulk_load_serves_history_quickly(world, kubectl) -> None:
    w = world("healthy", speed=50)
    w.bulk_load(deployments=100, replicasets_per=20, namespace="bench")
    k = kubectl(w, "/usr/lib/google-cloud-sdk/bin/kubectl.1.33") if Path(
        "/usr/lib/google-cloud-sdk/bin/kubectl.1.33").exists() else None
    if k is None:
        pytest.skip("kubectl.1.33 not installed")
    out = k.ok("-n", "bench", "rollout", "history", "deploy/app-0042")
    assert [line.split()[0] for line in out.splitlines()[2:] if line.strip()] == [str(i) for i in range(1, 21)]
    # the selector picks the deployment's 20 out of 2000 (how fast: bench/history_scale.py)
    with urllib.request.urlopen(w.url + "/apis/apps/v1/namespaces/bench/replicasets?labelSelector=app%3Dapp-0042") as r:
        items = json.load(r)["items"]
    assert len(items) == 20 and {i["metadata"]["labels"]["app"] for i in items} == {"app-0042"}


def _serve(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen([sys.executable, "-m", "cockpit.world.serve", "--kubeconfig", str(tmp_path / "kc"), *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    assert p.stdout is not None
    line = p.stdout.readline()
    return p, line


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_one_ready_line_and_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    p, line = _serve(tmp_path, "--scenario", "bad-image", "--speed", "5")
    try:
        assert line.startswith("world ready: scenario=bad-image api=http://127.0.0.1:")
        assert line.rstrip().endswith(f"kubeconfig={tmp_path / 'kc'}")
        api = line.split("api=")[1].split()[0]
        with urllib.request.urlopen(api + "/version", timeout=5) as r:
            assert json.load(r)["gitVersion"] == "v1.30.0"
        assert yaml.safe_load((tmp_path / "kc").read_text())["clusters"][0]["cluster"]["server"] == api
    finally:
        p.send_signal(sig)
        out, err = p.communicate(timeout=20)
    assert p.returncode == 0, err
    assert out == ""


def test_serve_function_returns_zero_on_sigterm(tmp_path: Path) -> None:
    code = (
        "import os, signal, threading, sys\n"
        "from pathlib import Path\n"
        "from cockpit.world.serve import serve\n"
        "threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()\n"
        f"sys.exit(serve(Path({str(tmp_path / 'kc')!r}), port=0, scenario='healthy', speed=2.0))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("\n") == 1 and p.stdout.startswith("world ready: scenario=healthy ")
