"""The data-layer controller against a real redis-server (tests/fixtures/redis.py) and a real
journal: the Redis invalidation is write-ahead — the fsynced ``redis.invalidate`` intent is in
the journal before a single key is deleted, its outcome after; a refused or cancelled
invalidation still gets its outcome; readonly journals and deletes nothing; the dry run and
the panel's log. (The PostgreSQL snapshot is covered by tests/ui/test_data_postgres.py.)"""
from __future__ import annotations

import os
import threading

import pytest

from backends.redis.client import RedisBackend
from cockpit.compose import DataBackends
from cockpit.controllers.data_layer import DataLayer
from cockpit.controllers.incident import Incident
from cockpit.errors import CockpitError, ReadonlyError
from cockpit.journal import read_journal
from cockpit.model import Target
from cockpit.session import Session
from screens.data import UIData
from tests.unit.test_controllers import InlineHost

pytestmark = pytest.mark.xdist_group("redis")
TARGET = Target("checkout", "shop")


@pytest.fixture(autouse=True)
def lock_dir(tmp_path, monkeypatch):
    """The host-wide lock file (no Lease without a cluster) in this test's own directory."""
    monkeypatch.setenv("COCKPIT_LOCK_DIR", str(tmp_path / "locks"))


@pytest.fixture
def seeded(redis_server, redis_url):
    c = redis_server.client()
    c.mset({f"moshimoshi:{i}": "x" for i in range(300)})
    c.mset({f"keep:{i}": "y" for i in range(40)})
    return redis_server


def layer(tmp_path, url: str, *, readonly: bool = False, **kw):
    host, data = InlineHost(), UIData(readonly=readonly)
    data.target = TARGET
    session = Session(backend=None, readonly=readonly, journal_path=tmp_path / "incident.jsonl")
    incident = Incident(host, data, session)
    dl = DataLayer(host, data, incident, DataBackends(redis=RedisBackend(url, readonly=readonly, **kw)))
    return dl, host, data, session


def test_the_intent_is_journaled_before_any_key_is_deleted_and_the_outcome_after(seeded, tmp_path, monkeypatch):
    dl, host, data, session = layer(tmp_path, seeded.url)
    synced: list[int] = []  # the journal's size at each fsync (spied: the real fsync runs)
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        if session.journal_path.exists():
            synced.append(session.journal_path.stat().st_size)

    monkeypatch.setattr(os, "fsync", fsync)
    seen = []

    def progress(p):
        if not seen:  # the first progress comes before the first UNLINK
            recs = read_journal(session.journal_path)
            seen.append(([r["type"] for r in recs], seeded.client().dbsize(), session.journal_path.stat().st_size))

    try:
        last = dl.invalidate_now("moshimoshi:*", None, progress, target=TARGET)
        types, dbsize, size = seen[0]
        assert types == ["incident_opened", "phase", "intent"] and dbsize == 340  # the intent, then the deletion
        assert synced and max(s for s in synced if s <= size) == size  # ... and the intent was fsynced then
        assert last.deleted == 300 and seeded.client().dbsize() == 40
        recs = read_journal(session.journal_path)
        intent, outcome = recs[2], recs[3]
        assert intent["action"] == "redis.invalidate" and intent["pattern"] == "moshimoshi:*"
        assert intent["server"] == f"127.0.0.1:{seeded.port}" and intent["db"] == 0
        assert outcome["type"] == "outcome" and outcome["id"] == intent["id"] and outcome["ok"] is True
        assert outcome["deleted"] == 300 and outcome["remaining"] == 0 and outcome["dbsize_before"] == 340
        assert recs[0]["target"] == "shop/checkout"  # the operator acted: the incident of the target on screen
    finally:
        dl.incident.stop()
        session.close()


def test_a_refused_deletion_still_has_its_outcome_and_nothing_is_gone(seeded, tmp_path):
    seeded.client().execute_command("ACL", "SETUSER", "cockpit_nodel", "on", ">n0-del3te", "~*", "&*", "+@all",
                                    "-unlink", "-del")
    url = f"redis://cockpit_nodel:n0-del3te@127.0.0.1:{seeded.port}/0"
    dl, host, data, session = layer(tmp_path, url)
    try:
        with pytest.raises(CockpitError):
            dl.invalidate_now("moshimoshi:*", None, lambda p: None, target=TARGET)
        recs = read_journal(session.journal_path)
        assert [r["type"] for r in recs][-2:] == ["intent", "outcome"]
        assert recs[-1]["ok"] is False and recs[-1]["deleted"] == 0 and recs[-1]["error_message"]
        assert seeded.client().dbsize() == 340
        assert "n0-del3te" not in session.journal_path.read_text()
    finally:
        dl.incident.stop()
        session.close()


def test_a_cancelled_invalidation_says_how_far_it_got(seeded, tmp_path):
    dl, host, data, session = layer(tmp_path, seeded.url)
    cancel = threading.Event()
    try:
        with pytest.raises(CockpitError) as err:
            dl.invalidate_now("moshimoshi:*", cancel, lambda p: cancel.set(), target=TARGET)
        assert "cancelled" in err.value.message
        outcome = read_journal(session.journal_path)[-1]
        assert outcome["type"] == "outcome" and outcome["ok"] is False and outcome["deleted"] == 0
        assert seeded.client().dbsize() == 340
    finally:
        dl.incident.stop()
        session.close()


def test_readonly_journals_and_deletes_nothing(seeded, tmp_path):
    dl, host, data, session = layer(tmp_path, seeded.url, readonly=True)
    with pytest.raises(ReadonlyError):
        dl.invalidate_now("moshimoshi:*", None, lambda p: None, target=TARGET)
    dl.invalidate("moshimoshi:*")  # the panel's path: not even started
    assert not data.redis_running and not host.errors
    assert not session.journal_path.exists() and seeded.client().dbsize() == 340


def test_the_panels_dry_run_and_invalidation(seeded, tmp_path):
    dl, host, data, session = layer(tmp_path, seeded.url)
    try:
        assert dl.show_stores() == {} and data.redis_server == f"127.0.0.1:{seeded.port}" and data.redis_db == 0
        dl.count("moshimoshi:*")
        assert data.redis_count.matched == 300 and seeded.client().dbsize() == 340 and not session.journal_path.exists()
        assert data.redis_log[-1].endswith("dry run: 300 of 340 keys match")
        dl.invalidate("moshimoshi:*")
        assert not host.errors and not data.redis_running and data.redis_progress.done
        assert data.redis_progress.deleted == 300 and "0 still matching" in data.redis_log[-1]
        assert {"redis"} <= host.marked and seeded.client().dbsize() == 40
    finally:
        dl.incident.stop()
        session.close()


def test_no_redis_configured(tmp_path):
    host, data = InlineHost(), UIData()
    session = Session(backend=None, journal_path=tmp_path / "incident.jsonl")
    dl = DataLayer(host, data, Incident(host, data, session), DataBackends(errors={"redis": "Bad URL: no scheme"}))
    assert dl.show_stores() == {"redis": "Bad URL: no scheme"} and data.data_redis is None
    dl.count("x:*")
    assert data.redis_count is None and not data.redis_log
    with pytest.raises(CockpitError) as err:
        dl.invalidate_now("x:*", None, lambda p: None, target=TARGET)
    assert err.value.title == "No Redis" and not session.journal_path.exists()
    snap = dl.snapshot()
    assert snap.migrations == () and snap.errors == {}
