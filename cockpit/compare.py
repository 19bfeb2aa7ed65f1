"""Before/after (runbook 001): the window before the bad release against the window after
the rollback. :func:`window_stats` averages samples; :func:`compare` gives the ratios and warns
when the error ratio after/before exceeds ``decision.compare_ratio_above`` (1.1). Pure.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from cockpit.matrix import Sample, pct

@dataclass(frozen=True, slots=True)
class WindowStats:
    """Averages of one window of samples (rates weighted by traffic when it is known)."""

    start: float
    end: float
    samples: int
    error_rate: float | None
    p95_ms: float | None
    request_rate: float | None


def window_stats(samples: Sequence[Sample], start: float | None = None, end: float | None = None) -> WindowStats:
    chosen = [s for s in samples if (start is None or s.at >= start) and (end is None or s.at <= end)]
    errs = [(s.error_rate, s.request_rate) for s in chosen if s.error_rate is not None]
    if errs and all(w is not None and w > 0 for _, w in errs):
        total = sum(w for _, w in errs)  # type: ignore[misc]
        err = sum(e * w for e, w in errs) / total  # type: ignore[operator]
    elif errs:
        err = sum(e for e, _ in errs) / len(errs)
    else:
        err = None
    p95s = [s.p95_ms for s in chosen if s.p95_ms is not None]
    rates = [s.request_rate for s in chosen if s.request_rate is not None]
    return WindowStats(
        start=chosen[0].at if chosen else (start or 0.0),
        end=chosen[-1].at if chosen else (end or 0.0),
        samples=len(chosen),
        error_rate=err,
        p95_ms=sum(p95s) / len(p95s) if p95s else None,
        request_rate=sum(rates) / len(rates) if rates else None,
    )


@dataclass(frozen=True, slots=True)
class Comparison:
    error_ratio: float | None
    latency_ratio: float | None
    throughput_ratio: float | None
    warnings: tuple[str, ...]
    before: WindowStats
    after: WindowStats

    @property
    def ok(self) -> bool:
        return not self.warnings


ERROR_FLOOR = 0.001
"""Error rates are compared as (after + floor) / (before + floor): 0 % before and 0.05 % after
is noise, not "infinitely worse"."""


def compare(before: WindowStats, after: WindowStats, ratio_above: float = 1.1, floor: float = ERROR_FLOOR) -> Comparison:
    """Runbook 001's comparison of the window before the bad release with the one after the
    rollback: ratios after/before, and a warning when the error ratio exceeds ``ratio_above``."""
    warnings: list[str] = []
    er = lr = tr = None
    if before.error_rate is not None and after.error_rate is not None:
        er = (after.error_rate + floor) / (before.error_rate + floor)
        if er > ratio_above:
            warnings.append(
                f"error rate still elevated after rollback: {pct(after.error_rate)} vs {pct(before.error_rate)} before "
                f"(ratio {er:.2f} > {ratio_above:g})"
            )
    else:
        warnings.append("no baseline to compare with" if before.error_rate is None else "no data after the rollback yet")
    if before.p95_ms and after.p95_ms is not None:
        lr = after.p95_ms / before.p95_ms
    if before.request_rate and after.request_rate is not None:
        tr = after.request_rate / before.request_rate
    return Comparison(er, lr, tr, tuple(warnings), before, after)


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)
