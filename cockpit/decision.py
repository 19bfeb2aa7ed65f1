"""The decision engine: *roll back now, or not?* Pure, fast, explained.

Inputs are :class:`Reading` s (what each metrics source saw, or that it failed), whether the
Kubernetes API answers, operator inputs and the clock; the output of each tick is a
:class:`Decision` — a :class:`Verdict` with :class:`Reason` s that each name the value, the
threshold and the window — plus, at most once per incident, a fired :class:`Trigger`. No I/O,
no clock reads, no randomness: the engine is a fold (:func:`step`) over an immutable
:class:`EngineState`, so it can be tested with properties and replayed.

The parts (all thresholds come from :mod:`cockpit.config`; defaults from the runbooks):

- :mod:`cockpit.matrix` — the decision matrix (runbook 003), the decision tree (runbook 000)
  and the verdict of one merged sample; :func:`band` is the one banding function.
- :mod:`cockpit.triggers` — the automatic rollback triggers (MOBIUS runbook), counted over
  *checks*, one per ``watch.interval_s`` whatever the caller's tick rate.
- :mod:`cockpit.compare` — before/after (runbook 001).
- this module — freshness of the sources, the merged view, the fold and :class:`Engine`.
  The names above are re-exported here (``from cockpit.decision import Verdict`` works).

**Missing data is never healthy.** A source that failed, or whose last good reading is older
than ``stale_after``, is *stale since T* and none of its numbers are used. A required metric
(``decision.matrix.required``, default error rate and p95) without a fresh value caps the
verdict: OK and MONITOR become INCONCLUSIVE. Evidence of a problem (CONSIDER, ROLLBACK_NOW)
stands, with the missing metric listed among the reasons. Zero traffic means no error rate,
and a window with fewer than ``decision.matrix.min_requests`` requests (default 20) gives no
error rate and no p95: a handful of requests is too little traffic to judge (1 error in 3 is
no 33 % error rate), so a quiet service at night never rolls back on one unlucky request.
After ``source_error_limit`` consecutive failures a source raises an *alert* (it neither
triggers nor hides).

**Health checks count only while the Kubernetes API answers.** A failed HTTP probe is
evidence against the service only if *we* can still reach the cluster: when the bastion's own
network is down, the probe, the API and the metrics all fail together. The engine learns
whether the API answers from the caller (``tick(..., cluster_ok=...)``: the rollout backend's
own call this tick) and from readings marked ``cluster=True`` (the pod-restart source, which
lists pods through the API); the API answers while one of those is fresh. While it does not,
a failed health check is not used (not a reason, not counted): it is missing data, so the
verdict is INCONCLUSIVE unless fresh metrics show a problem — and with the metrics
unreachable too, it is INCONCLUSIVE and nothing is counted or triggered. With no cluster
information at all (a caller that watches no Kubernetes target) probes count as before.

**Stabilization.** For ``stabilization_s`` after a deploy or a rollback the engine does not
judge: the verdict is INCONCLUSIVE ("stabilizing until T"), checks are not counted and the
trigger counters stay at zero. Operator inputs still count.

**Triggers** fire only on conclusive ticks, at most once per incident (``EngineState.fired``);
firing makes the verdict ROLLBACK_NOW. See :mod:`cockpit.triggers` for the counting rules.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from cockpit.compare import ERROR_FLOOR, Comparison, WindowStats, compare, finite, window_stats
from cockpit.config import DecisionConfig, WatchConfig
from cockpit.matrix import (
    OperatorInputs,
    Reason,
    Sample,
    Verdict,
    band,
    clock,
    crash_reason,
    decision_tree,
    error_rate_reason,
    evaluate,
    matrix_reasons,
    ms,
    p95_reason,
    pct,
)
from cockpit.durations import format_duration
from cockpit.triggers import Counters, Trigger, advance, check_due, fire

__all__ = [
    "CLUSTER", "ERROR_FLOOR", "METRICS", "Comparison", "Counters", "Decision", "Engine", "EngineState",
    "OperatorInputs", "Policy", "Reading", "Reason", "Sample", "SourceStatus", "Trigger", "Verdict",
    "WindowStats", "band", "clock", "cluster_answers", "compare", "crash_reason", "decision_tree",
    "error_rate_reason", "evaluate", "finite", "matrix_reasons", "merge", "ms", "new_incident", "observe",
    "p95_reason", "pct", "stabilize", "step", "window_stats",
]


@dataclass(frozen=True, slots=True)
class Reading:
    """What one metrics source saw at ``at`` (epoch seconds), or that it failed (``ok=False``).

    Rates are fractions, latencies milliseconds, ``window_s`` the window they cover.
    ``None`` means *not measured* (never zero). ``cluster``: the source reads through the
    Kubernetes API (``ok=False`` then also says the API did not answer).
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
    cluster: bool = False


