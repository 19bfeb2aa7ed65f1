"""Runbook step kind ``cdn.purge``.

.. code-block:: yaml

    - kind: cdn.purge
      params: {provider: cloudflare, zone: 023e105f4ecef8ad9ca31a8372d0c353, everything: true}
    - kind: cdn.purge
      params: {provider: fastly, service: SU1Z0isxPaozGVKXdv0eY, keys: [product-42]}

The API token never comes from the runbook: ``$COCKPIT_CDN__<PROVIDER>_API_TOKEN`` (or
``$CLOUDFLARE_API_TOKEN`` / ``$FASTLY_API_TOKEN``); the base URL from ``base_url`` or
``$COCKPIT_CDN__<PROVIDER>_URL``. The executor fsyncs the intent (provider, zone or service,
what) before the first request. A purge is idempotent, so after a crash between intent and
outcome ``reconcile`` reports nothing and the purge is sent again.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from backends.cdn.client import PurgeRequest, cdn_settings, make_purger
from cockpit.steps import Step, StepContext, StepParams, step_kind


class PurgeParams(StepParams):
    provider: Literal["cloudflare", "fastly"]
    zone: str | None = Field(None, description="Cloudflare zone id")
    service: str | None = Field(None, description="Fastly service id")
    everything: bool = False
    files: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    hosts: list[str] = Field(default_factory=list)
    keys: list[str] = Field(default_factory=list, description="Fastly surrogate keys")
    soft: bool = Field(False, description="Fastly: mark stale instead of removing (not for everything)")
    base_url: str | None = Field(None, description="the API's base URL (tests, proxies)")

    @model_validator(mode="after")
    def _one(self) -> PurgeParams:
        chosen = [k for k in ("files", "tags", "hosts", "keys") if getattr(self, k)] + (["everything"] if self.everything else [])
        if len(chosen) != 1:
            raise ValueError("give exactly one of everything, files, tags, hosts, keys")
        where = self.zone if self.provider == "cloudflare" else self.service
        if not where:
            raise ValueError(f"{self.provider} needs {'zone' if self.provider == 'cloudflare' else 'service'}")
        return self

    def request(self) -> PurgeRequest:
        if self.everything:
            return PurgeRequest("everything")
        what = next(k for k in ("files", "tags", "hosts", "keys") if getattr(self, k))
        return PurgeRequest(what, tuple(getattr(self, what)))  # type: ignore[arg-type]

    @property
    def target(self) -> str:
        return (self.zone if self.provider == "cloudflare" else self.service) or ""


@step_kind
class CdnPurge(Step):
    kind = "cdn.purge"
    mutating = True
    Params = PurgeParams

    def describe(self, params: Any) -> str:
        return f"purge {params.provider} {params.target}: {params.request().describe()}"

    def prepare(self, ctx: StepContext, params: Any) -> dict[str, Any] | None:
        req = params.request()  # bad values refused before the intent
        return {"provider": params.provider, "target": params.target, "what": req.what, "count": len(req.values)}

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        purger = make_purger(params.provider, params.target, base_url=params.base_url, readonly=ctx.readonly,
                             soft=params.soft, settings=cdn_settings())
        r = purger.purge(params.request())
        ctx.log(f"{r.provider} {r.target}: purged {params.request().describe()} "
                f"({r.requests} request{'s' if r.requests != 1 else ''}, {r.attempts} attempt{'s' if r.attempts != 1 else ''})")
        return {"provider": r.provider, "target": r.target, "what": r.what, "count": r.count,
                "requests": r.requests, "attempts": r.attempts, "ids": r.ids}

    def reconcile(self, ctx: StepContext, params: Any, intent: dict[str, Any]) -> dict[str, Any] | None:
        return None  # a purge cannot be read back, and sending it again is harmless
