"""redis.* step kinds against a real redis-server."""
from __future__ import annotations

import json

import pytest

import backends.redis.steps  # noqa: F401  registers the kinds
from backends.redis.client import ConfirmationMismatch, RedisBackend
from cockpit.errors import ReadonlyError
from cockpit.steps import StepContext, get_step
from tests.fixtures.redis import ACL_PASSWORD

pytestmark = pytest.mark.xdist_group("redis")


def run(kind, ctx, **params):
    cls = get_step(kind)
    return cls().run(ctx, cls.Params(**params))


def test_invalidate_step_logs_count_progress_and_verification(redis_server, redis_url):
    r = redis_server.client()
    r.mset({f"sess:{i}": 1 for i in range(2000)})
    r.mset({f"keep:{i}": 1 for i in range(10)})
    lines: list[str] = []
    ctx = StepContext(backends={"redis": RedisBackend(redis_url)}, log=lines.append)
    dry = run("redis.invalidate", ctx, pattern="sess:*", dry_run=True)
    assert dry["matched"] == 2000 and r.dbsize() == 2010
    data = run("redis.invalidate", ctx, pattern="sess:*", scan_count=100, progress_every=0)
    assert data["deleted"] == 2000 and data["remaining"] == 0 and r.dbsize() == 10
    assert lines[0].startswith("2000 of 2010 keys")
    assert any(line.startswith("deleted ") and "scans" in line for line in lines)
    assert get_step("redis.invalidate")().reconcile(ctx, get_step("redis.invalidate").Params(pattern="sess:*"), {})["remaining"] == 0


def test_flush_step_confirmation_readonly_and_secret_url(redis_server, redis_url):
    r = redis_server.client()
    r.set("a", 1)
    url = redis_server.url_with_password()
    ctx = StepContext(backends={}, log=lambda s: None)
    params = get_step("redis.flush").Params(url=url, confirm="nope")
    assert ACL_PASSWORD not in json.dumps(params.model_dump(mode="json"))
    with pytest.raises(ConfirmationMismatch):
        get_step("redis.flush")().run(ctx, params)
    ro = StepContext(backends={"redis": redis_url}, log=lambda s: None, readonly=True)
    with pytest.raises(ReadonlyError):
        run("redis.flush", ro, confirm=f"127.0.0.1:{redis_server.port}/0")
    with pytest.raises(ReadonlyError):
        run("redis.invalidate", ro, pattern="*")
    assert r.dbsize() == 1
    data = run("redis.flush", ctx, url=url, confirm=f"127.0.0.1:{redis_server.port}/0")
    assert data["dbsize_before"] == 1 and data["dbsize_after"] == 0
