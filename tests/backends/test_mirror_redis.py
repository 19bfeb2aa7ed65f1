"""The journal's mirror in a real Redis: one stream per incident (entry IDs are the seqs), the
index of open incidents, the seq check that keeps replays out, blocking XREAD for followers,
the readonly client's allowlist (counted at the server), secrets, and a journal mirrored
through the same hook every front end uses."""
from __future__ import annotations

import threading
import time

import pytest

from backends.mirror import install, open_store
from backends.mirror.redis import LAYOUT_VERSION, PREFIX, RedisMirror
from cockpit.errors import ConfigError, NotFoundError, ReadonlyError, UnreachableError
from cockpit.journal import Journal, read_journal
from cockpit.mirror import incident_id
from tests.fixtures.redis import ACL_PASSWORD, free_port

pytestmark = pytest.mark.xdist_group("redis")


def rec(seq: int, type: str = "log", **data) -> dict:
    return {"seq": seq, "ts": f"2026-01-01T00:00:{seq % 60:02d}.000Z", "actor": "alice@bastion", "type": type,
            "v": 1, **data}


def opened(seq: int = 1, target: str = "shop/checkout") -> dict:
    return rec(seq, "incident_opened", target=target, who="alice@bastion", reason="bad release")


def stream_ids(server, incident: str) -> list[bytes]:
    return [entry_id for entry_id, _ in server.client().xrange(PREFIX + "stream:" + incident)]


def test_appends_are_checked_by_seq_ordered_and_fold_into_the_index(redis_server, redis_url):
    store = RedisMirror(redis_url)
    batch = [opened(1), rec(2, "phase", phase="decide"), rec(3)]
    assert store.append("i1", batch, after=0) == 3
    assert store.append("i1", batch, after=0) == 3  # a replay: nothing twice
    assert store.append("i1", [rec(3), rec(4)], after=2) == 4
    assert stream_ids(redis_server, "i1") == [b"1-0", b"2-0", b"3-0", b"4-0"]
    assert store.append("i1", [rec(9)], after=8) == 4  # does not follow what the store has: refused whole
    assert stream_ids(redis_server, "i1") == [b"1-0", b"2-0", b"3-0", b"4-0"]
    assert store.last_seq("i1") == 4 and store.last_seq("nobody") == 0
    assert redis_server.client().get(PREFIX + "version") == str(LAYOUT_VERSION).encode()
    (row,) = store.incidents()
    assert (row.id, row.target, row.who, row.phase, row.open, row.last_seq) == \
        ("i1", "shop/checkout", "alice@bastion", "decide", True, 4)
    store.append("i1", [rec(5, "incident_resolved", summary="ok")], after=4)
    store.append("i2", [opened(1, "shop/cart")], after=0)
    assert [i.id for i in store.incidents(open_only=True)] == ["i2"]
    assert redis_server.client().zrange(PREFIX + "open", 0, -1) == [b"i2"]
    assert {i.id for i in store.incidents()} == {"i1", "i2"}
    done = store.incidents(ids=["i1"])[0]
    assert done.phase == "resolved" and done.resolved is not None and not done.open
    assert [r["seq"] for r in store.records("i1", after=2)] == [3, 4, 5]
    store.close()


def test_a_follower_blocked_on_xread_is_woken_by_the_append(redis_url):
    writer = RedisMirror(redis_url)
    writer.append("live", [opened(1)], after=0)
    reader = RedisMirror(redis_url, readonly=True)
    assert [r["seq"] for r in reader.wait("live", 0, 1.0)] == [1]
    got: list[tuple[float, list[dict]]] = []
    t = threading.Thread(target=lambda: got.append((time.monotonic(), reader.wait("live", 1, 10.0))))
    t.start()
    time.sleep(0.3)
    sent = time.monotonic()
    writer.append("live", [rec(2), rec(3)], after=1)
    t.join(10)
    woke, records = got[0]
    # one blocking XREAD (4 s: the socket timeout less 1 s), no polling: the records prove the
    # wake; the bound says it came at the append, with room for a loaded machine
    assert [r["seq"] for r in records] == [2, 3] and woke - sent < 3.0
    writer.close()
    reader.close()


