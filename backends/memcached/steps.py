"""Runbook step kind ``memcached.flush`` (guarded ``flush_all``).

.. code-block:: yaml

    - kind: memcached.flush
      params: {server: "cache.internal:11211", confirm: "cache.internal:11211"}

``prepare`` records the server's ``cmd_flush`` count in the intent; after a crash,
``reconcile`` says the flush took effect when the count has grown since, so a retry never
flushes twice (items cached again since the crash are not wiped a second time).
"""
from __future__ import annotations

from typing import Any

from pydantic import Field

from backends.memcached.client import MemcachedBackend
from cockpit.steps import Step, StepContext, StepParams, step_kind


class FlushParams(StepParams):
    server: str = Field(min_length=1, description="host:port of the memcached server")
    confirm: str = Field(min_length=1, description="the same host:port, typed again: the guard")


@step_kind
class MemcachedFlush(Step):
    kind = "memcached.flush"
    mutating = True
    Params = FlushParams

    def describe(self, params: Any) -> str:
        return f"flush_all on {params.server}"

    def _backend(self, ctx: StepContext, params: Any) -> MemcachedBackend:
        return MemcachedBackend(params.server, readonly=ctx.readonly)

    def prepare(self, ctx: StepContext, params: Any) -> dict[str, Any] | None:
        with self._backend(ctx, params) as b:
            return {"cmd_flush_before": b.stats().cmd_flush}

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        with self._backend(ctx, params) as b:
            r = b.flush(confirm=params.confirm)
        ctx.log(f"flush_all {r.target}: {r.items_before} items before; "
                f"{'verified: an item stored before is a miss' if r.verified else 'NOT verified'}")
        return {"target": r.target, "items_before": r.items_before, "cmd_flush_after": r.cmd_flush_after,
                "verified": r.verified}

    def reconcile(self, ctx: StepContext, params: Any, intent: dict[str, Any]) -> dict[str, Any] | None:
        before = intent.get("cmd_flush_before")  # what prepare recorded, carried by the fsynced intent
        if not isinstance(before, int) or isinstance(before, bool):
            return None
        with self._backend(ctx, params) as b:
            now = b.stats().cmd_flush
        if now > before:
            return {"target": b.target, "cmd_flush_after": now, "reconciled": True}
        return None
