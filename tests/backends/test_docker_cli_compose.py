"""`cockpit docker ...`, the docker.rollback step kind and Compose services, on a real dockerd."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from backends.docker import compose as cmp
from backends.docker import perform
from backends.docker.client import DockerBackend
from cockpit.journal import Journal, read_journal

pytestmark = [pytest.mark.xdist_group("docker"), pytest.mark.usefixtures("cleanup_containers")]
ROOT = Path(__file__).resolve().parents[2]

COMPOSE = """\
# production stack — keep this comment
name: shop

x-common: &common
  restart: unless-stopped   # anchors survive

services:
  # the web tier
  web:
    <<: *common
    image: "cockpit-test/app:2.0"   # pinned by CI
    ports:
      - "127.0.0.1:{port}:8080"
    environment:
      FOO: bar

  worker: {{image: cockpit-test/app:2.0, command: [sleep, "100"]}}
"""


def _cockpit(dockerd, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", "docker", *args, "--docker-host", dockerd.host],
        cwd=ROOT, capture_output=True, text=True, timeout=120, input=stdin,
    )


def _version(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/version", timeout=5) as r:
        return r.read().decode().strip()


def _run_web(dockerd, port: int, *extra: str) -> str:
    return dockerd.cli("run", "-d", "--name", "web", "--network", dockerd.network, "-p", f"127.0.0.1:{port}:8080",
                       "--stop-timeout", "1", *extra, dockerd.image("2.0")).stdout.decode().strip()


def test_cli_ps_history_rollback(dockerd, free_port, tmp_path):
    _run_web(dockerd, free_port)
    ps = _cockpit(dockerd, "ps", "--output", "json")
    assert ps.returncode == 0, ps.stderr
    assert [(c["name"], c["tag"]) for c in json.loads(ps.stdout)] == [("web", "2.0")]
    hist = _cockpit(dockerd, "history", "web")
    assert hist.returncode == 0 and "3.0-broken" in hist.stdout and "live" in hist.stdout

    missing = _cockpit(dockerd, "rollback", "web", "--to-tag", "0.9", "--yes")
    assert missing.returncode == 3 and "tags present" in missing.stderr and "1.0" in missing.stderr
    assert "Traceback" not in missing.stderr and len(missing.stderr.strip().splitlines()) == 1

    no_tty = _cockpit(dockerd, "rollback", "web", "--to-tag", "1.0", stdin="y\n")
    assert no_tty.returncode == 130 and "--yes" in no_tty.stderr
    ro = _cockpit(dockerd, "rollback", "web", "--to-tag", "1.0", "--yes", "--readonly")
    assert ro.returncode == 5
    assert _version(free_port) == "2.0"

    journal = tmp_path / "j.jsonl"
    done = _cockpit(dockerd, "rollback", "web", "--to-tag", "1.0", "--yes", "--journal", str(journal),
                    "--health-budget", "20", "--probe-url", f"http://127.0.0.1:{free_port}/version")
    assert done.returncode == 0, done.stderr
    assert _version(free_port) == "1.0"
    assert "probe" in done.stderr and "healthy" in done.stderr
    recs = read_journal(journal)
    assert any(r["type"] == "log" for r in recs)
    hist = _cockpit(dockerd, "history", "web", "--journal", str(journal), "--output", "json")
    rows = {r["tag"]: r for r in json.loads(hist.stdout)}
    assert rows["2.0"]["previous"] and rows["1.0"]["live"]


def test_cli_unreachable(tmp_path):
    r = subprocess.run([sys.executable, "-m", "cockpit", "docker", "history", "web", "--docker-host",
                        f"unix://{tmp_path}/none.sock"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 4 and f"{tmp_path}/none.sock" in r.stderr and "Traceback" not in r.stderr


def test_step_kind_runs_and_reconciles(dockerd, free_port, tmp_path):
    from backends.docker.steps import DockerRollback
    from cockpit.steps import StepContext, get_step

    assert get_step("docker.rollback") is DockerRollback
    with pytest.raises(ValueError):
        DockerRollback.Params(container="web", to_tag="1.0", image="x:1")
    _run_web(dockerd, free_port, "--restart", "always")
    j = Journal.open(tmp_path / "j.jsonl", actor="t@h")
    lines: list[str] = []
    ctx = StepContext(backends={"docker": DockerBackend(dockerd.host)}, log=lines.append, journal=j)
    step = DockerRollback()
    params = DockerRollback.Params(container="web", to_tag="1.0", health_budget=20)
    assert step.reconcile(ctx, params, {}) is None  # not done yet
    out = step.run(ctx, params)
    assert out["to_image"] == dockerd.image("1.0") and out["via"] == "container"
    assert _version(free_port) == "1.0" and lines
    again = step.reconcile(ctx, params, {})
    assert again is not None and again["new_id"] == out["new_id"]
    j.close()


def test_compose_file_rewrite_keeps_everything_else():
    text = COMPOSE.format(port=1234)
    new, old = cmp.set_service_image(text, "web", "cockpit-test/app:1.0")
    assert old == "cockpit-test/app:2.0"
    assert new == text.replace('image: "cockpit-test/app:2.0"', 'image: "cockpit-test/app:1.0"')
    new2, old2 = cmp.set_service_image(text, "worker", "cockpit-test/app:1.0")
    assert new2 == text.replace("{image: cockpit-test/app:2.0,", "{image: cockpit-test/app:1.0,")
    with pytest.raises(Exception, match="no service"):
        cmp.set_service_image(text, "nope", "x:1")
    with pytest.raises(Exception, match="variable"):
        cmp.set_service_image("services:\n  web:\n    image: app:${TAG}\n", "web", "app:1")


def test_compose_service_container_fallback(dockerd, free_port, tmp_path, docker_client):
    proj = tmp_path / "shop"
    proj.mkdir()
    f = proj / "compose.yaml"
    f.write_text(COMPOSE.format(port=free_port))
    f.chmod(0o640)
    labels = {
        "com.docker.compose.project": "shop", "com.docker.compose.service": "web",
        "com.docker.compose.project.working_dir": str(proj), "com.docker.compose.project.config_files": str(f),
        "com.docker.compose.container-number": "1",
    }
    args = []
    for k, v in labels.items():
        args += ["--label", f"{k}={v}"]
    _run_web(dockerd, free_port, *args)
    j = Journal.open(tmp_path / "j.jsonl", actor="t@h")
    lines: list[str] = []
    b = DockerBackend(dockerd.host)
    out = perform.perform_rollback(b, "web", to_tag="1.0", journal=j, log=lines.append, health_budget=20,
                                   docker_cli="/nonexistent/docker")  # no compose plugin
    assert out.via == "container" and any("plugin not available" in x for x in lines)
    assert f.read_text() == COMPOSE.format(port=free_port).replace("app:2.0\"", "app:1.0\"")
    assert f.stat().st_mode & 0o777 == 0o640
    assert _version(free_port) == "1.0"
    new_labels = docker_client.api.inspect_container("web")["Config"]["Labels"]
    assert {k: new_labels[k] for k in labels} == labels
    recs = j.read()
    assert any(r.get("action") == "docker.compose_file" and r["type"] == "intent" for r in recs)

    # a failed rollback puts the file back as well
    before = f.read_text()
    with pytest.raises(Exception, match="did not become healthy"):
        perform.perform_rollback(b, "web", to_tag="3.0-broken", journal=j, log=lines.append, health_budget=10,
                                 docker_cli="/nonexistent/docker")
    assert f.read_text() == before and _version(free_port) == "1.0"
    j.close()
