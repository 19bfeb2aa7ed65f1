"""The journal's mirror in a real PostgreSQL: the migration on first use, idempotent inserts,
the index, LISTEN/NOTIFY for followers, readonly observers, secrets, and a journal mirrored
through the same hook every front end uses."""
from __future__ import annotations

import threading
import time

import psycopg
import pytest

from backends.mirror import build_mirror, install, open_store
from backends.mirror.postgres import SCHEMA_VERSION, PostgresMirror
from cockpit.controllers.incident import Incident
from cockpit.errors import ConfigError, NotFoundError, ReadonlyError, UnreachableError
from cockpit.journal import Journal, read_journal
from cockpit.mirror import StoreFollower, incident_id
from tests.fixtures.postgres import PASSWORD, free_port

pytestmark = pytest.mark.xdist_group("postgres")


def rec(seq: int, type: str = "log", **data) -> dict:
    return {"seq": seq, "ts": f"2026-01-01T00:00:{seq % 60:02d}.000Z", "actor": "alice@bastion", "type": type,
            "v": 1, **data}


def opened(seq: int = 1, target: str = "shop/checkout") -> dict:
    return rec(seq, "incident_opened", target=target, who="alice@bastion", reason="bad release")


def stored(dsn: str, incident: str) -> list[tuple[int, str]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return [(r[0], r[1]) for r in conn.execute(
            "SELECT seq, type FROM cockpit.mirror_records WHERE incident = %s ORDER BY seq", (incident,))]


def test_first_use_creates_the_schema_once_and_records_its_version(pg_db):
    stores = [PostgresMirror(pg_db) for _ in range(4)]
    errors: list[BaseException] = []

    def first_use(store: PostgresMirror) -> None:
        try:
            store.last_seq("x")
        except BaseException as exc:  # noqa: BLE001 — collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=first_use, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with psycopg.connect(pg_db, autocommit=True) as conn:
        rows = conn.execute("SELECT version, applied_by FROM cockpit.mirror_schema").fetchall()
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'cockpit'")}
    assert [r[0] for r in rows] == list(range(1, SCHEMA_VERSION + 1))  # four cockpits, migrated once
    assert rows[0][1].startswith("cockpit@")
    assert {"mirror_schema", "mirror_records", "mirror_incidents"} <= tables
    assert PostgresMirror(pg_db).schema_version() == SCHEMA_VERSION
    for s in stores:
        s.close()


def test_a_newer_schema_is_refused_by_name(pg_db):
    PostgresMirror(pg_db).last_seq("x")
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("INSERT INTO cockpit.mirror_schema (version) VALUES (%s)", (SCHEMA_VERSION + 1,))
    with pytest.raises(ConfigError) as err:
        PostgresMirror(pg_db).last_seq("x")
    assert f"schema version {SCHEMA_VERSION + 1}" in err.value.message and "upgrade" in err.value.hint


def test_appends_are_idempotent_ordered_and_fold_into_the_index(pg_db):
    store = PostgresMirror(pg_db)
    batch = [opened(1), rec(2, "phase", phase="decide"), rec(3)]
    assert store.append("i1", batch, after=0) == 3
    assert store.append("i1", batch, after=0) == 3  # a replay after a lost answer: nothing twice
    assert store.append("i1", [rec(3), rec(4)], after=2) == 4  # overlapping: only 4 is new
    assert stored(pg_db, "i1") == [(1, "incident_opened"), (2, "phase"), (3, "log"), (4, "log")]
    # a batch that does not follow what the store has is refused whole: the mirror backfills
    assert store.append("i1", [rec(9)], after=8) == 4
    assert [s for s, _ in stored(pg_db, "i1")] == [1, 2, 3, 4]
    assert store.last_seq("i1") == 4 and store.last_seq("nobody") == 0
    (row,) = store.incidents()
    assert (row.id, row.target, row.who, row.phase, row.open, row.last_seq) == \
        ("i1", "shop/checkout", "alice@bastion", "decide", True, 4)
    store.append("i1", [rec(5, "incident_resolved", summary="ok")], after=4)
    store.append("i2", [opened(1, "shop/cart")], after=0)
    assert [i.id for i in store.incidents(open_only=True)] == ["i2"]
    resolved = store.incidents(ids=["i1"])[0]
    assert resolved.phase == "resolved" and resolved.resolved is not None and not resolved.open
    assert {i.id for i in store.incidents()} == {"i1", "i2"}
    store.close()


def test_a_follower_listening_is_woken_by_the_notify(pg_db):
    writer = PostgresMirror(pg_db)
    writer.append("live", [opened(1)], after=0)
    reader = PostgresMirror(pg_db, readonly=True)
    assert [r["seq"] for r in reader.wait("live", 0, 1.0)] == [1]
    got: list[tuple[float, list[dict]]] = []
    t = threading.Thread(target=lambda: got.append((time.monotonic(), reader.wait("live", 1, 10.0))))
    t.start()
    time.sleep(0.3)  # the reader is waiting on LISTEN (nothing after seq 1 yet)
    sent = time.monotonic()
    writer.append("other", [opened(1)], after=0)  # another incident's notify does not end the wait
    writer.append("live", [rec(2), rec(3)], after=1)
    t.join(10)
    woke, records = got[0]
    # wait() never polls (no notify: [] at its timeout), so the records themselves prove the
    # wake; the bound, far under the 10 s wait, says it came with the notify, loaded machine or not
    assert [r["seq"] for r in records] == [2, 3] and woke - sent < 3.0
    writer.close()
    reader.close()


def test_readonly_refuses_writes_before_connecting_and_never_migrates(pg_db, postgres_server):
    closed = f"postgresql://cockpit_pw:{PASSWORD}@127.0.0.1:{free_port()}/x"
    ro = PostgresMirror(closed, readonly=True)
    with pytest.raises(ReadonlyError):
        ro.append("i", [opened(1)], after=0)  # not "unreachable": refused before any connection
    with pytest.raises(ReadonlyError):
        ro.heartbeat("i")
    fresh = PostgresMirror(pg_db, readonly=True)
    with pytest.raises(NotFoundError) as err:
        fresh.incidents()
    assert "no cockpit mirror" in err.value.message
    with psycopg.connect(pg_db, autocommit=True) as conn:  # the observer created nothing
        assert conn.execute("SELECT to_regnamespace('cockpit')").fetchone()[0] is None
    PostgresMirror(pg_db).append("i", [opened(1)], after=0)
    reader = PostgresMirror(pg_db, readonly=True)
    assert [i.id for i in reader.incidents()] == ["i"]
    reader.close()


def test_secrets_never_shown(postgres_server, pg_password_dsn):
    store = PostgresMirror(pg_password_dsn)
    assert PASSWORD not in store.display and "***" in store.display
    wrong = pg_password_dsn.replace(PASSWORD, "not-the-" + PASSWORD[:6] + "xx")
    with pytest.raises(ConfigError) as err:
        PostgresMirror(wrong).last_seq("x")
    assert "rejected the credentials" in err.value.message and "not-the-" not in err.value.message
    gone = PostgresMirror(f"postgresql://u:{PASSWORD}@127.0.0.1:{free_port()}/db")
    with pytest.raises(UnreachableError) as err:
        gone.last_seq("x")
    assert PASSWORD not in str(err.value)
    store.close()


def test_a_journal_is_mirrored_record_for_record_through_the_open_hook(tmp_path, pg_password_dsn):
    remove = install(pg_password_dsn)
    try:
        journal = Journal.open(tmp_path / "20260101T000000Z-shop_checkout.jsonl")
    finally:
        remove()
    journal.append("incident_opened", target="shop/checkout", reason="bad release")
    intent = journal.intent("kubernetes.rollback", target="shop/checkout", dsn=pg_password_dsn)
    journal.outcome(intent, True)
    journal.append("phase", phase="verify")
    journal.close()  # waits for the mirror
    reader = open_store(pg_password_dsn, True)
    mirrored = reader.wait(incident_id(journal.path), 0, 1.0)
    assert mirrored == read_journal(journal.path)  # the same records, in order, redacted as in the file
    assert PASSWORD not in repr(mirrored)
    with psycopg.connect(pg_password_dsn, autocommit=True) as conn:
        dump = conn.execute("SELECT string_agg(record::text, '') FROM cockpit.mirror_records").fetchone()[0]
    assert PASSWORD not in dump
    (row,) = reader.incidents()
    assert row.target == "shop/checkout" and row.phase == "verify" and row.last_seq == 4
    reader.close()


def test_a_readonly_journal_or_session_is_not_mirrored(tmp_path, pg_db):
    path = tmp_path / "20260101T000000Z-x.jsonl"
    with Journal.open(path) as j:
        j.append("incident_opened", target="shop/x")
    assert build_mirror(pg_url(pg_db), Journal.open(path, readonly=True), False) is None
    assert build_mirror(pg_url(pg_db), Journal.open(path), True) is None


def test_an_observer_follows_the_incident_from_the_store_and_says_how_far_behind(tmp_path, pg_db):
    """The observer's controller on another host: the open incidents at the URL, the one there
    followed through the same burst/drain as a journal file, and its lag on the status line."""
    from screens.data import UIData

    journal = Journal.open(tmp_path / "20260101T000000Z-shop_checkout.jsonl")
    mirror = build_mirror(pg_url(pg_db), journal, False)
    journal.append("incident_opened", target="shop/checkout", reason="bad release")
    journal.append("phase", phase="identify")
    assert mirror.wait_caught_up(10)

    host = Host()
    data = UIData(readonly=True)
    inc = Incident(host, data, open_store=open_store)
    try:
        inc.start(follow=pg_url(pg_db), journal=None, offer=lambda *a: None)
        assert isinstance(inc.store_follower, StoreFollower)
        assert data.observer_of and incident_id(journal.path) in data.observer_of

        def folded(n: int) -> None:
            end = time.monotonic() + 10
            while len(data.records) < n:
                assert time.monotonic() < end, f"{len(data.records)} folded, expected {n}"
                inc.drain()
                time.sleep(0.02)

        folded(2)
        assert data.state.target == "shop/checkout" and data.state.phase == "identify"
        journal.append("phase", phase="execute")
        folded(3)
        assert data.state.phase == "execute"
        inc.mirror_tick()
        assert data.mirror_line.startswith("following the mirror: record 3") and "after the operator" in data.mirror_line
    finally:
        inc.stop()
        journal.close()


def pg_url(dsn: str) -> str:
    """The fixture's ``host=/tmp/x port=5 dbname=d user=u`` as a URL (``--follow`` takes URLs)."""
    kv = dict(part.split("=", 1) for part in dsn.split())
    return f"postgresql://{kv['user']}@/{kv['dbname']}?host={kv['host']}&port={kv['port']}"


class Host:
    """The controller's host, inline: fetches run at once; the rest is recorded."""

    def __init__(self) -> None:
        self.marked: set[str] = set()
        self.toasts: list[tuple[str, str]] = []

    def mark(self, *parts: str) -> None:
        self.marked.update(parts)

    def notify(self, message: str, *, severity: str = "information", timeout: float | None = None) -> None:
        self.toasts.append((severity, message))

    def fetch(self, group, fn, deliver, failed=None) -> None:
        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001
            (failed or (lambda e: self.toasts.append(("error", str(e)))))(exc)
            return
        deliver(result)

    def set_timer(self, delay, fn) -> None:
        pass

    def call_from_thread(self, fn, *args):
        return fn(*args)

    def incident_arrived(self) -> None:
        pass
