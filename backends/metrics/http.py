"""One place for our HTTP traffic: timeouts, and a ``User-Agent: cockpit/<version>``."""
from __future__ import annotations

import httpx

from cockpit import __version__

USER_AGENT = f"cockpit/{__version__}"


def client(timeout: float, **kwargs) -> httpx.Client:
    headers = {"User-Agent": USER_AGENT, **kwargs.pop("headers", {})}
    return httpx.Client(timeout=httpx.Timeout(timeout), headers=headers, follow_redirects=False, **kwargs)


def short_error(exc: BaseException) -> str:
    """A one-line, secret-free description of a transport error."""
    from cockpit.text import redact_url, sanitize

    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc) or "connection failed"
        if "refused" in text.lower():
            return "connection refused"
        return sanitize(redact_url(text), max_len=200)
    return sanitize(redact_url(f"{type(exc).__name__}: {exc}"), max_len=200)
