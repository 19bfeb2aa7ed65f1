"""``cockpit watch`` end to end: the installed CLI as a subprocess against the simulated world."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cockpit.world.world import World

pytestmark = pytest.mark.xdist_group("prometheus")

FAST = ["--interval", "0.5", "--window", "2", "--countdown", "1", "--stabilization", "3"]


def cockpit() -> list[str]:
    exe = shutil.which("cockpit")
    if exe is None:
        pytest.skip("the cockpit console script is not installed (pip install -e .)")
    return [exe]


ROOT = Path(__file__).resolve().parents[2]


def env_for(tmp: Path) -> dict:
    """The installed console script, but importing *this* tree (an editable install may point at
    another checkout): PYTHONPATH's path entries come before the editable finder."""
    path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return dict(os.environ, XDG_STATE_HOME=str(tmp / "state"), XDG_CONFIG_HOME=str(tmp / "cfg"), NO_COLOR="1",
                PYTHONPATH=path)


def history(world: World) -> list[str]:
    from backends.kubernetes.backend import connect
    from cockpit.model import Target

    return [f"{r.number}:{r.images[0]}:{r.live}" for r in connect(str(world.kubeconfig_path_e2e)).history(Target("checkout", "shop"))]


class Lines:
    """``proc``'s stdout collected line by line as it comes (a reader thread)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        import threading

        self.proc, self.lines = proc, []
        self._reader = threading.Thread(target=lambda: self.lines.extend(l.rstrip("\n") for l in proc.stdout),
                                        daemon=True)
        self._reader.start()

    def until(self, done, timeout: float = 60.0) -> list[str]:
        """The lines so far, once ``done(lines)``; fails (killing the process) when the output
        ends or ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        while not done(list(self.lines)):
            if time.monotonic() > deadline or not self._reader.is_alive():
                self.proc.kill()
                raise AssertionError(f"not seen (within {timeout}s, or the watch ended):\n" + "\n".join(self.lines))
            time.sleep(0.05)
        return list(self.lines)

    def finish(self, timeout: float = 60.0) -> str:
        self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return "\n".join(self.lines)


@pytest.fixture
def start_world(tmp_path):
    worlds = []

    def start(scenario: str) -> World:
        w = World(scenario, speed=10).start()
        w.kubeconfig_path_e2e = w.write_kubeconfig(tmp_path / f"kubeconfig-{len(worlds)}")
        worlds.append(w)
        return w

    yield start
    for w in worlds:
        w.stop()


def live_image(world: World) -> str:
    from backends.kubernetes.backend import connect
    from cockpit.model import Target

    return connect(str(world.kubeconfig_path_e2e)).deployment(Target("checkout", "shop")).images[0]


def test_bad_image_rolls_back_by_itself_then_reports_ok(start_world, tmp_path):
    world = start_world("bad-image")
    journal = tmp_path / "incident.jsonl"
    p = subprocess.run(
        cockpit() + ["--kubeconfig", str(world.kubeconfig_path_e2e), "--journal", str(journal), "watch", "checkout",
                     "-n", "shop", "--auto-rollback", *FAST, "--exit-when-verified", "--duration", "45"],
        capture_output=True, text=True, env=env_for(tmp_path), timeout=60,
    )
    out = p.stdout
    assert p.returncode == 0, out + p.stderr
    assert "ROLLBACK_NOW shop/checkout — error rate" in out
    assert "AUTO-ROLLBACK in 1s: rollback of shop/checkout to revision 2 (registry.example/shop/checkout:1.4.2)" in out
    assert out.count("rolled back shop/checkout") == 1
    assert "VERIFIED shop/checkout: OK" in out
    assert "\x1b[" not in out  # no colour without a TTY
    assert live_image(world) == "registry.example/shop/checkout:1.4.2"
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    types = [r["type"] for r in records]
    assert types.index("trigger") < types.index("intent") < types.index("outcome")
    trig = next(r for r in records if r["type"] == "trigger")
    assert trig["name"] == "error_rate" and "> 5%" in trig["reason"] and trig["to_revision"] == 2
    verdicts = [r["value"] for r in records if r["type"] == "verdict"]
    assert "ROLLBACK_NOW" in verdicts and verdicts[-1] == "OK"


