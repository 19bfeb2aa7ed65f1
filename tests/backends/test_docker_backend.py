"""The docker backend and the container rollback against a real dockerd."""
from __future__ import annotations

import time

import pytest

from tests.fixtures.procs import http_get

from backends.docker import rollback as rb
from backends.docker.client import DockerBackend
from cockpit.errors import NotFoundError, ReadonlyError, RolloutFailed, UnreachableError
from cockpit.journal import Journal, read_journal

pytestmark = [pytest.mark.xdist_group("docker"), pytest.mark.usefixtures("cleanup_containers")]


_get = http_get


@pytest.fixture
def backend(dockerd):
    b = DockerBackend(dockerd.host)
    yield b
    b.close()


@pytest.fixture
def journal(tmp_path):
    j = Journal.open(tmp_path / "incident.jsonl", actor="test@host")
    yield j
    j.close()


def _run(dockerd, name, tag, port, *extra: str) -> str:
    return dockerd.cli(
        "run", "-d", "--name", name, "--network", dockerd.network, "-p", f"127.0.0.1:{port}:8080",
        "--restart", "unless-stopped", "--stop-timeout", "1", *extra, dockerd.image(tag),
    ).stdout.decode().strip()


def _stages(records):
    return [(r["stage"]) for r in records if r.get("type") == "intent" and r.get("action") == rb.STAGE]


def test_unreachable_names_the_socket(tmp_path):
    sock = tmp_path / "nope.sock"
    with pytest.raises(UnreachableError) as err:
        DockerBackend(f"unix://{sock}").ps()
    assert str(sock) in str(err.value)


def test_ps_history_and_unknown_tag(dockerd, backend, free_port):
    _run(dockerd, "web", "2.0", free_port, "--label", "team=\x1b[31mpay\u202ements")
    rows = backend.ps(name="web")
    assert [(c.name, c.tag, c.state) for c in rows] == [("web", "2.0", "running")]
    assert rows[0].labels["team"] == "\\e[31mpay\\u202ements"  # sanitized at the boundary: controls shown inert
    assert backend.ps(label="team=nobody") == []
    hist = backend.history("web")
    tags = {t.tag: t for t in hist}
    assert {"1.0", "2.0", "3.0-broken"} <= set(tags)
    assert tags["2.0"].live and not tags["1.0"].live
    with pytest.raises(NotFoundError) as err:
        rb.rollback(backend, "web", to_tag="9.9")
    assert "9.9" in str(err.value) and "1.0" in str(err.value) and "3.0-broken" in str(err.value)
    with pytest.raises(NotFoundError):
        backend.history("no-such-container")


def test_logs_are_inert(dockerd, backend):
    dockerd.cli("run", "-d", "--name", "noisy", "--network", dockerd.network, dockerd.image("1.0"),
                "sh", "-c", r"printf 'a\033[31mred\033]0;pwned\007\342\200\256b\n'; sleep 100")
    deadline = time.monotonic() + 10
    lines = []
    while not lines and time.monotonic() < deadline:
        lines = list(backend.logs("noisy"))
        time.sleep(0.1)
    # controls shown inert and visible (never deleted, never reaching the terminal as escapes)
    assert lines == ["a\\e[31mred\\e]0;pwned\\a\\u202eb"]
    assert not any(ch in lines[0] for ch in ("\x1b", "\x07", "\u202e"))