METRICS = ("error_rate", "p95_ms", "request_rate", "health_ok", "probe_ms", "version", "crashes")

CLUSTER = "kubernetes"
"""The source name under which ``tick(..., cluster_ok=...)`` is recorded."""


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """Freshness of one source. ``stale_since`` is set when it failed or went quiet."""

    name: str
    last_ok: float | None = None
    stale_since: float | None = None
    consecutive_errors: int = 0
    last_error: str = ""
    alerted: bool = False
    cluster: bool = False
    last_at: float | None = None
    """When the source last reported (good or bad)."""

    def stale(self, now: float, stale_after: float) -> bool:
        return self.stale_since is not None or self.last_ok is None or now - self.last_ok > stale_after


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
    checked: bool = False
    """This tick was a check (counted by the triggers); one per ``watch.interval_s``."""
    cluster: bool | None = None
    """Whether the Kubernetes API answered (None: the caller told nothing)."""

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
    last_check: float | None = None
    """When the last check was counted (None: the next conclusive tick is one)."""


@dataclass(frozen=True, slots=True)
class Policy:
    """The slices of the settings the engine reads (pydantic models, built once)."""

    decision: DecisionConfig = field(default_factory=DecisionConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)

    @classmethod
    def from_settings(cls, settings: object) -> Policy:
        return cls(decision=settings.decision, watch=settings.watch)  # type: ignore[attr-defined]

    @property
    def interval_s(self) -> float:
        """Seconds between checks (``watch.interval_s``): the one check cadence of every consumer."""
        return self.watch.interval_s


# --------------------------------------------------------------------------- freshness


def observe(state: EngineState, readings: Iterable[Reading], now: float, policy: Policy) -> tuple[EngineState, list[str]]:
    """Fold this tick's readings into the per-source freshness; return new alerts."""
    sources = dict(state.sources)
    latest = dict(state.latest)
    alerts: list[str] = []
    limit = policy.watch.source_error_limit
    for r in readings:
        st = sources.get(r.source) or SourceStatus(r.source, cluster=r.cluster)
        if r.ok:
            st = SourceStatus(r.source, last_ok=r.at, cluster=r.cluster, last_at=r.at)
            latest[r.source] = r
        else:
            n = st.consecutive_errors + 1
            st = replace(st, consecutive_errors=n, last_error=r.error, cluster=r.cluster, last_at=r.at,
                         stale_since=st.stale_since if st.stale_since is not None else r.at)
            if n >= limit and not st.alerted:
                st = replace(st, alerted=True)
                if not r.cluster:
                    alerts.append(f"metrics source {r.source} failed {n} times in a row: {r.error or 'no answer'}")
                elif not any(o.cluster and o.alerted for o in sources.values() if o.name != r.source):
                    alerts.append(f"the Kubernetes API did not answer {n} times in a row ({r.source}): "
                                  f"{r.error or 'no answer'}")
        sources[r.source] = st
    # A source that has gone quiet is stale from the moment its reading expired.
    stale_after = policy.watch.stale_after()
    for name, st in list(sources.items()):
        if st.stale_since is None and st.last_ok is not None and now - st.last_ok > stale_after:
            sources[name] = replace(st, stale_since=st.last_ok + stale_after)
    return replace(state, sources=sources, latest=latest), alerts


