"""The Redis backend against a real redis-server started by the suite."""
from __future__ import annotations

import threading

import pytest

from backends.redis.client import AuthenticationError, ConfirmationMismatch, RedisBackend
from cockpit.errors import Aborted, ConfigError, ReadonlyError, UnreachableError
from tests.fixtures.redis import ACL_PASSWORD, free_port

pytestmark = pytest.mark.xdist_group("redis")


def seed(client, prefix: str, n: int, *, db_chunk: int = 5000) -> None:
    for start in range(0, n, db_chunk):
        client.mset({f"{prefix}{i}": b"v" for i in range(start, min(n, start + db_chunk))})


@pytest.mark.parametrize("transport", ["fast", "redis-py"])
def test_invalidate_deletes_only_matching_keys_and_streams_progress(redis_server, redis_url, transport):
    r = redis_server.client()
    seed(r, "moshimoshi:", 3000)
    seed(r, "keep:", 2000)
    r.set("moshimoshi", "no colon: must survive")
    backend = RedisBackend(redis_url, scan_count=500, max_batch=300, transport=transport)
    items = list(backend.invalidate("moshimoshi:*"))
    assert items[0].deleted == 0 and not items[0].done
    assert len(items) > 3, "progress must stream per SCAN call"
    deleted = [i.deleted for i in items]
    assert deleted == sorted(deleted)
    final = items[-1]
    assert final.done and final.deleted == 3000 and final.remaining == 0
    assert final.dbsize_before == 5001 and final.dbsize_after == 2001
    assert r.dbsize() == 2001
    assert r.get("moshimoshi") == b"no colon: must survive"
    assert r.exists("keep:0", "keep:1999") == 2
    assert final.rate > 0


def test_dry_run_counts_and_deletes_nothing(redis_server, redis_url):
    r = redis_server.client()
    seed(r, "sess:", 1234)
    seed(r, "other:", 10)
    backend = RedisBackend(redis_url)
    result = backend.count("sess:*")
    assert result.matched == 1234 and result.dbsize == 1244
    assert len(result.sample) == 5 and all(s.startswith("sess:") for s in result.sample)
    final = list(backend.invalidate("sess:*", dry_run=True))[-1]
    assert final.dry_run and final.matched == 1234 and final.deleted == 0
    assert r.dbsize() == 1244


def test_pattern_glob_semantics_are_the_servers(redis_server, redis_url):
    r = redis_server.client()
    r.mset({"user:1:session": 1, "user:22:session": 1, "user:1:profile": 1, "user:[x]": 1})
    backend = RedisBackend(redis_url)
    assert backend.invalidate_all("user:?:session").deleted == 1
    assert backend.invalidate_all("user:\\[x\\]").deleted == 1
    assert sorted(r.keys("*")) == [b"user:1:profile", b"user:22:session"]


def test_hostile_key_names_are_sanitized_in_samples(redis_server, redis_url):
    r = redis_server.client()
    r.set(b"evil:\x1b[31mred\x1b]0;title\x07\xe2\x80\xae\x9b", 1)
    result = RedisBackend(redis_url).count("evil:*")
    assert result.matched == 1
    (name,) = result.sample
    assert "\x1b" not in name and "\u202e" not in name and "\x07" not in name
    assert name.startswith("evil:") and "red" in name
    r.set(b"evil:\x00bin\r\n\xff", 1)
    assert RedisBackend(redis_url).invalidate_all("evil:*").deleted == 2  # binary-safe packing
    assert r.dbsize() == 0


def test_readonly_refuses_every_write_before_sending(redis_server, redis_url):
    r = redis_server.client()
    seed(r, "moshimoshi:", 50)
    ro = RedisBackend(redis_url, readonly=True)
    with pytest.raises(ReadonlyError):
        list(ro.invalidate("moshimoshi:*"))
    with pytest.raises(ReadonlyError):
        ro.flush(confirm=ro.target)
    with pytest.raises(ReadonlyError):
        ro.flush(confirm=ro.server, scope="all")
    for cmd in ("UNLINK", "DEL", "FLUSHDB", "FLUSHALL", "SET", "unlink", "EVAL", "CONFIG"):
        with pytest.raises(ReadonlyError):
            ro.execute(cmd, "moshimoshi:1")
    with pytest.raises(ReadonlyError):
        ro.execute("CLIENT", "KILL", "ID", "1")
    with pytest.raises(ReadonlyError):
        ro.execute("MEMORY", "PURGE")
    assert ro.execute("CLIENT", "GETNAME") == b"cockpit"
    assert r.dbsize() == 50
    # reads still work, and a dry run is a read
    assert ro.count("moshimoshi:*").matched == 50
    # "before anything is sent": against a port where nothing listens, readonly still says readonly
    dead = RedisBackend(f"redis://127.0.0.1:{free_port()}/0", readonly=True, connect_timeout=0.5)
    with pytest.raises(ReadonlyError):
        list(dead.invalidate("x:*"))
    with pytest.raises(ReadonlyError):
        dead.flush(confirm=dead.target)


