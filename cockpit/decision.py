"""The decision engine: *roll back now, or not?* Pure, fast, explained.

Inputs are :class:`Reading` s (what each metrics source saw, or that it failed), operator
inputs and the clock; the output of each tick is a :class:`Decision` — a :class:`Verdict`
with :class:`Reason` s that each name the value, the threshold and the window — plus, at most
once per incident, a fired :class:`Trigger`. No I/O, no clock reads, no randomness: the
engine is a fold (:func:`step`) over an immutable :class:`EngineState`, so it can be tested
with properties and replayed.

Rules (all thresholds come from :mod:`cockpit.config`; defaults from the runbooks):

**Matrix** (runbook 003). Boundaries follow the runbook's wording — *"> 5 %"* roll back now,
*"2–5 %"* consider, *"1–2 %"* monitor — so the roll-back bound is **strict** and the lower
bands are **inclusive** at both ends, the higher band winning where two touch:

=============  ==============  ==============  ==============  =========
metric         ROLLBACK_NOW    CONSIDER        MONITOR         OK
=============  ==============  ==============  ==============  =========
error rate     > 5 %           2 % … 5 %       1 % … < 2 %     < 1 %
p95 latency    > 2000 ms       1000 … 2000     500 … < 1000    < 500 ms
pod restarts   > 3 in 5 min                    1 … 3           0
user reports                   > 10 in 5 min
health check                   failing
=============  ==============  ==============  ==============  =========

So 5.00 % is CONSIDER and 5.01 % ROLLBACK_NOW; 2000 ms is CONSIDER, 2001 ms ROLLBACK_NOW;
exactly 1 % / 500 ms is MONITOR (the runbooks' "after rollback" targets are "< 1 %" and
"< 500 ms"). The verdict is the worst level among the reasons.

**Decision tree** (runbook 000). Data loss, a security breach or errors > 50 % → immediate
rollback; > 10 % of users affected → standard rollback; otherwise a hotfix may do. Both
rollbacks make the verdict ROLLBACK_NOW (their reasons say which); "hotfix" is advice only.

**Missing data is never healthy.** A source that failed, or whose last good reading is older
than ``stale_after``, is *stale since T* and none of its numbers are used. A required metric
(``decision.matrix.required``, default error rate and p95) without a fresh value caps the
verdict: OK and MONITOR become INCONCLUSIVE. Evidence of a problem (CONSIDER, ROLLBACK_NOW)
stands, with the missing metric listed among the reasons. Zero traffic means no error rate.
After ``source_error_limit`` consecutive failures a source raises an *alert* (it neither
triggers nor hides).

**Stabilization.** For ``stabilization_s`` after a deploy or a rollback the engine does not
judge: the verdict is INCONCLUSIVE ("stabilizing until T"), checks are not counted and the
trigger counters stay at zero. Operator inputs still count.

**Triggers** (MOBIUS runbook), each on consecutive checks, one check per tick:
3 failed health checks; p95 > 5000 ms 3 times; error rate > 5 % 5 times; and share of
passed checks < 70 % once ≥ 5 checks were made (a check passes when no metric is at
ROLLBACK_NOW level and the health check, if any, passed). A counter advances when its metric
is beyond the bound, resets to zero when the metric is within it, and *also resets when the
metric is missing or stale* (consecutive means without a gap; a gap in the data cannot add to
a case for rolling back). Inconclusive ticks are not checks. A trigger fires at most once per
incident (``EngineState.fired``); firing makes the verdict ROLLBACK_NOW.

**Before/after** (runbook 001): :func:`compare` the window before the bad release with the
window after the rollback; warn when the error ratio after/before exceeds 1.1.
"""
from __future__ import annotations

import math
import time as _time
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from dataclasses import dataclass, field, replace
from enum import Enum

from cockpit.config import DecisionConfig, WatchConfig