def test_the_readonly_client_refuses_writes_before_sending(redis_server, redis_url):
    RedisMirror(redis_url).append("i", [opened(1)], after=0)
    server = redis_server.client()
    before = {k: v["calls"] for k, v in server.info("commandstats").items()}
    ro = RedisMirror(redis_url, readonly=True)
    with pytest.raises(ReadonlyError):
        ro.append("i", [rec(2)], after=1)
    with pytest.raises(ReadonlyError):
        ro.heartbeat("i")
    with pytest.raises(ReadonlyError):  # the transport itself: even a command asked for directly
        ro.client.set(PREFIX + "version", "99")
    with pytest.raises(ReadonlyError):
        ro.client.pipeline(transaction=False).xadd(PREFIX + "stream:i", {"r": "{}"}, id="7-0")
    assert [i.id for i in ro.incidents()] == ["i"]  # reads go through
    after = {k: v["calls"] for k, v in server.info("commandstats").items()}
    writes = {"cmdstat_set", "cmdstat_xadd", "cmdstat_evalsha", "cmdstat_eval", "cmdstat_hset", "cmdstat_zadd"}
    assert {k: after.get(k, 0) - before.get(k, 0) for k in writes if after.get(k, 0) != before.get(k, 0)} == {}
    assert server.get(PREFIX + "version") == str(LAYOUT_VERSION).encode() and stream_ids(redis_server, "i") == [b"1-0"]
    ro.close()


def test_an_observer_on_an_empty_redis_is_told_there_is_no_mirror_and_writes_nothing(redis_server, redis_url):
    with pytest.raises(NotFoundError) as err:
        RedisMirror(redis_url, readonly=True).incidents()
    assert "no cockpit mirror" in err.value.message
    assert redis_server.client().dbsize() == 0


def test_secrets_never_shown(redis_server, redis_url):
    url = redis_server.url_with_password()
    store = RedisMirror(url)
    assert ACL_PASSWORD not in store.display and "***" in store.display
    store.append("s", [opened(1)], after=0)
    with pytest.raises(ConfigError) as err:
        RedisMirror(redis_server.url_with_password("wrong-" + ACL_PASSWORD[:4])).last_seq("s")
    assert "rejected the credentials" in err.value.message and "wrong-" not in str(err.value)
    with pytest.raises(UnreachableError) as err:
        RedisMirror(f"redis://:{ACL_PASSWORD}@127.0.0.1:{free_port()}/0").last_seq("s")
    assert ACL_PASSWORD not in str(err.value)
    store.close()


def test_a_journal_is_mirrored_record_for_record_through_the_open_hook(tmp_path, redis_server, redis_url):
    url = redis_server.url_with_password()
    remove = install(url)
    try:
        journal = Journal.open(tmp_path / "20260101T000000Z-shop_checkout.jsonl")
    finally:
        remove()
    journal.append("incident_opened", target="shop/checkout", reason="bad release")
    intent = journal.intent("redis.invalidate", pattern="cart:*", url=url)
    journal.outcome(intent, True)
    journal.append("incident_resolved", summary="rolled back")
    journal.close()
    reader = open_store(redis_url, True)
    mirrored = reader.wait(incident_id(journal.path), 0, 1.0)
    assert mirrored == read_journal(journal.path)
    assert ACL_PASSWORD not in repr(mirrored)
    raw = redis_server.client().xrange(PREFIX + "stream:" + incident_id(journal.path))
    assert all(ACL_PASSWORD.encode() not in fields[b"r"] for _id, fields in raw)
    (row,) = reader.incidents()
    assert row.target == "shop/checkout" and row.phase == "resolved" and not row.open
    assert reader.incidents(open_only=True) == []
    reader.close()


def test_a_full_queue_falls_behind_and_backfills_from_the_file_in_order(tmp_path, redis_server, redis_url):
    """The operator writes faster than the queue holds (capacity 2): the mirror stops queueing,
    reads the rest back from the journal file, and the store ends with every record once."""
    from cockpit.mirror import attach

    journal = Journal.open(tmp_path / "20260101T000000Z-shop_checkout.jsonl")
    mirror = attach(journal, open_store(redis_url, False), capacity=2)
    end = time.monotonic() + 10
    while mirror.status().state != "live":  # connected, nothing to send yet: from here records are queued
        assert time.monotonic() < end
        time.sleep(0.01)
    journal.append("incident_opened", target="shop/checkout")
    for i in range(299):
        journal.append("log", line=f"line {i}")
    assert mirror.wait_caught_up(20), mirror.status()
    assert stream_ids(redis_server, incident_id(journal.path)) == [f"{s}-0".encode() for s in range(1, 301)]
    assert mirror.backfilled > 0 and mirror.sent == 300
    assert mirror.status().state == "live"
    journal.close()
