"""Automatic rollback triggers (MOBIUS runbook): counters over *checks*, and when they fire.

Triggers, each on consecutive checks: 3 failed health checks; p95 > 5000 ms 3 times; error
rate > 5 % 5 times; and share of passed checks < 70 % once ≥ 5 checks were made (a check
passes when no metric is at ROLLBACK_NOW level and the health check, if any, passed). All the
bounds are ``decision.triggers`` in the settings.

**A check is one per ``watch.interval_s``** (one setting for ``cockpit watch`` and the TUI),
whatever the caller's tick rate: a tick is a check when at least ``interval_s`` passed since
the last check (:func:`check_due`; less :func:`slack`, 10 % and at most 0.5 s of timer
jitter, so a loop that sleeps ``interval_s`` on a busy machine never skips one). Checks are thus at least ``interval_s −
slack`` apart and ``n`` consecutive checks span at least ``(n − 1) × (interval_s − slack)``:
a consumer ticking every second cannot trigger sooner than one ticking every ``interval_s``.
A tick after a long pause is one check (missed checks are never made up in a burst).

A counter advances on a check when its metric is beyond the bound, resets to zero when the
metric is within it, and *also resets when the metric is missing or stale* (consecutive means
without a gap; a gap in the data cannot add to a case for rolling back). Ticks between checks
never advance a counter but do reset it (a gap between two checks is still a gap).
Inconclusive ticks are not checks. Pure; :mod:`cockpit.decision` calls it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cockpit.durations import format_duration
from cockpit.matrix import Reason, Sample, Verdict, ms, pct

if TYPE_CHECKING:
    from cockpit.config import DecisionConfig


@dataclass(frozen=True, slots=True)
class Counters:
    """Consecutive-check counters and the check tally since the last (re)start of judging."""

    health_failures: int = 0
    error_high: int = 0
    p95_high: int = 0
    checks: int = 0
    passed: int = 0

    @property
    def success_rate(self) -> float | None:
        return self.passed / self.checks if self.checks else None


@dataclass(frozen=True, slots=True)
class Trigger:
    """An automatic rollback trigger that fired: its name, why, and the count that did it."""

    name: str
    reason: Reason
    count: int


# --------------------------------------------------------------------------- cadence


def slack(interval_s: float) -> float:
    """How early a tick may come and still be a check (timer and scheduling jitter on a busy
    machine): 10 % of the interval, at most half a second. A caller ticking every second with
    a 5 s interval gains nothing (4 s < 4.5 s); a caller ticking faster gains at most this
    much per check."""
    return min(0.5, 0.1 * interval_s)


def check_due(last_check: float | None, now: float, interval_s: float) -> bool:
    """Is a tick at ``now`` a check? (``last_check``: when the last one was; None: never.)"""
    return last_check is None or now - last_check >= interval_s - slack(interval_s)


# --------------------------------------------------------------------------- counting


def advance(counters: Counters, sample: Sample, cfg: DecisionConfig, conclusive: bool, check: bool = True) -> Counters:
    """The counters after one tick. ``check``: this tick is a check (may advance); otherwise the
    counters may only hold or reset."""
    t = cfg.triggers
    b = cfg.matrix
    bad_health = sample.health_ok is False
    bad_err = sample.error_rate is not None and sample.error_rate > t.error_rate_above
    bad_p95 = sample.p95_ms is not None and sample.p95_ms > t.p95_ms_above
    step = 1 if check and conclusive else 0
    health = counters.health_failures + step if bad_health else 0
    err = counters.error_high + step if bad_err else 0
    p95 = counters.p95_high + step if bad_p95 else 0
    checks, passed = counters.checks, counters.passed
    if check and conclusive:
        failed = (
            bad_health
            or (sample.error_rate is not None and sample.error_rate > b.error_rate.rollback_above)
            or (sample.p95_ms is not None and sample.p95_ms > b.p95_ms.rollback_above)
            or (sample.crashes is not None and sample.crashes > b.crashes.rollback_above)
        )
        checks += 1
        passed += 0 if failed else 1
    return Counters(health, err, p95, checks, passed)


def fire(counters: Counters, sample: Sample, cfg: DecisionConfig, interval_s: float) -> Trigger | None:
    """The trigger the counters call for, if any (the first of health, error rate, p95, success)."""
    t = cfg.triggers
    w = sample.window_s or None
    over = f" over {format_duration(w)}" if w else ""
    if counters.health_failures >= t.health_failures:
        n = counters.health_failures
        return Trigger("health", Reason("trigger:health", Verdict.ROLLBACK_NOW,
                                        f"trigger: {n} consecutive health checks failed (limit {t.health_failures})",
                                        float(n), float(t.health_failures), n * interval_s), n)
    if counters.error_high >= t.error_consecutive:
        n = counters.error_high
        return Trigger("error_rate", Reason("trigger:error_rate", Verdict.ROLLBACK_NOW,
                                            f"trigger: error rate {pct(sample.error_rate or 0)} > {pct(t.error_rate_above)} "
                                            f"for {n} consecutive checks (limit {t.error_consecutive}){over}",
                                            sample.error_rate, t.error_rate_above, w), n)
    if counters.p95_high >= t.p95_consecutive:
        n = counters.p95_high
        return Trigger("p95", Reason("trigger:p95", Verdict.ROLLBACK_NOW,
                                     f"trigger: p95 {ms(sample.p95_ms or 0)} > {ms(t.p95_ms_above)} "
                                     f"for {n} consecutive checks (limit {t.p95_consecutive}){over}",
                                     sample.p95_ms, t.p95_ms_above, w), n)
    rate = counters.success_rate
    if counters.checks >= t.success_min_checks and rate is not None and rate < t.success_rate_below:
        return Trigger("success_rate", Reason("trigger:success_rate", Verdict.ROLLBACK_NOW,
                                              f"trigger: {counters.passed}/{counters.checks} checks passed "
                                              f"({pct(rate)} < {pct(t.success_rate_below)}, after ≥ {t.success_min_checks} checks)",
                                              rate, t.success_rate_below, counters.checks * interval_s), counters.checks)
    return None

