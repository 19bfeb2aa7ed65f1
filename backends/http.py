"""Step kind ``http``: one HTTP request with an expected status (no retries).

.. code-block:: yaml

    - kind: http
      params: {url: http://checkout.shop/health, method: GET, expect_status: 200, timeout: 5s}

GET and HEAD are reads: allowed readonly and journaled without an intent. Any other method
is mutating: refused readonly (before a byte is sent) and wrapped in an intent. Header
values are ``SecretStr`` (an ``Authorization`` header never reaches the journal). Requests
carry ``User-Agent: cockpit/<version>``. An unreachable host raises UnreachableError naming
it; an unexpected status raises CockpitError "Unexpected status" with the first body line.
"""
from __future__ import annotations

import time
from typing import Any, Literal

import httpx
from pydantic import Field, SecretStr

from cockpit import __version__
from cockpit.errors import CockpitError, ReadonlyError, UnreachableError
from cockpit.runbook import Duration
from cockpit.steps import Step, StepContext, StepParams, step_kind
from cockpit.text import redact_url, sanitize

READS = frozenset({"GET", "HEAD"})
USER_AGENT = f"cockpit/{__version__}"


class HttpParams(StepParams):
    url: str = Field(pattern=r"^https?://")
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    expect_status: int | list[int] = 200
    timeout: Duration = 10.0
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    body: str | dict[str, Any] | list[Any] | None = None


@step_kind
class HttpStep(Step):
    kind = "http"
    mutating = True
    Params = HttpParams

    def is_mutating(self, params: HttpParams) -> bool:
        return params.method not in READS

    def describe(self, params: HttpParams) -> str:
        return f"{params.method} {redact_url(params.url)}"

    def run(self, ctx: StepContext, params: HttpParams) -> dict[str, Any]:
        if ctx.readonly and self.is_mutating(params):
            raise ReadonlyError(f"not sending {params.method} {redact_url(params.url)}: the cockpit is readonly")
        headers = {k: v.get_secret_value() for k, v in params.headers.items()}
        headers.setdefault("User-Agent", USER_AGENT)
        kwargs: dict[str, Any] = {}
        if isinstance(params.body, str):
            kwargs["content"] = params.body.encode("utf-8")
        elif params.body is not None:
            kwargs["json"] = params.body
        shown = f"{params.method} {redact_url(params.url)}"
        host = httpx.URL(params.url).host
        t0 = time.monotonic()
        try:
            with httpx.Client(timeout=params.timeout, follow_redirects=False) as client:
                resp = client.request(params.method, params.url, headers=headers, **kwargs)
        except httpx.TimeoutException:
            raise UnreachableError(f"{host} did not answer {shown} within {params.timeout:g}s") from None
        except httpx.TransportError as exc:
            raise UnreachableError(f"cannot reach {host} for {shown}: {sanitize(exc, max_len=200)}") from None
        ms = round((time.monotonic() - t0) * 1000)
        ctx.log(f"{shown} -> {resp.status_code} ({ms} ms)")
        expected = params.expect_status if isinstance(params.expect_status, list) else [params.expect_status]
        if resp.status_code not in expected:
            first = sanitize(resp.text.strip().splitlines()[0] if resp.text.strip() else "", max_len=200)
            want = " or ".join(str(s) for s in expected)
            raise CockpitError(
                f"{shown} answered {resp.status_code}, expected {want}" + (f": {first}" if first else ""),
                title="Unexpected status",
            )
        return {"status": resp.status_code, "elapsed_ms": ms}
