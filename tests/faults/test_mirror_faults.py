"""The mirror's faults, on real servers stopped and started on cue: a store unreachable when the
session starts, one that dies mid-incident and comes back (PostgreSQL with its data, Redis
empty), and one that accepts connections but never answers. In each the operator's appends
stay fast, the status says "mirror behind since T (N records)", and once the store answers
the records are backfilled from the journal file in order, each exactly once."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backends.mirror import build_mirror, open_store
from cockpit.journal import Journal, read_journal
from cockpit.mirror import incident_id
from tests.fixtures.restartable import RestartablePostgres, RestartableRedis

APPEND_BUDGET_S = 1.0
"""The slowest append allowed while the store is down or silent. An append takes about a
millisecond here (fsynced: ~1 ms; bench/mirror.py measures the p99 with and without the
mirror); the bound only has to tell "never waited for the store" — whose connect timeout is
3 s and statement timeout 5 s — from scheduling and fsync noise on a loaded 2-core CI machine."""


@pytest.fixture(params=["postgres", "redis"])
def store_server(request):
    server = RestartablePostgres() if request.param == "postgres" else RestartableRedis()
    try:
        yield server
    finally:
        server.close()


def mirrored(url: str, incident: str) -> list[dict]:
    """Every record the store has for ``incident``, read as an observer does."""
    reader = open_store(url, True)
    try:
        out: list[dict] = []
        while True:
            page = reader.wait(incident, out[-1]["seq"] if out else 0, 0.2)
            if not page:
                return out
            out += page
    finally:
        reader.close()


def wait_until(cond, what: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def timed_appends(journal: Journal, n: int, start: int = 0) -> float:
    """Append ``n`` records (every fifth an fsynced intent); the slowest append in seconds."""
    worst = 0.0
    for i in range(n):
        t0 = time.perf_counter()
        if i % 5 == 0:
            journal.intent("exec", argv=["true"], n=start + i)
        else:
            journal.append("log", line=f"line {start + i}")
        worst = max(worst, time.perf_counter() - t0)
    return worst


def test_unreachable_at_start_the_session_goes_on_and_backfills_later(tmp_path, store_server):
    notes: list[str] = []
    journal = Journal.open(tmp_path / "20260101T000000Z-shop_checkout.jsonl")
    mirror = build_mirror(store_server.url, journal, False, warn=notes.append)
    journal.append("incident_opened", target="shop/checkout", reason="bad release")
    worst = timed_appends(journal, 9)
    assert worst < APPEND_BUDGET_S
    wait_until(lambda: mirror.status().state == "behind" and mirror.status().pending == 10, "behind, 10 records")
    line = mirror.status().line()
    assert line.startswith("mirror behind since ") and line.endswith("(10 records)")
    assert any("unreachable" in n and "goes on in the journal" in n for n in notes)
    store_server.start()
    assert mirror.wait_caught_up(30), mirror.status()
    assert mirrored(store_server.url, incident_id(journal.path)) == read_journal(journal.path)
    assert mirror.status().line() == "" and mirror.backfilled == 10 and mirror.sent == 10
    assert any("caught up" in n for n in notes)
    journal.append("phase", phase="identify")  # live again
    assert mirror.wait_caught_up(10)
    assert [r["seq"] for r in mirrored(store_server.url, incident_id(journal.path))] == list(range(1, 12))
    journal.close()


def test_a_store_that_dies_mid_incident_is_backfilled_in_order_without_duplicates(tmp_path, store_server):
    store_server.start()
    notes: list[str] = []
    journal = Journal.open(tmp_path / "20260101T000000Z-shop_checkout.jsonl")
    mirror = build_mirror(store_server.url, journal, False, warn=notes.append)
    journal.append("incident_opened", target="shop/checkout", reason="bad release")
    timed_appends(journal, 19)
    assert mirror.wait_caught_up(10)
    incident = incident_id(journal.path)
    assert len(mirrored(store_server.url, incident)) == 20

    backfilled = mirror.backfilled
    store_server.stop()
    worst = timed_appends(journal, 30, start=20)
    assert worst < APPEND_BUDGET_S  # the session goes on at full speed
    wait_until(lambda: mirror.status().state == "behind" and mirror.status().pending == 30, "behind, 30 records")
    assert mirror.status().line().endswith("(30 records)")

    store_server.start()  # PostgreSQL comes back with its 20 records; Redis comes back empty
    assert mirror.wait_caught_up(30), mirror.status()
    records = mirrored(store_server.url, incident)
    assert [r["seq"] for r in records] == list(range(1, 51))  # in order, each once
    assert records == read_journal(journal.path)
    expected = 30 if isinstance(store_server, RestartablePostgres) else 50
    assert mirror.backfilled - backfilled == expected
    journal.close()


def test_a_silent_store_never_slows_the_operator(tmp_path):
    """A store that accepts the connection and never answers: the mirror's thread waits out its
    timeouts; the operator's appends do not."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        for url in (f"postgresql://u:pw@127.0.0.1:{port}/db", f"redis://127.0.0.1:{port}/0"):
            journal = Journal.open(tmp_path / f"20260101T000000Z-{url[:5]}.jsonl")
            mirror = build_mirror(url, journal, False, flush_s=0.2)
            journal.append("incident_opened", target="shop/checkout")
            worst = timed_appends(journal, 200)
            assert worst < APPEND_BUDGET_S
            assert mirror.status().pending == 201
            t0 = time.monotonic()
            journal.close()  # gives the mirror its flush time, not the store's timeouts
            assert time.monotonic() - t0 < 5


