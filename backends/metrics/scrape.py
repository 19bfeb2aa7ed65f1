"""Scrape a service's ``/metrics`` directly (no Prometheus) and derive rates over a window.

The text is parsed with ``prometheus_client``'s parser. Each scrape keeps the cumulative
``http_requests_total`` (all, and ``code=~5..``) and the ``http_request_duration_seconds``
buckets, summed over label sets; a reading is the difference between the newest scrape and
the newest one at least ``window_s`` older (or the oldest kept), so rates and the p95 cover
the sliding window. A counter going down (the process restarted) starts a new history.
One scrape, or no requests in the window, gives no rates: *not measured*, never zero.
"""
from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from cockpit.decision import Reading
from cockpit.text import redact_url

from backends.metrics.http import client, short_error
from backends.metrics.reliability import Track

REQUESTS = "http_requests_total"
DURATION = "http_request_duration_seconds"


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: float
    total: float
    errors: float
    buckets: tuple[tuple[float, float], ...]
    """(upper bound, cumulative count), sorted; +Inf last."""


def parse(text: str, at: float, requests: str = REQUESTS, duration: str = DURATION) -> Snapshot:
    """Fold one exposition into a :class:`Snapshot` (raises ValueError on unparsable text)."""
    total = errors = 0.0
    buckets: dict[float, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == requests:
                total += s.value
                code = s.labels.get("code") or s.labels.get("status") or ""
                if code.startswith("5"):
                    errors += s.value
            elif s.name == duration + "_bucket":
                le = float(s.labels.get("le", "+Inf"))
                buckets[le] = buckets.get(le, 0.0) + s.value
    return Snapshot(at, total, errors, tuple(sorted(buckets.items())))


def histogram_quantile(q: float, buckets: tuple[tuple[float, float], ...]) -> float | None:
    """Prometheus' ``histogram_quantile`` over cumulative (le, count) pairs. Seconds."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return prev_le  # the highest finite bound, as Prometheus does
            if count == prev_count:
                return le
            lower = prev_le if prev_le < le else 0.0
            return lower + (le - lower) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return prev_le


def delta(new: Snapshot, old: Snapshot) -> Snapshot:
    old_b = dict(old.buckets)
    return Snapshot(new.at - old.at, new.total - old.total, new.errors - old.errors,
                    tuple((le, c - old_b.get(le, 0.0)) for le, c in new.buckets))


class Windowed:
    """The sliding window over snapshots (:meth:`add`) and the source's :class:`Track`: what
    every ``/metrics`` source shares, however it fetches the text (directly here; through the
    API server's proxy in :mod:`.apiproxy`)."""

    def __init__(self, name: str, keep_s: float = 3600.0) -> None:
        self.name = name
        self.keep_s = keep_s
        self._history: deque[Snapshot] = deque()
        self.track = Track()

    def reset(self) -> None:
        """Forget the history (after a rollback: judge only what came after)."""
        self._history.clear()

    def add(self, snap: Snapshot, window_s: float) -> Reading:
        """Fold a snapshot in and compute the window's reading (pure given the history)."""
        h = self._history
        if h and (snap.total < h[-1].total or snap.errors < h[-1].errors):
            h.clear()  # counters went down: the process restarted
        h.append(snap)
        while len(h) > 2 and h[1].at <= snap.at - max(window_s, self.keep_s):
            h.popleft()
        base = h[0]
        for old in reversed(h):
            if old.at <= snap.at - window_s:
                base = old
                break
        if base is snap:
            return Reading(self.name, at=snap.at, window_s=0.0)
        d = delta(snap, base)
        dt = d.at
        if dt <= 0:
            return Reading(self.name, at=snap.at, window_s=0.0)
        rate = d.total / dt
        err = d.errors / d.total if d.total > 0 else None
        q = histogram_quantile(0.95, d.buckets)
        return Reading(self.name, at=snap.at, window_s=dt, request_rate=rate, error_rate=err,
                       p95_ms=None if q is None or d.total <= 0 else q * 1000.0)


class ScrapeSource(Windowed):
    """``MetricsSource`` over a ``/metrics`` URL."""

    def __init__(self, url: str, *, timeout: float = 5.0, name: str = "scrape", keep_s: float = 3600.0,
                 http: httpx.Client | None = None) -> None:
        super().__init__(name, keep_s)
        self.url = url
        self._http = http or client(timeout)

    def describe(self) -> str:
        return f"scrape {redact_url(self.url)}"

    def sample(self, window_s: float, now: float | None = None) -> Reading:
        """One scrape. A failed one is a failed reading; the answer of a source that failed
        most of its last scrapes is kept for the rates but not used (:mod:`.reliability`)."""
        now = time.time() if now is None else now
        try:
            resp = self._http.get(self.url)
            if resp.status_code != 200:
                failed = Reading(self.name, at=now, ok=False, error=f"HTTP {resp.status_code} from {redact_url(self.url)}")
                return self.track.judge(failed)
            snap = parse(resp.text, now)
        except httpx.HTTPError as exc:
            return self.track.judge(Reading(self.name, at=now, ok=False, error=short_error(exc)))
        except ValueError as exc:
            return self.track.judge(Reading(self.name, at=now, ok=False, error=f"unparsable metrics: {str(exc)[:120]}"))
        return self.track.judge(self.add(snap, window_s))

    def close(self) -> None:
        self._http.close()
