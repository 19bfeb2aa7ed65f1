"""HTTP delivery shared by the notify channels: httpx, timeouts, tenacity retries."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from cockpit import __version__
from cockpit.errors import CockpitError, ReadonlyError, UnreachableError
from cockpit.text import sanitize

USER_AGENT = f"cockpit/{__version__}"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504}) | frozenset(range(500, 600))


@dataclass
class Delivery:
    """What happened to one send (journaled as a ``notification`` record)."""

    channel: str
    ok: bool
    status: int | None = None
    attempts: int = 0
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    """Channel-specific facts worth keeping (Statuspage ``incident_id``)."""
    response: Any = None


RETRY_AFTER_MAX_S = 60.0


def retry_after_s(response: httpx.Response | None) -> float | None:
    """A 429/503's ``Retry-After`` in seconds (a delay or an HTTP date), capped at
    :data:`RETRY_AFTER_MAX_S`; None when absent or unreadable."""
    raw = response.headers.get("retry-after") if response is not None else None
    if not raw:
        return None
    try:
        return max(0.0, min(float(raw), RETRY_AFTER_MAX_S))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when.timestamp() - time.time(), RETRY_AFTER_MAX_S))


class RetryableStatus(Exception):
    """An answer worth another try (429, 5xx): carries the response for its Retry-After."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def scrub(text: str, secrets: Iterable[str | SecretStr | None]) -> str:
    """``text`` with every secret value (and its URL-encoded path part) replaced by ***."""
    for s in secrets:
        value = s.get_secret_value() if isinstance(s, SecretStr) else s
        if value:
            text = text.replace(value, "***")
            try:
                path = httpx.URL(value).path
                if len(path) > 8:
                    text = text.replace(path, "/***")
            except Exception:  # noqa: BLE001 — not a URL
                pass
    return text


class HttpSender:
    """POST/PATCH JSON with a timeout, retrying 5xx / 429 / network errors with back-off."""

    def __init__(
        self, *, timeout: float = 10.0, attempts: int = 4, backoff: float = 1.0, readonly: bool = False,
        transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.timeout, self.attempts, self.backoff, self.readonly = timeout, attempts, backoff, readonly
        self.transport, self.sleep = transport, sleep

    def request(
        self, channel: str, label: str, method: str, url: SecretStr | str, *, json: Any,
        headers: dict[str, str] | None = None, secrets: Iterable[SecretStr | str | None] = (),
    ) -> Delivery:
        """Send; return a Delivery (ok or not). Raises ReadonlyError before sending when
        readonly; never raises for HTTP or network failures (they are the Delivery)."""
        if self.readonly:
            raise ReadonlyError(f"readonly: not sending to {label} (nothing was sent)")
        raw_url = url.get_secret_value() if isinstance(url, SecretStr) else url
        secrets = [*secrets, url]
        hdrs = {"User-Agent": USER_AGENT, "Content-Type": "application/json", **(headers or {})}
        attempts = 0
        backoff = wait_exponential(multiplier=self.backoff, max=30)

        def wait(state: Any) -> float:  # what Retry-After asks, else the exponential back-off
            exc = state.outcome.exception() if state.outcome is not None else None
            after = retry_after_s(exc.response) if isinstance(exc, RetryableStatus) else None
            return backoff(state) if after is None else after

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait,
            retry=retry_if_exception_type((RetryableStatus, httpx.TransportError)),
            reraise=True, sleep=self.sleep,
        )
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport, follow_redirects=False) as client:
                for attempt in retrying:
                    with attempt:
                        attempts += 1
                        resp = client.request(method, raw_url, json=json, headers=hdrs)
                        if resp.status_code in RETRY_STATUS:
                            raise RetryableStatus(resp)
        except RetryableStatus as exc:
            return Delivery(channel, False, exc.response.status_code, attempts,
                            self._detail(f"{label} answered {exc.response.status_code} after {attempts} attempts", exc.response, secrets))
        except httpx.TimeoutException:
            return Delivery(channel, False, None, attempts,
                            f"{label} did not answer within {self.timeout:g}s ({attempts} attempts)")
        except httpx.TransportError as exc:
            msg = scrub(sanitize(str(exc) or type(exc).__name__, max_len=200), secrets)
            return Delivery(channel, False, None, attempts, f"cannot reach {label}: {msg} ({attempts} attempts)")
        if resp.status_code >= 400:
            return Delivery(channel, False, resp.status_code, attempts,
                            self._detail(f"{label} refused with {resp.status_code}", resp, secrets), response=resp)
        return Delivery(channel, True, resp.status_code, attempts,
                        f"{label} accepted ({resp.status_code}{', after ' + str(attempts) + ' attempts' if attempts > 1 else ''})",
                        response=resp)

    @staticmethod
    def _detail(prefix: str, resp: httpx.Response, secrets: list) -> str:
        body = resp.text.strip().splitlines()[0] if resp.text.strip() else ""
        body = scrub(sanitize(body, max_len=200), secrets)
        return f"{prefix}: {body}" if body else prefix


def require(value: Any, what: str, env: str) -> Any:
    if value in (None, ""):
        raise CockpitError(f"{what} is not configured", title="Not configured",
                           hint=f"set {env} (or the notify section of the config file)")
    return value


__all__ = ["Delivery", "HttpSender", "USER_AGENT", "scrub", "require", "UnreachableError"]