def test_a_headless_command_with_the_store_down_finishes_and_push_sends_the_rest(tmp_path):
    """A headless rollback goes on without the store (the mirror from ``COCKPIT_JOURNAL__MIRROR``)
    and says what was not sent; ``cockpit incidents --push`` sends it once the store answers,
    and a second push sends nothing."""
    from cockpit.world.world import World

    server = RestartableRedis()
    try:
        journal = tmp_path / "20260101T000000Z-shop_checkout.jsonl"
        env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "COCKPIT_JOURNAL__MIRROR": server.url,
               "COCKPIT_JOURNAL__MIRROR_FLUSH_S": "0.5"}
        runbook = tmp_path / "rb.yaml"
        runbook.write_text("name: checkout rollback\ntarget: {kind: deployment, namespace: shop, name: checkout}\n"
                           "steps:\n  - kind: kubernetes.rollback\n    params: {to_revision: 0, timeout: 60}\n")
        with World("bad-image", speed=60.0) as world:
            kc = str(world.write_kubeconfig(tmp_path / "kc"))
            out = subprocess.run([sys.executable, "-m", "cockpit", "run", str(runbook), "--kubeconfig", kc,
                                  "--journal", str(journal)], capture_output=True, text=True, timeout=180, env=env)
        assert out.returncode == 0, out.stderr
        assert "unreachable" in out.stderr and "not sent" in out.stderr and str(journal) in out.stderr
        assert "Traceback" not in out.stderr
        server.start()
        push = [sys.executable, "-m", "cockpit", "incidents", "--push", str(journal)]
        first = subprocess.run(push, capture_output=True, text=True, timeout=60, env=env)
        assert first.returncode == 0, first.stderr
        n = len(read_journal(journal))
        assert f"{n} records sent" in first.stdout
        again = subprocess.run(push, capture_output=True, text=True, timeout=60, env=env)
        assert again.returncode == 0 and "0 records sent" in again.stdout
        assert mirrored(server.url, incident_id(journal)) == read_journal(journal)
        listed = subprocess.run([sys.executable, "-m", "cockpit", "incidents"], capture_output=True, text=True,
                                timeout=60, env=env)
        assert listed.returncode == 0 and "shop/checkout" in listed.stdout and "open" in listed.stdout, listed.stderr
    finally:
        server.close()


def test_the_process_is_not_held_by_its_mirror(tmp_path):
    """A killed session leaves its journal; the next session that opens it writable sends the
    tail the store lacks (resume keeps mirroring into the same incident)."""
    server = RestartableRedis()
    server.start()
    try:
        path = tmp_path / "20260101T000000Z-shop_checkout.jsonl"
        code = (f"import time\nfrom backends.mirror import build_mirror\nfrom cockpit.journal import Journal\n"
                f"j = Journal.open({str(path)!r})\nm = build_mirror({server.url!r}, j, False)\n"
                f"j.append('incident_opened', target='shop/checkout')\nm.wait_caught_up(10)\n"
                f"print('ready', flush=True)\ntime.sleep(60)\n")
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                                 cwd=Path(__file__).resolve().parents[2])
        assert child.stdout.readline().strip() == "ready"
        server.stop()
        with open(path, "a") as fh:  # what the killed session wrote after the store went away
            fh.write('{"seq": 2, "ts": "2026-01-01T00:00:02.000Z", "actor": "a@b", "type": "phase", "v": 1, '
                     '"phase": "identify"}\n')
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        server.start()  # empty again (no persistence): everything is the journal's
        journal = Journal.open(path)
        mirror = build_mirror(server.url, journal, False)
        assert mirror.wait_caught_up(20)
        assert mirrored(server.url, incident_id(path)) == read_journal(path)
        journal.close()
    finally:
        server.close()
