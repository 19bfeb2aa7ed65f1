"""Runbook step kinds for Redis: ``redis.invalidate`` and ``redis.flush``.

The URL comes from the step's ``url`` (a secret: never journaled) or the ``redis`` backend of
the context (a :class:`RedisBackend`, a URL string, or ``{"url": ...}``).

.. code-block:: yaml

    - kind: redis.invalidate
      params: {pattern: "moshimoshi:*"}
    - kind: redis.flush
      params: {scope: db, confirm: "cache.internal:6379/0"}
"""
from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import Field, SecretStr

from backends.redis.client import RedisBackend
from cockpit.errors import CockpitError, ConfigError
from cockpit.steps import Step, StepContext, StepParams, step_kind


class RedisParams(StepParams):
    url: SecretStr | None = Field(None, description="overrides the redis backend's URL; never journaled")


def backend_for(ctx: StepContext, params: RedisParams, **kw: Any) -> RedisBackend:
    if params.url is not None:
        return RedisBackend(params.url.get_secret_value(), readonly=ctx.readonly, **kw)
    configured = ctx.backend("redis")
    if isinstance(configured, RedisBackend):
        if ctx.readonly and not configured.readonly:
            return RedisBackend(configured.url, readonly=True, **kw)
        if kw:
            return RedisBackend(configured.url, readonly=configured.readonly, **kw)
        return configured
    url = configured.get("url") if isinstance(configured, dict) else configured
    if not isinstance(url, str):
        raise ConfigError("the redis backend must be a URL, {url: ...} or a RedisBackend")
    return RedisBackend(url, readonly=ctx.readonly, **kw)


class InvalidateParams(RedisParams):
    pattern: str = Field(min_length=1, description="glob, e.g. 'moshimoshi:*' or 'sess:*'")
    dry_run: bool = False
    scan_count: int = Field(10_000, ge=10, le=1_000_000)
    progress_every: float = Field(1.0, ge=0.0, description="seconds between progress lines")


@step_kind
class RedisInvalidate(Step):
    """A dry-run count, then SCAN + pipelined UNLINK with progress lines, then a verification
    that nothing matching remains (fails with "Not verified" otherwise)."""

    kind = "redis.invalidate"
    mutating = True
    Params = InvalidateParams

    def is_mutating(self, params: Any) -> bool:
        return not params.dry_run

    def describe(self, params: Any) -> str:
        return f"{'count' if params.dry_run else 'invalidate'} Redis keys matching {params.pattern!r}"

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        backend = backend_for(ctx, params, scan_count=params.scan_count)
        counted = backend.count(params.pattern, cancel=ctx.cancel)
        ctx.log(f"{counted.matched} of {counted.dbsize} keys on {backend.target} match {counted.pattern!r}")
        if params.dry_run:
            return {"target": backend.target, "pattern": counted.pattern, "matched": counted.matched,
                    "dbsize": counted.dbsize, "sample": list(counted.sample), "dry_run": True}
        last_log = 0.0
        final = None
        for p in backend.invalidate(params.pattern, cancel=ctx.cancel):
            final = p
            now = time.monotonic()
            if not p.done and now - last_log >= params.progress_every and p.scan_calls:
                ctx.log(f"deleted {p.deleted} keys ({p.scan_calls} scans, {p.rate:,.0f}/s)")
                last_log = now
        assert final is not None
        ctx.log(f"deleted {final.deleted} keys in {final.elapsed:.2f}s; {final.remaining} still match; "
                f"DBSIZE {final.dbsize_before} -> {final.dbsize_after}")
        data = {"target": backend.target, "pattern": final.pattern, "deleted": final.deleted,
                "remaining": final.remaining, "dbsize_before": final.dbsize_before,
                "dbsize_after": final.dbsize_after, "seconds": round(final.elapsed, 3)}
        if final.remaining:
            raise CockpitError(f"{final.remaining} keys matching {final.pattern!r} remain after the invalidation",
                               title="Not verified", hint="something is writing them again; stop it and re-run")
        return data

    def reconcile(self, ctx: StepContext, params: Any, intent: dict[str, Any]) -> dict[str, Any] | None:
        backend = backend_for(ctx, params, scan_count=params.scan_count)
        left = backend.count(params.pattern).matched
        if left:
            return None  # run again: deleting is idempotent
        return {"target": backend.target, "pattern": params.pattern, "deleted": None, "remaining": 0,
                "reconciled": True}


class FlushParams(RedisParams):
    scope: Literal["db", "all"] = "db"
    confirm: str = Field(description="host:port/db for FLUSHDB, host:port for FLUSHALL")


@step_kind
class RedisFlush(Step):
    kind = "redis.flush"
    mutating = True
    Params = FlushParams

    def describe(self, params: Any) -> str:
        return f"{'FLUSHALL' if params.scope == 'all' else 'FLUSHDB'} on {params.confirm}"

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        backend = backend_for(ctx, params)
        result = backend.flush(confirm=params.confirm, scope=params.scope)
        ctx.log(f"{'FLUSHALL' if params.scope == 'all' else 'FLUSHDB'} {result.target}: "
                f"DBSIZE {result.dbsize_before} -> {result.dbsize_after}")
        return {"target": result.target, "scope": result.scope, "dbsize_before": result.dbsize_before,
                "dbsize_after": result.dbsize_after}

    def reconcile(self, ctx: StepContext, params: Any, intent: dict[str, Any]) -> dict[str, Any] | None:
        backend = backend_for(ctx, params)
        if backend.dbsize() == 0:
            return {"target": backend.target, "scope": params.scope, "dbsize_after": 0, "reconciled": True}
        return None
