"""Metric samples for the journal, thinned to a bounded rate without losing the peaks.

The operator's session (the full-screen cockpit and ``cockpit watch`` alike) reads its metrics
every second or so; the journal gets at most one ``metrics`` record per ``every_s`` per target
(10 s by default, ``watch.journal_samples_s``). Each record carries the *highest* error rate
and p95 seen in its interval and when each was seen, so the report's peaks and an observer's
panes are drawn from what really happened, not from whichever reading fell on the boundary.

Samples are thinned even while no incident is open: the thinned backlog (the last
``keep_s``) is written when the incident opens, so the report shows the bad release that
made the operator act, not only what came after.
"""
from __future__ import annotations

import threading
from collections import deque

from cockpit.events import MetricSample


class SampleThinner:
    """Readings in (:meth:`add`), at most one :class:`MetricSample` per ``every_s`` out."""

    def __init__(self, target: str = "", *, every_s: float = 10.0, keep_s: float = 1800.0, source: str = "") -> None:
        self.target, self.every_s, self.source = target, max(0.1, float(every_s)), source
        self._kept: deque[MetricSample] = deque(maxlen=max(1, int(keep_s / self.every_s) + 1))
        self._lock = threading.Lock()
        self._start: float | None = None
        self._er: tuple[float, float] | None = None  # (value, at): the interval's highest
        self._p95: tuple[float, float] | None = None
        self._rr: float | None = None

    def add(self, at: float, error_rate: float | None, p95_ms: float | None,
            request_rate: float | None = None) -> MetricSample | None:
        """One reading; returns the record to journal when an interval closes (else None).

        The interval that a reading at ``at`` closes is the one that began ``every_s`` or more
        before it; the reading itself opens the next."""
        with self._lock:
            out = None
            if self._start is not None and at - self._start >= self.every_s:
                out = self._close()
            if self._start is None:
                self._start = at
            if error_rate is not None and (self._er is None or error_rate > self._er[0]):
                self._er = (float(error_rate), at)
            if p95_ms is not None and (self._p95 is None or p95_ms > self._p95[0]):
                self._p95 = (float(p95_ms), at)
            if request_rate is not None:
                self._rr = float(request_rate)
            return out

    def flush(self) -> MetricSample | None:
        """Close the interval now (the session ends, or the incident is being resolved)."""
        with self._lock:
            return self._close() if self._start is not None else None

    def backlog(self) -> list[MetricSample]:
        """The thinned samples kept from before (oldest first): written when an incident opens."""
        with self._lock:
            return list(self._kept)

    def _close(self) -> MetricSample | None:
        er, p95, rr = self._er, self._p95, self._rr
        self._start, self._er, self._p95, self._rr = None, None, None, None
        if er is None and p95 is None:
            return None
        rec = MetricSample(target=self.target, source=self.source,
                           error_rate=er[0] if er else None, p95_ms=p95[0] if p95 else None, request_rate=rr,
                           error_rate_at=er[1] if er else None, p95_at=p95[1] if p95 else None)
        self._kept.append(rec)
        return rec