def cluster_answers(state: EngineState, now: float, policy: Policy) -> bool | None:
    """Does the Kubernetes API answer? Yes when a cluster source answered within ``stale_after``
    and no cluster source has failed since; None: no cluster source was ever heard of."""
    kube = [st for st in state.sources.values() if st.cluster]
    if not kube:
        return None
    stale_after = policy.watch.stale_after()
    answered = [st.last_ok for st in kube if st.last_ok is not None and not st.stale(now, stale_after)]
    if not answered:
        return False
    failed = [st.last_at for st in kube if st.consecutive_errors and st.last_at is not None]
    return not failed or max(answered) >= max(failed)  # type: ignore[type-var]


def merge(state: EngineState, now: float, policy: Policy) -> tuple[Sample, list[Reason]]:
    """The fresh view: for each metric the newest value from a source that is not stale.

    Returns the sample and one INCONCLUSIVE reason per *required* metric that has no fresh
    value (naming the stale source and since when). A failed health check while the
    Kubernetes API does not answer is dropped from the sample and listed as missing.
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
    missing: list[Reason] = []
    least = policy.decision.matrix.min_requests
    rate = values.get("request_rate")
    if least and isinstance(rate, (int, float)) and window > 0 and rate * window < least:
        # too little traffic: a handful of requests makes no error rate or p95 worth judging
        n = round(rate * window)
        for m, req in (("error_rate", "error_rate"), ("p95_ms", "p95_ms")):
            if values.pop(m, None) is not None:
                origin.pop(m, None)
                missing.append(Reason(req, Verdict.INCONCLUSIVE,
                                      f"{_label(req)}: too little traffic to judge ({n} request{'s' if n != 1 else ''} "
                                      f"in {format_duration(window)}; at least {least}: decision.matrix.min_requests)"))
    if values.get("health_ok") is False and cluster_answers(state, now, policy) is False:
        values["health_ok"] = None
        origin.pop("health_ok", None)
        kube = [st for st in state.sources.values() if st.cluster]
        missing.append(Reason("health", Verdict.INCONCLUSIVE,
                              f"health check failed while the Kubernetes API does not answer "
                              f"({_stale_list(kube, now, stale_after)}): not counted — it may be our own network"))
    sample = Sample(at=now, window_s=window, crash_window_s=crash_window, sources=origin,
                    **{m: values.get(m) for m in METRICS})  # type: ignore[arg-type]
    req_map = {"error_rate": "error_rate", "p95_ms": "p95_ms", "health": "health_ok", "crashes": "crashes"}
    for req in policy.decision.matrix.required:
        if values.get(req_map[req]) is None and not any(r.metric == req for r in missing):
            missing.append(Reason(req, Verdict.INCONCLUSIVE, f"{_label(req)}: {_why_missing(state, now, stale_after)}"))
    return sample, missing


_LABELS = {"error_rate": "error rate", "p95_ms": "p95 latency", "health": "health", "crashes": "pod restarts"}


def _label(metric: str) -> str:
    return _LABELS.get(metric, metric)


def _stale_list(statuses: Iterable[SourceStatus], now: float, stale_after: float) -> str:
    parts = []
    for st in sorted((s for s in statuses if s.stale(now, stale_after)), key=lambda s: s.name):
        detail = f"{st.name} stale since {clock(st.stale_since)}" if st.stale_since is not None \
            else f"{st.name} has not answered yet"
        if st.last_error:
            detail += f" ({st.last_error})"
        parts.append(detail)
    return ", ".join(parts)


def _why_missing(state: EngineState, now: float, stale_after: float) -> str:
    stale = _stale_list(state.sources.values(), now, stale_after)
    if stale:
        return "no fresh data — " + stale
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


def step(
    state: EngineState,
    readings: Iterable[Reading],
    now: float,
    policy: Policy,
    inputs: OperatorInputs | None = None,
    *,
    cluster_ok: bool | None = None,
    cluster_error: str = "",
) -> tuple[EngineState, Decision]:
    """One tick: fold readings, merge the fresh view, judge, count, maybe fire a trigger.

    ``cluster_ok``: whether the caller's own Kubernetes API call of this tick answered (None:
    not known this tick); ``cluster_error`` says why not.
    """
    readings = list(readings)
    if cluster_ok is not None:
        readings.append(Reading(CLUSTER, at=now, ok=cluster_ok, cluster=True,
                                error="" if cluster_ok else (cluster_error or "the Kubernetes API did not answer")))
    state, alerts = observe(state, readings, now, policy)
    sample, missing = merge(state, now, policy)
    cluster = cluster_answers(state, now, policy)
    stabilizing = state.stabilize_until is not None and now < state.stabilize_until
    iv = policy.interval_s
    checked = False
    last_check = state.last_check
    if stabilizing:
        verdict, reasons, path = evaluate(sample, policy.decision, inputs, missing)
        tree_hits = [r for r in reasons if r.metric == "tree" and r.level is Verdict.ROLLBACK_NOW]
        stab = Reason("stabilizing", Verdict.INCONCLUSIVE,
                      f"stabilizing after {state.stabilize_why or 'a change'} until {clock(state.stabilize_until or now)}"
                      f" ({format_duration((state.stabilize_until or now) - now)} left)",
                      None, policy.watch.stabilization_s, policy.watch.stabilization_s)
        if tree_hits:
            verdict, reasons = Verdict.ROLLBACK_NOW, tree_hits + [stab]
        else:
            verdict, reasons = Verdict.INCONCLUSIVE, [stab] + [r for r in reasons if r.metric != "stabilizing"]
        counters = Counters()
        fired = None
        last_check = None  # judging restarts after the period
    else:
        verdict, reasons, path = evaluate(sample, policy.decision, inputs, missing)
        conclusive = verdict is not Verdict.INCONCLUSIVE
        checked = conclusive and check_due(state.last_check, now, iv)
        counters = advance(state.counters, sample, policy.decision, conclusive, checked)
        if checked:
            last_check = now
        fired = None
        # Triggers are judged only on conclusive ticks: inconclusive data never fires one.
        candidate = fire(counters, sample, policy.decision, iv) if conclusive else None
        if candidate is not None:
            verdict = Verdict.ROLLBACK_NOW
            reasons = [candidate.reason] + reasons
            if state.fired is None:
                fired = candidate
    for a in alerts:
        reasons.append(Reason("alert", Verdict.INCONCLUSIVE, f"alert: {a}"))
    changed = verdict is not state.verdict
    new_state = replace(state, counters=counters, verdict=verdict, last_check=last_check,
                        fired=state.fired if fired is None else fired)
    return new_state, Decision(now, verdict, tuple(reasons), changed, sample, counters,
                               fired, path, tuple(alerts), stabilizing, checked, cluster)


class Engine:
    """A convenience holder around :func:`step` for one service (not thread-safe)."""

    def __init__(self, policy: Policy | None = None, state: EngineState | None = None) -> None:
        self.policy = policy or Policy()
        self.state = state or EngineState()
        self.inputs = OperatorInputs()

    @property
    def interval_s(self) -> float:
        """How often to tick: ticking more often shows fresher verdicts but counts no more checks."""
        return self.policy.interval_s

    def tick(self, readings: Iterable[Reading], now: float, *, cluster_ok: bool | None = None,
             cluster_error: str = "") -> Decision:
        """One tick. ``cluster_ok``: did the caller's Kubernetes API call of this tick answer?
        (Pass it whenever the caller talks to a cluster; None: not known this tick.)"""
        self.state, decision = step(self.state, readings, now, self.policy, self.inputs,
                                    cluster_ok=cluster_ok, cluster_error=cluster_error)
        return decision

    def stabilize(self, now: float, why: str, period_s: float | None = None) -> None:
        p = self.policy.watch.stabilization_s if period_s is None else period_s
        self.state = stabilize(self.state, now, p, why)

    def operator_input(self, key: str, value: object) -> None:
        self.inputs = self.inputs.with_input(key, value)
