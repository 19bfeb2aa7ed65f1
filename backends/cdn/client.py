"""The CDN port and its Cloudflare and Fastly implementations.

Request shapes (the providers' public API documentation):

- Cloudflare: ``POST {base}/zones/{zone_id}/purge_cache`` with ``Authorization: Bearer
  <token>`` and one of ``{"purge_everything": true}``, ``{"files": [...]}``, ``{"tags": [...]}``,
  ``{"hosts": [...]}`` (at most :data:`CLOUDFLARE_BATCH` values a request, so longer lists go
  in batches). The answer is ``{"success": bool, "errors": [...], "result": {"id": ...}}``.
- Fastly: ``POST {base}/service/{service_id}/purge_all`` (everything) and
  ``POST {base}/service/{service_id}/purge/{surrogate_key}`` (one key per request) with
  ``Fastly-Key: <token>``; ``Fastly-Soft-Purge: 1`` marks content stale instead.

Every request has a timeout and is retried on 429 (waiting what ``Retry-After`` says, capped)
and 5xx and network errors with exponential back-off; after the last attempt it raises
:class:`~cockpit.errors.UnreachableError` (exit 4) with one line, which the caller journals
as the failed outcome. A 401/403 is a :class:`~cockpit.errors.ConfigError` naming where the
token came from (never the token); a 404 a :class:`~cockpit.errors.NotFoundError` naming the
zone or service. Readonly refuses in :meth:`CdnPurger.purge` and again at the transport,
before a byte is sent. Tokens are ``SecretStr`` and scrubbed from every message.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import SecretStr
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from cockpit import __version__
from cockpit.errors import CockpitError, ConfigError, NotFoundError, ReadonlyError, UnreachableError
from cockpit.text import sanitize

from backends.notify.base import RetryableStatus, retry_after_s  # one reading of Retry-After for every HTTP client

USER_AGENT = f"cockpit/{__version__}"
CLOUDFLARE_URL = "https://api.cloudflare.com/client/v4"
FASTLY_URL = "https://api.fastly.com"
CLOUDFLARE_BATCH = 30
What = Literal["everything", "files", "tags", "hosts", "keys"]
PROVIDERS = ("cloudflare", "fastly")
SUPPORTED: dict[str, tuple[str, ...]] = {
    "cloudflare": ("everything", "files", "tags", "hosts"),
    "fastly": ("everything", "keys"),
}
TOKEN_ENV = {
    "cloudflare": ("COCKPIT_CDN__CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_TOKEN"),
    "fastly": ("COCKPIT_CDN__FASTLY_API_TOKEN", "FASTLY_API_TOKEN"),
}
URL_ENV = {"cloudflare": "COCKPIT_CDN__CLOUDFLARE_URL", "fastly": "COCKPIT_CDN__FASTLY_URL"}


@dataclass(frozen=True)
class PurgeRequest:
    """What to purge: ``everything``, or ``values`` of one kind (files, tags, hosts, keys)."""

    what: What
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.what == "everything" and self.values:
            raise ConfigError("--everything takes no values")
        if self.what != "everything":
            if not self.values:
                raise ConfigError(f"nothing to purge: --{self.what} needs at least one value")
            bad = [v for v in self.values if not v.strip() or any(ord(c) < 32 or c == "\x7f" for c in v)]
            if bad:
                raise ConfigError(f"--{self.what}: {sanitize(bad[0], max_len=80)!r} is not a value that can be purged")

    def describe(self) -> str:
        if self.what == "everything":
            return "everything"
        shown = ", ".join(sanitize(v, max_len=80) for v in self.values[:3])
        more = f" (+{len(self.values) - 3} more)" if len(self.values) > 3 else ""
        return f"{len(self.values)} {self.what}: {shown}{more}"


@dataclass
class PurgeResult:
    provider: str
    target: str
    what: str
    count: int
    requests: int = 0
    attempts: int = 0
    ids: list[str] = field(default_factory=list)


def resolve_token(provider: str, token: SecretStr | str | None = None,
                  env: Mapping[str, str] | None = None) -> tuple[SecretStr, str]:
    """The API token and where it came from (for messages: never the value)."""
    if token:
        return (token if isinstance(token, SecretStr) else SecretStr(token)), "the settings"
    env = os.environ if env is None else env
    for name in TOKEN_ENV[provider]:
        if env.get(name):
            return SecretStr(env[name]), f"${name}"
    names = " or ".join(f"${n}" for n in TOKEN_ENV[provider])
    raise ConfigError(f"no {provider.capitalize()} API token: set {names}", title="Not configured")


class CdnPurger:
    """The port: ``purge(PurgeRequest) -> PurgeResult``. Subclasses give the requests."""

    provider = ""
    default_url = ""

    def __init__(
        self, target: str, token: SecretStr, *, token_source: str = "the settings", base_url: str | None = None,
        readonly: bool = False, timeout: float = 10.0, attempts: int = 4, backoff: float = 1.0,
        transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not target or not target.strip() or "/" in target or any(ord(c) < 33 for c in target):
            raise ConfigError(f"{sanitize(target or '', max_len=80)!r} is not a {self.target_word}")
        self.target, self.token, self.token_source = target, token, token_source
        self.base_url = (base_url or self.default_url).rstrip("/")
        self.readonly, self.timeout, self.attempts, self.backoff = readonly, timeout, attempts, backoff
        self.transport, self.sleep = transport, sleep
        self.requests_sent = 0

    target_word = "target"

    # ---- the port

    def supports(self, what: str) -> bool:
        return what in SUPPORTED[self.provider]

    def purge(self, request: PurgeRequest) -> PurgeResult:
        """Send the purge (in batches where the provider limits a request). Raises
        ReadonlyError before anything is sent when readonly; ConfigError for a kind this
        provider cannot purge; UnreachableError after the last attempt."""
        if self.readonly:
            raise ReadonlyError(f"readonly: not purging {self.provider} {self.target_word} {self.target} (nothing was sent)")
        if not self.supports(request.what):
            kinds = ", ".join("--" + k for k in SUPPORTED[self.provider])
            raise ConfigError(f"{self.provider.capitalize()} cannot purge by {request.what}; it purges {kinds}")
        result = PurgeResult(self.provider, self.target, request.what, len(request.values))
        for method, path, body, headers in self.requests_for(request):
            resp, attempts = self._send(method, path, body, headers)
            result.requests += 1
            result.attempts += attempts
            ident = self.purge_id(resp)
            if ident:
                result.ids.append(ident)
        return result

    def requests_for(self, request: PurgeRequest) -> list[tuple[str, str, Any, dict[str, str]]]:
        raise NotImplementedError

    def auth_headers(self) -> dict[str, str]:
        raise NotImplementedError

    def purge_id(self, resp: httpx.Response) -> str:
        try:
            data = resp.json()
        except ValueError:
            return ""
        if isinstance(data, dict):
            res = data.get("result") if isinstance(data.get("result"), dict) else data
            ident = res.get("id") if isinstance(res, dict) else None
            return sanitize(str(ident), max_len=80) if ident else ""
        return ""

    def check(self, resp: httpx.Response) -> None:
        """Raise for a refused answer (after the retries, for the ones not retried)."""
        if resp.status_code in (401, 403):
            raise ConfigError(f"{self.provider.capitalize()} refused the API token from {self.token_source} "
                              f"({resp.status_code}{self._why(resp)})", title="Credentials refused")
        if resp.status_code == 404:
            raise NotFoundError(f"{self.provider.capitalize()} has no {self.target_word} {self.target!r} "
                                f"(404{self._why(resp)})")
        if resp.status_code >= 400:
            raise CockpitError(f"{self.provider.capitalize()} refused the purge ({resp.status_code}{self._why(resp)})",
                               title="Purge refused")

    # ---- transport

    def _scrub(self, text: str) -> str:
        value = self.token.get_secret_value()
        return text.replace(value, "***") if value else text

    def _why(self, resp: httpx.Response) -> str:
        try:
            data = resp.json()
        except ValueError:
            data = None
        msg = ""
        if isinstance(data, dict):
            errs = data.get("errors")
            if isinstance(errs, list) and errs and isinstance(errs[0], dict):
                msg = str(errs[0].get("message", ""))
            msg = msg or str(data.get("msg") or data.get("detail") or "")
        if not msg and resp.text.strip():
            msg = resp.text.strip().splitlines()[0]
        return f": {self._scrub(sanitize(msg, max_len=200))}" if msg else ""

    def _wait(self, state: Any) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        after = retry_after_s(exc.response) if isinstance(exc, RetryableStatus) else None
        if after is not None:
            return after
        return wait_exponential(multiplier=self.backoff, max=30)(state)

    def _send(self, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[httpx.Response, int]:
        if self.readonly:  # the transport refuses too
            raise ReadonlyError(f"readonly: not sending to {self.provider} (nothing was sent)")
        url = f"{self.base_url}{path}"
        hdrs = {"User-Agent": USER_AGENT, "Accept": "application/json", **self.auth_headers(), **headers}
        attempts = 0
        retrying = Retrying(stop=stop_after_attempt(self.attempts), wait=self._wait,
                            retry=retry_if_exception_type((RetryableStatus, httpx.TransportError)), reraise=True, sleep=self.sleep)
        label = f"{self.provider.capitalize()} ({self.base_url})"
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport, follow_redirects=False) as client:
                for attempt in retrying:
                    with attempt:
                        attempts += 1
                        self.requests_sent += 1
                        resp = client.request(method, url, json=body, headers=hdrs)
                        if resp.status_code == 429 or resp.status_code >= 500:
                            raise RetryableStatus(resp)
        except RetryableStatus as exc:
            raise UnreachableError(f"{label} answered {exc.response.status_code} after {attempts} attempts"
                                   f"{self._why(exc.response)}; the purge did not go through", title="Purge failed") from None
        except httpx.TimeoutException:
            raise UnreachableError(f"{label} did not answer within {self.timeout:g}s ({attempts} attempts)",
                                   title="Purge failed") from None
        except httpx.TransportError as exc:
            msg = self._scrub(sanitize(str(exc) or type(exc).__name__, max_len=200))
            raise UnreachableError(f"cannot reach {label}: {msg} ({attempts} attempts)", title="Purge failed") from None
        self.check(resp)
        return resp, attempts


class Cloudflare(CdnPurger):
    provider = "cloudflare"
    default_url = CLOUDFLARE_URL
    target_word = "zone"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token.get_secret_value()}"}

    def requests_for(self, request: PurgeRequest) -> list[tuple[str, str, Any, dict[str, str]]]:
        path = f"/zones/{quote(self.target, safe='')}/purge_cache"
        if request.what == "everything":
            return [("POST", path, {"purge_everything": True}, {})]
        vals = list(request.values)
        return [("POST", path, {request.what: vals[i:i + CLOUDFLARE_BATCH]}, {})
                for i in range(0, len(vals), CLOUDFLARE_BATCH)]

    def check(self, resp: httpx.Response) -> None:
        super().check(resp)
        try:
            data = resp.json()
        except ValueError:
            return
        if isinstance(data, dict) and data.get("success") is False:
            raise CockpitError(f"Cloudflare refused the purge{self._why(resp)}", title="Purge refused")


class Fastly(CdnPurger):
    provider = "fastly"
    default_url = FASTLY_URL
    target_word = "service"

    def __init__(self, *a: Any, soft: bool = False, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.soft = soft

    def auth_headers(self) -> dict[str, str]:
        return {"Fastly-Key": self.token.get_secret_value()}

    def requests_for(self, request: PurgeRequest) -> list[tuple[str, str, Any, dict[str, str]]]:
        svc = quote(self.target, safe="")
        if request.what == "everything":  # purge-all is never soft (Fastly's documentation)
            return [("POST", f"/service/{svc}/purge_all", None, {})]
        soft = {"Fastly-Soft-Purge": "1"} if self.soft else {}
        return [("POST", f"/service/{svc}/purge/{quote(k, safe='')}", None, soft) for k in request.values]


def cdn_settings() -> Any:
    """The settings' ``cdn`` section (config file ← ``COCKPIT_CDN__*``) once the settings have
    one, else None (then :func:`make_purger` reads the environment alone)."""
    from cockpit.config import load_settings

    return getattr(load_settings(), "cdn", None)


def make_purger(provider: str, target: str, *, token: SecretStr | str | None = None, base_url: str | None = None,
                env: Mapping[str, str] | None = None, settings: Any = None, **kw: Any) -> CdnPurger:
    """A purger for ``provider`` (``cloudflare`` | ``fastly``): the token from ``token``, the
    ``settings`` (the ``cdn`` section: ``<provider>_api_token``, ``<provider>_url``, ``attempts``,
    ``backoff_s``, ``timeout_s``) or the environment, the base URL from ``base_url`` or ``COCKPIT_CDN__<PROVIDER>_URL``; tries,
    first back-off and timeout from ``COCKPIT_CDN__ATTEMPTS`` / ``__BACKOFF_S`` / ``__TIMEOUT_S``
    (defaults 4, 1 s, 10 s)."""
    if provider not in PROVIDERS:
        raise ConfigError(f"unknown CDN provider {sanitize(provider, max_len=40)!r}; expected cloudflare or fastly")
    env = os.environ if env is None else env
    from_settings = token is None and settings is not None and getattr(settings, f"{provider}_api_token", None) is not None
    if from_settings:
        token = getattr(settings, f"{provider}_api_token")
    secret, source = resolve_token(provider, token, env)
    if from_settings:
        source = f"the cdn settings (cdn.{provider}_api_token or ${TOKEN_ENV[provider][0]})"
    if settings is not None:
        base_url = base_url or env.get(URL_ENV[provider]) or getattr(settings, f"{provider}_url", None)
        for key, name in (("attempts", "attempts"), ("backoff", "backoff_s"), ("timeout", "timeout_s")):
            if key not in kw and getattr(settings, name, None) is not None:
                kw[key] = getattr(settings, name)
    cls = Cloudflare if provider == "cloudflare" else Fastly
    for key, name, conv in (("attempts", "COCKPIT_CDN__ATTEMPTS", int), ("backoff", "COCKPIT_CDN__BACKOFF_S", float),
                            ("timeout", "COCKPIT_CDN__TIMEOUT_S", float)):
        if key not in kw and env.get(name):
            try:
                kw[key] = conv(env[name])
            except ValueError:
                raise ConfigError(f"${name}: {sanitize(env[name], max_len=40)!r} is not a number") from None
    if provider != "fastly":
        kw.pop("soft", None)
    return cls(target, secret, token_source=source, base_url=base_url or env.get(URL_ENV[provider]) or None, **kw)