def test_flush_needs_the_exact_target_and_reports_dbsize(redis_server, redis_url):
    r = redis_server.client()
    seed(r, "a:", 100)
    r1 = redis_server.client(db=1)
    seed(r1, "b:", 7)
    backend = RedisBackend(redis_url)
    assert backend.target == f"127.0.0.1:{redis_server.port}/0"
    with pytest.raises(ConfirmationMismatch):
        backend.flush(confirm="127.0.0.1")
    with pytest.raises(ConfirmationMismatch):
        backend.flush(confirm=backend.server)  # names the server, not the database
    assert r.dbsize() == 100
    result = backend.flush(confirm=backend.target)
    assert (result.dbsize_before, result.dbsize_after, result.scope) == (100, 0, "db")
    assert r1.dbsize() == 7, "FLUSHDB must not touch other databases"
    with pytest.raises(ConfirmationMismatch):
        backend.flush(confirm=backend.target, scope="all")
    result = backend.flush(confirm=backend.server, scope="all")
    assert result.scope == "all" and r1.dbsize() == 0


def test_connections_are_named_cockpit(redis_server, redis_url):
    backend = RedisBackend(redis_url)
    assert backend.client_name() == "cockpit"
    list(backend.invalidate("none:*"))
    assert RedisBackend(redis_url, transport="redis-py").client_name() == "cockpit"
    clients = redis_server.client().client_list()
    assert any(c["name"] == "cockpit" for c in clients)


def test_cancel_stops_between_batches(redis_server, redis_url):
    r = redis_server.client()
    seed(r, "k:", 5000)
    cancel = threading.Event()
    backend = RedisBackend(redis_url, scan_count=100)
    gen = backend.invalidate("k:*", cancel=cancel)
    next(gen)
    next(gen)
    cancel.set()
    with pytest.raises(Aborted):
        list(gen)
    left = r.dbsize()
    assert 0 < left < 5000
    # the connection went back usable
    assert backend.ping()


def test_unreachable_and_bad_urls_are_clear_errors():
    port = free_port()
    with pytest.raises(UnreachableError) as exc:
        RedisBackend(f"redis://:hunter2pw@127.0.0.1:{port}/0", connect_timeout=0.5).dbsize()
    assert "hunter2pw" not in str(exc.value)
    for bad in ("http://x:1/0", "redis://host/notanumber", "", "redis://h:99999999/0"):
        with pytest.raises(ConfigError):
            RedisBackend(bad).dbsize()


@pytest.mark.parametrize("transport", ["fast", "redis-py"])
def test_password_never_in_display_or_errors(redis_server, redis_url, transport):
    good = RedisBackend(redis_server.url_with_password(), transport=transport)
    assert ACL_PASSWORD not in good.display_url and "***" in good.display_url
    assert good.ping() and good.client_name() == "cockpit"
    bad = RedisBackend(redis_server.url_with_password("wrong-" + ACL_PASSWORD), transport=transport)
    with pytest.raises(AuthenticationError) as exc:
        bad.dbsize()
    assert ACL_PASSWORD not in str(exc.value)
    bare = RedisBackend(f"redis://:{ACL_PASSWORD}@127.0.0.1:1/0")
    assert ACL_PASSWORD not in bare.display_url


@pytest.mark.parametrize("transport", ["fast", "redis-py"])
def test_unix_socket_url_and_other_database(redis_server, redis_url, transport):
    r2 = redis_server.client(db=2)
    seed(r2, "moshimoshi:", 120)
    r0 = redis_server.client()
    seed(r0, "moshimoshi:", 10)
    url = redis_server.unix_url.replace("db=0", "db=2")
    backend = RedisBackend(url, transport=transport)
    assert backend.target.endswith("redis.sock/2")
    final = backend.invalidate_all("moshimoshi:*")
    assert final.deleted == 120 and r2.dbsize() == 0
    assert r0.dbsize() == 10, "another database must be untouched"
    assert backend.client_name() == "cockpit"
