"""Memcached against a real ``memcached`` started by the suite: stats, the guarded flush_all
(the CLI as an operator runs it, the backend, the step with its crash reconcile), readonly
refusing before anything is sent, and bad input as one line."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pymemcache.client.base import Client

from backends.memcached.client import ConfirmationMismatch, MemcachedBackend, parse_server
from cockpit.errors import ConfigError, ReadonlyError, UnreachableError
from cockpit.journal import Journal, read_journal


def fill(server, n: int = 50) -> Client:
    c = Client(("127.0.0.1", server.port))
    for i in range(n):
        c.set(f"sess:{i}", b"x" * 10, noreply=False)  # stored before the test looks
    return c


def flushes(server) -> int:
    return int(Client(("127.0.0.1", server.port)).stats()[b"cmd_flush"])


def cockpit(*args: str, env_extra: dict | None = None, input_text: str | None = None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, timeout=60,
                          env=env, input=input_text)


def test_stats_and_a_guarded_flush_that_is_verified(memcached_server):
    c = fill(memcached_server)
    b = MemcachedBackend(memcached_server.address)
    s = b.stats()
    assert s.items == 50 and s.cmd_flush == 0 and s.version
    with pytest.raises(ConfirmationMismatch, match="you typed"):
        b.flush(confirm="127.0.0.1:1")
    assert flushes(memcached_server) == 0 and c.get("sess:1") == b"x" * 10  # nothing sent on a wrong guard
    r = b.flush(confirm=memcached_server.address)
    assert r.verified and r.items_before == 50 and r.cmd_flush_after == r.cmd_flush_before + 1
    assert c.get("sess:1") is None and flushes(memcached_server) == 1
    b.close()


def test_readonly_refuses_before_connecting(memcached_server):
    fill(memcached_server)
    with pytest.raises(ReadonlyError, match="nothing was sent"):
        MemcachedBackend(memcached_server.address, readonly=True).flush(confirm=memcached_server.address)
    p = cockpit("--readonly", "memcached", "flush", "--server", memcached_server.address, "--confirm", memcached_server.address)
    assert p.returncode == 5 and "readonly" in p.stderr and "Traceback" not in p.stderr
    assert flushes(memcached_server) == 0


def test_the_cli_flush_is_journaled_write_ahead_and_asks_the_server_name(memcached_server, tmp_path):
    c = fill(memcached_server, 20)
    journal = tmp_path / "j.jsonl"
    wrong = cockpit("memcached", "flush", "--server", memcached_server.address, "--confirm", "cache:11211",
                    "--journal", str(journal))
    assert wrong.returncode == 6 and "Confirmation mismatch" in wrong.stderr and not journal.exists()
    no_tty = cockpit("memcached", "flush", "--server", memcached_server.address)  # no --confirm, no terminal
    assert no_tty.returncode == 130 and f"pass --confirm {memcached_server.address}" in no_tty.stderr
    assert flushes(memcached_server) == 0 and c.get("sess:3") is not None
    ok = cockpit("memcached", "flush", "--server", memcached_server.address, "--confirm", memcached_server.address,
                 "--journal", str(journal), "-o", "json")
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert out["verified"] is True and out["items_before"] == 20 and out["flushes_after"] == 1
    types = [r["type"] for r in read_journal(journal)]
    assert types == ["intent", "outcome"]
    assert read_journal(journal)[0]["cmd_flush_before"] == 0
    stats = cockpit("memcached", "stats", "--server", memcached_server.address, "-o", "json")
    assert json.loads(stats.stdout)["cmd_flush"] == 1


def test_bad_input_is_one_line(memcached_server):
    for bad in ("", "cache:notaport", ":11211", "cache:70000"):
        with pytest.raises(ConfigError):
            parse_server(bad)
    assert parse_server("cache.internal") == ("cache.internal", 11211)
    p = cockpit("memcached", "stats", "--server", "cache:notaport")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "HOST:PORT" in p.stderr
    with pytest.raises(UnreachableError, match="did not answer"):
        MemcachedBackend("127.0.0.1:9", timeout=1).stats()
    gone = cockpit("memcached", "stats", "--server", "127.0.0.1:9")
    assert gone.returncode == 4 and "Traceback" not in gone.stderr


def test_the_step_reconciles_a_flush_that_happened_before_the_crash(memcached_server, tmp_path):
    """The intent was fsynced with the server's flush count, the flush went out, then the
    process died before the outcome: resume sees the count grown and does not flush again."""
    from cockpit.compose import load_step_kinds
    from cockpit.executor import Executor
    from cockpit.runbook import load_runbook
    from cockpit.steps import StepContext

    load_step_kinds()
    rb = tmp_path / "rb.yaml"
    rb.write_text(f"""name: flush the cache
target: {{kind: deployment, namespace: shop, name: checkout}}
steps:
  - kind: memcached.flush
    params: {{server: "{memcached_server.address}", confirm: "{memcached_server.address}"}}
""")
    runbook = load_runbook(rb)
    j = Journal.open(tmp_path / "j.jsonl")
    j.append("incident_opened", target="shop/checkout", kind="deployment", reason="test")
    j.append("run_started", runbook="flush the cache", from_step=0, resume=False)
    j.append("step_started", index=0, kind="memcached.flush", name="flush", budget=60, mutating=True)
    j.intent("memcached.flush", step=0, name="flush", params={"server": memcached_server.address,
                                                              "confirm": memcached_server.address},
             cmd_flush_before=flushes(memcached_server))
    MemcachedBackend(memcached_server.address).flush(confirm=memcached_server.address)  # it went out; then the crash
    c = fill(memcached_server, 5)  # the service re-caches meanwhile
    result = Executor(runbook, j, StepContext(backends={}, log=lambda line: None)).resume()
    assert result.ok and flushes(memcached_server) == 1  # reconciled, not flushed twice
    assert c.get("sess:2") is not None
    j.close()