def test_healthy_never_rolls_back(start_world, tmp_path):
    world = start_world("healthy")
    from backends.kubernetes.backend import connect

    deps = connect(str(world.kubeconfig_path_e2e)).list_deployments()
    dep = deps[0]
    before = connect(str(world.kubeconfig_path_e2e)).history(__import__("cockpit.model").model.Target(dep.name, dep.namespace))
    p = subprocess.run(
        cockpit() + ["--kubeconfig", str(world.kubeconfig_path_e2e), "watch", dep.name, "-n", dep.namespace,
                     "--auto-rollback", *FAST, "--duration", "6"],
        capture_output=True, text=True, env=env_for(tmp_path), timeout=60,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"OK {dep.namespace}/{dep.name}" in p.stdout
    assert "TRIGGER" not in p.stdout and "rolled back" not in p.stdout and "ROLLBACK_NOW" not in p.stdout
    after = connect(str(world.kubeconfig_path_e2e)).history(__import__("cockpit.model").model.Target(dep.name, dep.namespace))
    assert [r.number for r in after] == [r.number for r in before]


def test_prometheus_stopped_mid_watch_is_inconclusive_and_no_rollback(start_world, tmp_path, prometheus_factory):
    world = start_world("bad-image")
    prom = prometheus_factory([{"url": world.service_url("shop", "checkout") + "/metrics",
                                "labels": {"namespace": "shop"}, "job": "checkout"}])
    prom.wait_for('sum(rate(http_requests_total{service="checkout"}[2s])) > 0')
    # error trigger needs 50 consecutive checks: it cannot fire before Prometheus goes away
    env = dict(env_for(tmp_path), COCKPIT_DECISION__TRIGGERS__ERROR_CONSECUTIVE="50",
               COCKPIT_DECISION__TRIGGERS__SUCCESS_MIN_CHECKS="50")
    proc = subprocess.Popen(
        cockpit() + ["--kubeconfig", str(world.kubeconfig_path_e2e), "watch", "checkout", "-n", "shop", "--auto-rollback",
                     "--source", "prometheus", "--prometheus-url", prom.url, "--no-probe", *FAST, "--duration", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    # Prometheus goes away once the watch has judged from it (not after a fixed sleep: a slow
    # start would find no verdict yet); the watch is stopped once it has said what it saw
    out = Lines(proc)
    first_bad = len(out.until(lambda ls: any("ROLLBACK_NOW shop/checkout" in line for line in ls))) - 1
    prom.stop()
    out.until(lambda ls: any("INCONCLUSIVE shop/checkout" in line and "prometheus stale since" in line
                             for line in ls[first_bad + 1:])
              and any("ALERT metrics source prometheus failed 3 times in a row" in line for line in ls))
    proc.send_signal(signal.SIGINT)
    out = out.finish()
    err = proc.stderr.read()
    assert proc.returncode == 0, out + err  # SIGINT while only watching: "stopped", exit 0
    assert "TRIGGER" not in out and "rolled back" not in out
    assert live_image(world) == "registry.example/shop/checkout:1.5.0"


def test_readonly_only_says_what_it_would_do(start_world, tmp_path):
    world = start_world("bad-image")
    proc = subprocess.Popen(
        cockpit() + ["--kubeconfig", str(world.kubeconfig_path_e2e), "--readonly", "watch", "checkout", "-n", "shop",
                     "--auto-rollback", *FAST, "--duration", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env_for(tmp_path),
    )
    out = Lines(proc)
    out.until(lambda ls: any("readonly: would start rollback of shop/checkout to revision 2" in line for line in ls))
    time.sleep(1.5)  # past the 1 s countdown it would have had: nothing more may happen
    proc.send_signal(signal.SIGINT)
    out = out.finish()
    assert proc.returncode == 0, out + proc.stderr.read()
    assert "rolled back" not in out and "AUTO-ROLLBACK in" not in out
    assert live_image(world) == "registry.example/shop/checkout:1.5.0"
    assert not (tmp_path / "state").exists() or not list((tmp_path / "state").rglob("*.jsonl"))


def test_sigint_during_the_countdown_aborts_and_changes_nothing(start_world, tmp_path):
    world = start_world("bad-image")
    journal = tmp_path / "incident.jsonl"
    fast = ["--interval", "0.5", "--window", "2", "--stabilization", "3"]
    proc = subprocess.Popen(
        cockpit() + ["--kubeconfig", str(world.kubeconfig_path_e2e), "--journal", str(journal), "watch", "checkout",
                     "-n", "shop", "--auto-rollback", "--countdown", "5", *fast, "--duration", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env_for(tmp_path),
    )
    seen: list[str] = []
    try:
        for line in proc.stdout:  # blocks until the line comes (or the watch ends: then the assert below fails)
            seen.append(line)
            if "AUTO-ROLLBACK in 5s:" in line:
                proc.send_signal(signal.SIGINT)
                break
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = "".join(seen) + out
    assert any("AUTO-ROLLBACK in 5s:" in line for line in seen), out + err
    assert proc.returncode == 130, out + err
    assert "auto-rollback ABORTED by the operator; nothing was changed" in out
    assert "cockpit: Aborted:" in err and "rolled back" not in out
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    types = [r["type"] for r in records]
    assert "trigger" in types and "trigger_aborted" in types and "intent" not in types
    assert types.index("trigger") < types.index("trigger_aborted")
    assert world.request_counts.get("PATCH", 0) == 0
    assert history(world) == ["1:registry.example/shop/checkout:1.4.1:False", "2:registry.example/shop/checkout:1.4.2:False",
                              "3:registry.example/shop/checkout:1.5.0:True"]


def test_runbook_runs_through_the_executor_when_a_trigger_fires(start_world, tmp_path):
    world = start_world("bad-image")
    journal = tmp_path / "incident.jsonl"
    runbook = tmp_path / "rollback.yaml"
    runbook.write_text(
        "name: checkout rollback\n"
        "target: {kind: deployment, namespace: shop, name: checkout}\n"
        "steps:\n"
        "  - kind: kubernetes.rollback\n"
        "    name: Roll checkout back to 1.4.2\n"
        "    params: {to_revision: 2, timeout: 60}\n"
    )
    p = subprocess.run(
        cockpit() + ["--kubeconfig", str(world.kubeconfig_path_e2e), "--journal", str(journal), "watch", "checkout",
                     "-n", "shop", "--auto-rollback", "--runbook", str(runbook), *FAST, "--exit-when-verified",
                     "--duration", "45"],
        capture_output=True, text=True, env=env_for(tmp_path), timeout=60,
    )
    out = p.stdout
    assert p.returncode == 0, out + p.stderr
    assert "AUTO-ROLLBACK in 1s: the runbook" in out
    assert "rolling back shop/checkout to revision 2 (registry.example/shop/checkout:1.4.2)" in out
    assert "runbook finished: ok" in out and "VERIFIED shop/checkout: OK" in out
    assert live_image(world) == "registry.example/shop/checkout:1.4.2"
    assert world.request_counts.get("PATCH", 0) == 1
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    types = [r["type"] for r in records]
    assert types.index("trigger") < types.index("run_started") < types.index("intent") < types.index("run_finished")
    intent = next(r for r in records if r["type"] == "intent")
    assert intent["action"] == "kubernetes.rollback" and intent["params"]["to_revision"] == 2
    step = next(r for r in records if r["type"] == "step_finished")
    assert step["ok"] is True and step["kind"] == "kubernetes.rollback"
    assert next(r for r in records if r["type"] == "run_finished")["ok"] is True


def test_an_armed_watch_sends_nothing_when_the_cluster_and_metrics_go_away(tmp_path):
    """The bastion loses the world (API, services and metrics at once: its process is killed):
    the verdict becomes INCONCLUSIVE — failed health checks are not evidence while the API does
    not answer — and the armed watch triggers nothing, however long it lasts."""
    import sys

    kc = tmp_path / "kc"
    world = subprocess.Popen([sys.executable, "-m", "cockpit.world.serve", "--kubeconfig", str(kc),
                              "--scenario", "healthy", "--speed", "10"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env_for(tmp_path))
    journal = tmp_path / "incident.jsonl"
    p = None
    try:
        assert world.stdout is not None and world.stdout.readline().startswith("world ready:")
        p = subprocess.Popen(
            cockpit() + ["--kubeconfig", str(kc), "--journal", str(journal), "watch", "web", "-n", "default",
                         "--auto-rollback", *FAST, "--duration", "60"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env_for(tmp_path))
        lines: list[str] = []
        for line in p.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if " OK default/web" in line:
                break
        world.kill()  # the network is gone: no API, no /health, no /metrics
        world.wait(timeout=10)
        deadline = time.monotonic() + 12  # 24 checks at 0.5 s: far past any trigger's count
        while time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        rest, _ = p.communicate(timeout=30)
    finally:
        for proc in (p, world):
            if proc is not None and proc.poll() is None:
                proc.kill()
    out = "".join(lines) + rest
    assert " OK default/web" in out, out
    after = out.split(" OK default/web", 1)[1]
    assert "INCONCLUSIVE default/web" in after and "health check failed while the Kubernetes API does not answer" in after, out
    assert "TRIGGER" not in out and "AUTO-ROLLBACK" not in out and "ROLLBACK_NOW" not in out, out
    records = [json.loads(line) for line in journal.read_text().splitlines()] if journal.exists() else []
    assert not [r for r in records if r["type"] in ("trigger", "intent", "revision_chosen")]
