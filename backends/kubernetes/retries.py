"""Reads tried again when they meet a passing fault (used by both Kubernetes transports).

A read (GET, HEAD) that meets HTTP 500/502/503/504 or 429, a reset connection, a timeout or an
answer cut short is sent again, at most :data:`READ_ATTEMPTS` times in all, waiting what
``Retry-After`` asks (up to :data:`MAX_RETRY_AFTER`; longer, and the error goes to the operator
at once) or a short jittered back-off. tenacity does the retrying, imported on the first
failure only: the happy path pays nothing for it. A refused connection is not retried (nobody
listens), nor is a 4xx, nor any write.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from cockpit.errors import CockpitError, ServerError, UnreachableError

READ_ATTEMPTS = 3
"""A GET is sent at most this many times when it meets a passing fault."""
MAX_RETRY_AFTER = 10.0
"""A ``Retry-After`` longer than this is not waited for: the error goes to the operator."""
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD"})


def _transient(exc: BaseException) -> bool:
    """A fault worth one more try of a read: 5xx/429 (unless asked to wait too long), a reset,
    a timeout, an answer cut short. Not a refused connection (nobody listens) or a 4xx."""
    if isinstance(exc, ServerError):
        return exc.retry_after is None or exc.retry_after <= MAX_RETRY_AFTER
    return isinstance(exc, UnreachableError) and bool(getattr(exc, "transient", False))


def _backoff(exc: BaseException, attempt: int) -> float:
    """Seconds before try ``attempt + 1``: what ``Retry-After`` asks, else 0.25 s doubling, jittered."""
    asked = getattr(exc, "retry_after", None)
    if asked is not None:
        return min(float(asked), MAX_RETRY_AFTER)
    return min(2.0, 0.25 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)


def read_with_retries(method: str, call: Callable[[], Any]) -> Any:
    """``call()``; for a read that meets a passing fault, again, up to :data:`READ_ATTEMPTS`
    in all. Writes go through once. tenacity is imported only when a first try failed."""
    try:
        return call()
    except CockpitError as exc:
        if method.upper() not in IDEMPOTENT or not _transient(exc):
            raise
        first = exc
    from tenacity import Retrying, retry_if_exception, stop_after_attempt

    time.sleep(_backoff(first, 1))
    retrying = Retrying(
        stop=stop_after_attempt(READ_ATTEMPTS - 1), retry=retry_if_exception(_transient), reraise=True,
        wait=lambda state: _backoff(state.outcome.exception() if state.outcome else first, state.attempt_number + 1),
    )
    try:
        for attempt in retrying:
            with attempt:
                return call()
    except CockpitError as exc:
        if _transient(exc) and exc.hint and "tried" not in exc.hint:
            exc.hint = f"tried {READ_ATTEMPTS} times; {exc.hint}"
        raise
    raise AssertionError("unreachable")  # pragma: no cover - Retrying either returns or raises