class Verdict(str, Enum):
    OK = "OK"
    MONITOR = "MONITOR"
    CONSIDER = "CONSIDER"
    ROLLBACK_NOW = "ROLLBACK_NOW"
    INCONCLUSIVE = "INCONCLUSIVE"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __str__(self) -> str:
        return self.value


_RANK = {Verdict.OK: 0, Verdict.MONITOR: 1, Verdict.INCONCLUSIVE: 1, Verdict.CONSIDER: 2, Verdict.ROLLBACK_NOW: 3}


@dataclass(frozen=True, slots=True)
class Reason:
    """Why: ``metric`` (``error_rate``, ``p95_ms``, ``crashes``, ``health``, ``user_reports``,
    ``tree``, ``trigger:<name>``, ``stale``, ``stabilizing``...), the level it argues for, the
    value, the threshold and the window (seconds) it was measured over, and one line of text."""

    metric: str
    level: Verdict
    text: str
    value: float | None = None
    threshold: float | None = None
    window_s: float | None = None

    def __str__(self) -> str:
        return self.text

    def as_dict(self) -> dict:
        return {
            "metric": self.metric,
            "level": self.level.value,
            "value": self.value,
            "threshold": self.threshold,
            "window_s": self.window_s,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class Reading:
    """What one metrics source saw at ``at`` (epoch seconds), or that it failed (``ok=False``).

    Rates are fractions, latencies milliseconds, ``window_s`` the window they cover.
    ``None`` means *not measured* (never zero).
    """

    source: str
    at: float
    ok: bool = True
    error: str = ""
    window_s: float = 0.0
    error_rate: float | None = None
    p95_ms: float | None = None
    request_rate: float | None = None
    health_ok: bool | None = None
    probe_ms: float | None = None
    version: str | None = None
    crashes: int | None = None
    crash_window_s: float | None = None


METRICS = ("error_rate", "p95_ms", "request_rate", "health_ok", "probe_ms", "version", "crashes")


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """Freshness of one source. ``stale_since`` is set when it failed or went quiet."""

    name: str
    last_ok: float | None = None
    stale_since: float | None = None
    consecutive_errors: int = 0
    last_error: str = ""
    alerted: bool = False

    def stale(self, now: float, stale_after: float) -> bool:
        return self.stale_since is not None or self.last_ok is None or now - self.last_ok > stale_after


@dataclass(frozen=True, slots=True)
class Sample:
    """The merged, fresh view of one service at one tick. ``None``: no fresh value."""

    at: float
    error_rate: float | None = None
    p95_ms: float | None = None
    request_rate: float | None = None
    health_ok: bool | None = None
    probe_ms: float | None = None
    version: str | None = None
    crashes: int | None = None
    window_s: float = 0.0
    crash_window_s: float | None = None
    sources: dict[str, str] = field(default_factory=dict)
    """metric → the source its value came from."""


@dataclass(frozen=True, slots=True)
class OperatorInputs:
    """What the operator told us (journaled as ``operator_input``). ``None``: not asked yet."""

    data_loss: bool | None = None
    security_breach: bool | None = None
    users_affected: float | None = None
    """Fraction of users affected (0.15 = 15 %)."""
    user_reports: int | None = None
    """User reports in the last ``user_reports.window_s``."""

    KEYS = ("data_loss", "security_breach", "users_affected", "user_reports")

    def with_input(self, key: str, value: object) -> OperatorInputs:
        """Return a copy with ``key`` set (as folded from an ``operator_input`` event)."""
        if key not in self.KEYS:
            raise ValueError(f"unknown operator input {key!r}; expected one of {', '.join(self.KEYS)}")
        if key in ("data_loss", "security_breach"):
            v: object = None if value is None else _as_bool(value)
        elif key == "users_affected":
            v = None if value is None else _as_fraction(value)
        else:
            v = None if value is None else int(value)  # type: ignore[arg-type]
        return replace(self, **{key: v})


def _as_bool(value: object) -> bool:
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("y", "yes", "true", "1", "on"):
            return True
        if low in ("n", "no", "false", "0", "off"):
            return False
        raise ValueError(f"expected yes or no, got {value!r}")
    return bool(value)


def _as_fraction(value: object) -> float:
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            return float(text[:-1]) / 100.0
        value = float(text)
    f = float(value)  # type: ignore[arg-type]
    if not 0.0 <= f <= 1.0:
        raise ValueError(f"expected a fraction 0..1 or a percentage like '15%', got {value!r}")
    return f


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


@dataclass(frozen=True, slots=True)
class Decision:
    at: float
    verdict: Verdict
    reasons: tuple[Reason, ...]
    changed: bool
    sample: Sample
    counters: Counters
    trigger: Trigger | None = None
    """The trigger that fired *on this tick* (at most once per incident)."""
    tree: str | None = None
    """Decision-tree path: ``immediate``, ``standard``, ``hotfix`` or None (not enough known)."""
    alerts: tuple[str, ...] = ()
    """New alerts raised on this tick (a source failing ``source_error_limit`` times in a row)."""
    stabilizing: bool = False

    def line(self) -> str:
        """One line for a log: ``VERDICT — reason; reason``."""
        return f"{self.verdict.value} — " + "; ".join(r.text for r in self.reasons) if self.reasons else self.verdict.value


@dataclass(frozen=True, slots=True)
class EngineState:
    """Everything the engine remembers about one service between ticks."""

    sources: dict[str, SourceStatus] = field(default_factory=dict)
    latest: dict[str, Reading] = field(default_factory=dict)
    counters: Counters = Counters()
    verdict: Verdict | None = None
    stabilize_until: float | None = None
    stabilize_why: str = ""
    fired: Trigger | None = None
    """Set once a trigger fired in this incident; no trigger fires again until :func:`new_incident`."""


@dataclass(frozen=True, slots=True)
class Policy:
    """The slices of the settings the engine reads (pydantic models, built once)."""

    decision: DecisionConfig = field(default_factory=DecisionConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)

    @classmethod
    def from_settings(cls, settings: object) -> Policy:
        return cls(decision=settings.decision, watch=settings.watch)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- formatting


def pct(x: float) -> str:
    """0.0501 → '5.01%'; trims trailing zeros but keeps the precision that matters at edges."""
    v = x * 100.0
    if v == 0:
        return "0%"
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def ms(x: float) -> str:
    return f"{x:.0f} ms" if x >= 10 or x == int(x) else f"{x:.1f} ms"


def secs(x: float | None) -> str:
    if x is None:
        return "?"
    return f"{x:.0f}s" if x >= 1 or x == 0 else f"{x:.1f}s"


def clock(ts: float) -> str:
    return _time.strftime("%H:%M:%S", _time.localtime(ts))


# --------------------------------------------------------------------------- the matrix


def band(value: float, rollback_above: float, consider_from: float | None, monitor_from: float | None) -> Verdict:
    """The matrix rule for one value: strict above ``rollback_above``, inclusive below."""
    if value > rollback_above:
        return Verdict.ROLLBACK_NOW
    if consider_from is not None and value >= consider_from:
        return Verdict.CONSIDER
    if monitor_from is not None and value >= monitor_from:
        return Verdict.MONITOR
    return Verdict.OK


def _window(w: float | None) -> str:
    return f" over {secs(w)}" if w else ""


def _band_reason(metric: str, label: str, fmt: Callable[[float], str], b: Any, value: float,
                 window_s: float | None) -> Reason:
    """A reason for a value in a three-band matrix row (error rate, p95)."""
    level = band(value, b.rollback_above, b.consider_from, b.monitor_from)
    v = fmt(value)
    if level is Verdict.ROLLBACK_NOW:
        text, th = f"{label} {v} > {fmt(b.rollback_above)}", b.rollback_above
    elif level is Verdict.CONSIDER:
        text, th = f"{label} {v} within {fmt(b.consider_from)}–{fmt(b.rollback_above)} (consider)", b.consider_from
    elif level is Verdict.MONITOR:
        text, th = f"{label} {v} within {fmt(b.monitor_from)}–{fmt(b.consider_from)} (monitor)", b.monitor_from
    else:
        text, th = f"{label} {v} < {fmt(b.monitor_from)}", b.monitor_from
    return Reason(metric, level, text + _window(window_s), value, th, window_s)


def error_rate_reason(value: float, cfg: DecisionConfig, window_s: float | None) -> Reason:
    return _band_reason("error_rate", "error rate", pct, cfg.matrix.error_rate, value, window_s)


def p95_reason(value: float, cfg: DecisionConfig, window_s: float | None) -> Reason:
    return _band_reason("p95_ms", "p95", ms, cfg.matrix.p95_ms, value, window_s)


def crash_reason(value: int, cfg: DecisionConfig, window_s: float | None) -> Reason:
    b = cfg.matrix.crashes
    w = window_s or b.window_s
    level = band(value, b.rollback_above, None, b.monitor_from)
    if level is Verdict.ROLLBACK_NOW:
        text, th = f"{value} pod restarts > {b.rollback_above}", b.rollback_above
    elif level is Verdict.MONITOR:
        text, th = f"{value} pod restart{'s' if value != 1 else ''} (≤ {b.rollback_above}: monitor)", b.monitor_from
    else:
        text, th = "no pod restarts", b.monitor_from
    return Reason("crashes", level, text + _window(w), float(value), float(th), w)


def matrix_reasons(sample: Sample, cfg: DecisionConfig, inputs: OperatorInputs | None = None) -> list[Reason]:
    """One reason per known metric (and per operator input that the matrix judges)."""
    out: list[Reason] = []
    w = sample.window_s or None
    if sample.error_rate is not None:
        out.append(error_rate_reason(sample.error_rate, cfg, w))
    if sample.p95_ms is not None:
        out.append(p95_reason(sample.p95_ms, cfg, w))
    if sample.crashes is not None:
        out.append(crash_reason(sample.crashes, cfg, sample.crash_window_s))
    if sample.health_ok is not None:
        if sample.health_ok:
            out.append(Reason("health", Verdict.OK, "health check passed"))
        else:
            out.append(Reason("health", Verdict.CONSIDER, "health check failed"))
    if inputs is not None and inputs.user_reports is not None:
        u = cfg.matrix.user_reports
        if inputs.user_reports > u.investigate_above:
            out.append(Reason("user_reports", Verdict.CONSIDER,
                              f"{inputs.user_reports} user reports > {u.investigate_above} (investigate){_window(u.window_s)}",
                              float(inputs.user_reports), float(u.investigate_above), u.window_s))
        else:
            out.append(Reason("user_reports", Verdict.OK,
                              f"{inputs.user_reports} user reports ≤ {u.investigate_above}{_window(u.window_s)}",
                              float(inputs.user_reports), float(u.investigate_above), u.window_s))
    return out


def decision_tree(inputs: OperatorInputs | None, error_rate: float | None, cfg: DecisionConfig,
                  window_s: float | None = None) -> tuple[str | None, Reason | None]:
    """Runbook 000's tree. Returns (path, reason); path None when nothing is known."""
    t = cfg.tree
    i = inputs or OperatorInputs()
    if i.data_loss:
        return "immediate", Reason("tree", Verdict.ROLLBACK_NOW, "operator: data loss → immediate rollback", 1.0)
    if i.security_breach:
        return "immediate", Reason("tree", Verdict.ROLLBACK_NOW, "operator: security breach → immediate rollback", 1.0)
    if error_rate is not None and error_rate > t.critical_error_rate_above:
        return "immediate", Reason("tree", Verdict.ROLLBACK_NOW,
                                   f"error rate {pct(error_rate)} > {pct(t.critical_error_rate_above)} (critical) → immediate rollback{_window(window_s)}",
                                   error_rate, t.critical_error_rate_above, window_s)
    if i.users_affected is not None and i.users_affected > t.users_affected_above:
        return "standard", Reason("tree", Verdict.ROLLBACK_NOW,
                                  f"operator: {pct(i.users_affected)} of users affected > {pct(t.users_affected_above)} → standard rollback",
                                  i.users_affected, t.users_affected_above)
    if i.data_loss is None and i.security_breach is None and i.users_affected is None:
        return None, None
    return "hotfix", Reason("tree", Verdict.OK, "operator inputs: not critical, few users affected → consider a hotfix")


def evaluate(sample: Sample, cfg: DecisionConfig, inputs: OperatorInputs | None = None,
             missing: Sequence[Reason] = ()) -> tuple[Verdict, list[Reason], str | None]:
    """The stateless verdict for one merged sample (matrix + tree + the missing-data rule)."""
    reasons = matrix_reasons(sample, cfg, inputs)
    path, tree_reason = decision_tree(inputs, sample.error_rate, cfg, sample.window_s or None)
    if tree_reason is not None:
        reasons.insert(0, tree_reason)
    worst = max((r.level.rank for r in reasons), default=-1)
    if worst >= Verdict.CONSIDER.rank:
        verdict = Verdict.ROLLBACK_NOW if worst == Verdict.ROLLBACK_NOW.rank else Verdict.CONSIDER
    elif missing or worst < 0:
        verdict = Verdict.INCONCLUSIVE
    else:
        verdict = Verdict.MONITOR if worst == Verdict.MONITOR.rank else Verdict.OK
    # Order: the reasons that made the verdict first, then the rest, missing data last.
    reasons.sort(key=lambda r: -r.level.rank)
    return verdict, reasons + list(missing), path


# --------------------------------------------------------------------------- freshness


def observe(state: EngineState, readings: Iterable[Reading], now: float, policy: Policy) -> tuple[EngineState, list[str]]:
    """Fold this tick's readings into the per-source freshness; return new alerts."""
    sources = dict(state.sources)
    latest = dict(state.latest)
    alerts: list[str] = []
    limit = policy.watch.source_error_limit
    for r in readings:
        st = sources.get(r.source) or SourceStatus(r.source)
        if r.ok:
            st = SourceStatus(r.source, last_ok=r.at)
            latest[r.source] = r
        else:
            n = st.consecutive_errors + 1
            st = replace(st, consecutive_errors=n, last_error=r.error,
                         stale_since=st.stale_since if st.stale_since is not None else r.at)
            if n >= limit and not st.alerted:
                st = replace(st, alerted=True)
                alerts.append(f"metrics source {r.source} failed {n} times in a row: {r.error or 'no answer'}")
        sources[r.source] = st
    # A source that has gone quiet is stale from the moment its reading expired.
    stale_after = policy.watch.stale_after()
    for name, st in list(sources.items()):
        if st.stale_since is None and st.last_ok is not None and now - st.last_ok > stale_after:
            sources[name] = replace(st, stale_since=st.last_ok + stale_after)
    return replace(state, sources=sources, latest=latest), alerts


def merge(state: EngineState, now: float, policy: Policy) -> tuple[Sample, list[Reason]]:
    """The fresh view: for each metric the newest value from a source that is not stale.

    Returns the sample and one INCONCLUSIVE reason per *required* metric that has no fresh
    value (naming the stale source and since when).
    """
    stale_after = policy.watch.stale_after()
    values: dict[str, object] = {}
    origin: dict[str, str] = {}
    when: dict[str, float] = {}
    window = 0.0
    crash_window = None
    for name, r in state.latest.items():
        st = state.sources.get(name)
        if st is None or st.stale(now, stale_after):
            continue
        for m in METRICS:
            v = getattr(r, m)
            if v is None:
                continue
            if m not in when or r.at > when[m]:
                values[m], origin[m], when[m] = v, name, r.at
                if m in ("error_rate", "p95_ms", "request_rate"):
                    window = max(window, r.window_s)
                if m == "crashes":
                    crash_window = r.crash_window_s
    sample = Sample(at=now, window_s=window, crash_window_s=crash_window, sources=origin,
                    **{m: values.get(m) for m in METRICS})  # type: ignore[arg-type]
    missing: list[Reason] = []
    req_map = {"error_rate": "error_rate", "p95_ms": "p95_ms", "health": "health_ok", "crashes": "crashes"}
    for req in policy.decision.matrix.required:
        if values.get(req_map[req]) is None:
            missing.append(Reason(req, Verdict.INCONCLUSIVE, f"{_label(req)}: {_why_missing(state, now, stale_after)}"))
    return sample, missing


_LABELS = {"error_rate": "error rate", "p95_ms": "p95 latency", "health": "health", "crashes": "pod restarts"}


def _label(metric: str) -> str:
    return _LABELS.get(metric, metric)


def _why_missing(state: EngineState, now: float, stale_after: float) -> str:
    stale = [st for st in state.sources.values() if st.stale(now, stale_after)]
    if stale:
        parts = []
        for st in sorted(stale, key=lambda s: s.name):
            if st.stale_since is not None:
                detail = f"{st.name} stale since {clock(st.stale_since)}"
            else:
                detail = f"{st.name} has not answered yet"
            if st.last_error:
                detail += f" ({st.last_error})"
            parts.append(detail)
        return "no fresh data — " + ", ".join(parts)
    return "no data (no traffic in the window, or not measured yet)"


# --------------------------------------------------------------------------- the fold


def stabilize(state: EngineState, now: float, period_s: float, why: str) -> EngineState:
    """Start a stabilization period (after a deploy or a rollback): counters restart."""
    until = now + period_s
    if state.stabilize_until is not None and state.stabilize_until > until and state.stabilize_why == why:
        until = state.stabilize_until
    return replace(state, stabilize_until=until, stabilize_why=why, counters=Counters())


def new_incident(state: EngineState) -> EngineState:
    """Forget the fired trigger (an operator closed the incident); counters restart."""
    return replace(state, fired=None, counters=Counters())


def _advance(counters: Counters, sample: Sample, policy: Policy, conclusive: bool) -> Counters:
    t = policy.decision.triggers
    b = policy.decision.matrix
    health = counters.health_failures + 1 if sample.health_ok is False else 0
    err = counters.error_high + 1 if sample.error_rate is not None and sample.error_rate > t.error_rate_above else 0
    p95 = counters.p95_high + 1 if sample.p95_ms is not None and sample.p95_ms > t.p95_ms_above else 0
    checks, passed = counters.checks, counters.passed
    if conclusive:
        failed = (
            sample.health_ok is False
            or (sample.error_rate is not None and sample.error_rate > b.error_rate.rollback_above)
            or (sample.p95_ms is not None and sample.p95_ms > b.p95_ms.rollback_above)
            or (sample.crashes is not None and sample.crashes > b.crashes.rollback_above)
        )
        checks += 1
        passed += 0 if failed else 1
    return Counters(health, err, p95, checks, passed)


def _fire(counters: Counters, sample: Sample, policy: Policy) -> Trigger | None:
    t = policy.decision.triggers
    w = sample.window_s or None
    iv = policy.watch.interval_s
    if counters.health_failures >= t.health_failures:
        n = counters.health_failures
        return Trigger("health", Reason("trigger:health", Verdict.ROLLBACK_NOW,
                                        f"trigger: {n} consecutive health checks failed (limit {t.health_failures})",
                                        float(n), float(t.health_failures), n * iv), n)
    if counters.error_high >= t.error_consecutive:
        n = counters.error_high
        return Trigger("error_rate", Reason("trigger:error_rate", Verdict.ROLLBACK_NOW,
                                            f"trigger: error rate {pct(sample.error_rate or 0)} > {pct(t.error_rate_above)} "
                                            f"for {n} consecutive checks (limit {t.error_consecutive}){_window(w)}",
                                            sample.error_rate, t.error_rate_above, w), n)
    if counters.p95_high >= t.p95_consecutive:
        n = counters.p95_high
        return Trigger("p95", Reason("trigger:p95", Verdict.ROLLBACK_NOW,
                                     f"trigger: p95 {ms(sample.p95_ms or 0)} > {ms(t.p95_ms_above)} "
                                     f"for {n} consecutive checks (limit {t.p95_consecutive}){_window(w)}",
                                     sample.p95_ms, t.p95_ms_above, w), n)
    rate = counters.success_rate
    if counters.checks >= t.success_min_checks and rate is not None and rate < t.success_rate_below:
        return Trigger("success_rate", Reason("trigger:success_rate", Verdict.ROLLBACK_NOW,
                                              f"trigger: {counters.passed}/{counters.checks} checks passed "
                                              f"({pct(rate)} < {pct(t.success_rate_below)}, after ≥ {t.success_min_checks} checks)",
                                              rate, t.success_rate_below, counters.checks * iv), counters.checks)
    return None


def step(
    state: EngineState,
    readings: Iterable[Reading],
    now: float,
    policy: Policy,
    inputs: OperatorInputs | None = None,
) -> tuple[EngineState, Decision]:
    """One tick: fold readings, merge the fresh view, judge, count, maybe fire a trigger."""
    state, alerts = observe(state, readings, now, policy)
    sample, missing = merge(state, now, policy)
    stabilizing = state.stabilize_until is not None and now < state.stabilize_until
    if stabilizing:
        verdict, reasons, path = evaluate(sample, policy.decision, inputs, missing)
        tree_hits = [r for r in reasons if r.metric == "tree" and r.level is Verdict.ROLLBACK_NOW]
        stab = Reason("stabilizing", Verdict.INCONCLUSIVE,
                      f"stabilizing after {state.stabilize_why or 'a change'} until {clock(state.stabilize_until or now)}"
                      f" ({secs((state.stabilize_until or now) - now)} left)",
                      None, policy.watch.stabilization_s, policy.watch.stabilization_s)
        if tree_hits:
            verdict, reasons = Verdict.ROLLBACK_NOW, tree_hits + [stab]
        else:
            verdict, reasons = Verdict.INCONCLUSIVE, [stab] + [r for r in reasons if r.metric != "stabilizing"]
        counters = Counters()
        fired = None
    else:
        verdict, reasons, path = evaluate(sample, policy.decision, inputs, missing)
        conclusive = verdict is not Verdict.INCONCLUSIVE
        counters = _advance(state.counters, sample, policy, conclusive)
        fired = None
        # Triggers are judged only on conclusive ticks: inconclusive data never fires one.
        candidate = _fire(counters, sample, policy) if conclusive else None
        if candidate is not None:
            verdict = Verdict.ROLLBACK_NOW
            reasons = [candidate.reason] + reasons
            if state.fired is None:
                fired = candidate
    for a in alerts:
        reasons.append(Reason("alert", Verdict.INCONCLUSIVE, f"alert: {a}"))
    changed = verdict is not state.verdict
    new_state = replace(state, counters=counters, verdict=verdict,
                        fired=state.fired if fired is None else fired)
    return new_state, Decision(now, verdict, tuple(reasons), changed, sample, counters,
                               fired, path, tuple(alerts), stabilizing)


class Engine:
    """A convenience holder around :func:`step` for one service (not thread-safe)."""

    def __init__(self, policy: Policy | None = None, state: EngineState | None = None) -> None:
        self.policy = policy or Policy()
        self.state = state or EngineState()
        self.inputs = OperatorInputs()

    def tick(self, readings: Iterable[Reading], now: float) -> Decision:
        self.state, decision = step(self.state, readings, now, self.policy, self.inputs)
        return decision

    def stabilize(self, now: float, why: str, period_s: float | None = None) -> None:
        p = self.policy.watch.stabilization_s if period_s is None else period_s
        self.state = stabilize(self.state, now, p, why)

    def operator_input(self, key: str, value: object) -> None:
        self.inputs = self.inputs.with_input(key, value)


# --------------------------------------------------------------------------- before / after


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