def test_rollback_preserves_configuration(dockerd, backend, journal, free_port, tmp_path, docker_client):
    data = tmp_path / "data"
    data.mkdir()
    (data / "f.txt").write_text("bound")
    dockerd.cli("network", "create", "extra-net")
    try:
        cid = dockerd.cli(
            "run", "-d", "--name", "web", "--network", dockerd.network, "-p", f"127.0.0.1:{free_port}:8080",
            "--restart", "unless-stopped", "--stop-timeout", "1", "-e", "FOO=bar", "--label", "team=payments", "--hostname", "webhost",
            "-v", f"{data}:/data:ro", "-v", "/cache", "--network-alias", "web-alias",
            "-w", "/www", "-u", "nobody",
            "--health-cmd", "wget -q -O /dev/null http://127.0.0.1:8080/version", "--health-interval", "1s",
            "--entrypoint", "/bin/sh", dockerd.image("2.0"), "-c", "exec httpd -f -p 8080 -h /www",
        ).stdout.decode().strip()
        dockerd.cli("network", "connect", "--alias", "web-extra", "extra-net", "web")
        dockerd.cli("exec", "-u", "0", "web", "sh", "-c", "echo kept > /cache/state")
        assert _get(f"http://127.0.0.1:{free_port}/version") == "2.0"
        before = docker_client.api.inspect_container(cid)

        logs: list[str] = []
        out = rb.rollback(backend, "web", to_tag="1.0", journal=journal, log=logs.append, health_budget=20)

        assert _get(f"http://127.0.0.1:{free_port}/version") == "1.0"
        new = docker_client.api.inspect_container("web")
        assert new["Id"] == out.new_id != cid
        assert new["Config"]["Image"] == dockerd.image("1.0") and new["Image"] == dockerd.images["1.0"]
        env = new["Config"]["Env"]
        assert "FOO=bar" in env and "APP_VERSION=1.0" in env and "APP_VERSION=2.0" not in env
        assert new["Config"]["Labels"]["team"] == "payments"
        assert new["Config"]["Labels"]["org.opencontainers.image.version"] == "1.0"  # the new image's own
        assert new["Config"]["Hostname"] == "webhost"
        assert new["Config"]["User"] == "nobody" and new["Config"]["WorkingDir"] == "/www"
        assert new["Config"]["Entrypoint"] == ["/bin/sh"] and new["Config"]["Cmd"] == before["Config"]["Cmd"]
        assert new["Config"]["Healthcheck"] == before["Config"]["Healthcheck"]
        assert new["State"]["Health"]["Status"] == "healthy"
        assert new["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        assert new["HostConfig"]["PortBindings"] == before["HostConfig"]["PortBindings"]
        assert new["HostConfig"]["Binds"][0] == f"{data}:/data:ro"
        anon = [m["Name"] for m in before["Mounts"] if m["Destination"] == "/cache"]
        assert [m["Name"] for m in new["Mounts"] if m["Destination"] == "/cache"] == anon
        assert dockerd.cli("exec", "web", "cat", "/cache/state", "/data/f.txt").stdout.decode().split() == ["kept", "bound"]
        nets = new["NetworkSettings"]["Networks"]
        assert set(nets) == {dockerd.network, "extra-net"}
        assert "web-alias" in nets[dockerd.network]["Aliases"] and "web-extra" in nets["extra-net"]["Aliases"]

        # the old one is kept, stopped, renamed, and cannot come back by itself
        old = docker_client.api.inspect_container(cid)
        assert old["Name"] == f"/{out.backup}" and out.backup.startswith("web-cockpit-backup-")
        assert not old["State"]["Running"] and old["HostConfig"]["RestartPolicy"]["Name"] == "no"

        recs = read_journal(journal.path)
        plan = [r for r in recs if r.get("action") == rb.PLAN][0]
        assert plan["previous_image"] == dockerd.image("2.0") and plan["previous_image_id"] == dockerd.images["2.0"]
        assert plan["restart_policy"]["Name"] == "unless-stopped"
        assert _stages(recs) == ["disable_restart", "stop", "rename", "create", "start", "health"]
        intents = {r["id"] for r in recs if r["type"] == "intent"}
        assert intents == {r["id"] for r in recs if r["type"] == "outcome" and r["ok"]}
        assert any("healthy" in line for line in logs)
        assert rb.previous_image(recs, "web")["image_id"] == dockerd.images["2.0"]
        hist = {t.tag: t for t in backend.history("web", previous_image_id=dockerd.images["2.0"])}
        assert hist["2.0"].previous and hist["1.0"].live
    finally:
        dockerd.cli("rm", "-f", "web", check=False)
        dockerd.cli("network", "rm", "extra-net", check=False)


def test_failed_new_container_restores_the_old(dockerd, backend, journal, free_port, docker_client):
    cid = _run(dockerd, "web", "2.0", free_port)
    assert _get(f"http://127.0.0.1:{free_port}/version") == "2.0"
    with pytest.raises(RolloutFailed) as err:
        rb.rollback(backend, "web", to_tag="3.0-broken", journal=journal, log=lambda s: None, health_budget=15)
    assert "unhealthy" in str(err.value)
    back = docker_client.api.inspect_container("web")
    assert back["Id"] == cid and back["State"]["Running"]
    assert back["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert _get(f"http://127.0.0.1:{free_port}/version") == "2.0"
    assert [c["Id"] for c in docker_client.api.containers(all=True)] == [cid]  # the failed one is gone
    recs = read_journal(journal.path)
    assert _stages(recs)[-4:] == ["remove_new", "rename_back", "restore_restart", "start_old"]
    plan_out = [r for r in recs if r["type"] == "outcome" and r["id"] == rb.pending_plans(recs[:1])[0]["id"]][0] \
        if rb.pending_plans(recs[:1]) else None
    assert plan_out is not None and plan_out["ok"] is False and plan_out["restored"] is True
    assert rb.previous_image(recs, "web") is None  # nothing changed for good


class Crash(BaseException):
    """The process dying: no outcome gets written."""


@pytest.mark.parametrize("crash_in", ["create", "start"])
def test_crash_between_stop_and_start_resumes(dockerd, journal, free_port, docker_client, monkeypatch, crash_in):
    cid = _run(dockerd, "web", "2.0", free_port)
    crashing = DockerBackend(dockerd.host)
    original = getattr(crashing, crash_in)

    def crash(*a, **kw):
        raise Crash()

    monkeypatch.setattr(crashing, crash_in, crash)
    with pytest.raises(Crash):
        rb.rollback(crashing, "web", to_tag="1.0", journal=journal, log=lambda s: None)
    assert original  # the crash happened after stop (and create, for "start")
    assert not docker_client.api.inspect_container(cid)["State"]["Running"]
    journal.close()

    # a new process: same journal, fresh backend
    j2 = Journal.open(journal.path, actor="test@host")
    assert len(rb.pending_plans(j2.read(), "web")) == 1
    b2 = DockerBackend(dockerd.host)
    out = rb.rollback(b2, "web", to_tag="1.0", journal=j2, log=lambda s: None, health_budget=20)
    assert out.resumed
    assert _get(f"http://127.0.0.1:{free_port}/version") == "1.0"
    running = docker_client.api.containers()  # running only
    assert [c["Names"] for c in running] == [["/web"]]
    assert len(docker_client.api.containers(all=True)) == 2  # new + backup; nothing created twice
    recs = j2.read()
    assert rb.pending_plans(recs, "web") == []
    assert _stages(recs).count("create") == (2 if crash_in == "create" else 1)
    assert _stages(recs).count("stop") == 1
    j2.close()


def test_readonly_sends_no_write(dockerd, recording_proxy, free_port, tmp_path):
    _run(dockerd, "web", "2.0", free_port)
    ro = DockerBackend(recording_proxy.host, readonly=True)
    j = Journal.open(tmp_path / "j.jsonl", actor="test@host")
    attempts = [
        lambda: rb.rollback(ro, "web", to_tag="1.0", journal=j),
        lambda: ro.stop("web"),
        lambda: ro.start("web"),
        lambda: ro.rename("web", "x"),
        lambda: ro.remove("web"),
        lambda: ro.create({"Image": dockerd.image("1.0")}, "x"),
        lambda: ro.connect("web", dockerd.network, {}),
        lambda: ro.set_restart_policy("web", {"Name": "no"}),
        lambda: ro.pull("example.org/x:1"),
        lambda: ro.api.stop("web"),  # even the raw SDK session refuses
        lambda: ro.api.create_container(dockerd.image("1.0"), name="sneaky"),
    ]
    for attempt in attempts:
        with pytest.raises(ReadonlyError):
            attempt()
    assert ro.history("web") and ro.ps()  # reads work through the proxy
    assert recording_proxy.requests and all(m in ("GET", "HEAD") for m, _ in recording_proxy.requests)
    assert recording_proxy.writes == []
    # ... and the proxy does see writes when there are any
    rw = DockerBackend(recording_proxy.host)
    rw.set_restart_policy("web", {"Name": "no"})
    assert [m for m, _ in recording_proxy.writes] == ["POST"]
    j.close()
