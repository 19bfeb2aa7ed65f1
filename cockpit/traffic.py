"""Gradual traffic shifting: the ``traffic`` port and the shift loop (pure but for the port).

A *route* splits its traffic among named *backends* by integer weights: an HAProxy backend
among its servers (``backends/traffic/haproxy.py``), a Gateway API ``HTTPRoute`` among its
``backendRefs`` (``backends/traffic/gateway.py``). A shift moves traffic onto one backend,
``to`` (the version that keeps traffic, usually the old one), in steps given as the share
*left on the others* — the runbook's ``90,70,50,25,0`` %. Each step:

1. an fsynced intent ``traffic.weights`` (route, shift id, step index, the weights planned,
   the weights before), the write through the port, the weights read back, the outcome;
2. a hold (``cancel`` ends it early: the shift is aborted);
3. the verdict for ``to`` from the ``judge`` callable (error counts read during the hold),
   then — when the port has :class:`HasErrorCounts` — one log line with *every* backend's
   error rate over the hold (``step 2 error rates — old: 0.4% errors over 812 requests —
   new: 6.1% errors over 340 requests``), which :mod:`cockpit.traffic_view` folds so the
   rollback screen shows a rate beside each version.
   When it is worse than the previous step's, ``on_worse`` decides: ``continue``, ``pause``
   (stop here, the shift stays open: resume continues after this step) or ``abort``. With
   ``stop_when_healthy`` the shift ends at the first step whose verdict is OK (the runbook's
   "stop once stable").

Abort puts the split back where the shift started (its own intent/outcome pair). The shift
itself is an intent ``traffic.shift`` (its plan) whose outcome closes it; resume
(:func:`pending_shift` + :func:`run_shift` with ``resume=True``) continues after the last
step whose outcome is ok, reconciling a step whose intent has no outcome against the weights
the route has now — so no step's write is ever sent twice. Since that step's hold may have
been cut short, resume holds and judges it once more (no write) before the next step.

Weights are written as percentages (0–100, summing to 100), which fit both HAProxy's 0–256
and the Gateway API's weights. Imports nothing of a client library.
"""
from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from cockpit.errors import Aborted, CockpitError, ConfigError, NotFoundError
from cockpit.matrix import Verdict, band, default_matrix

Split = dict[str, int]

SHIFT = "traffic.shift"
WEIGHTS = "traffic.weights"


# ----------------------------------------------------------------------------- the port


class TrafficPort(Protocol):
    """A load balancer or route whose traffic is split among named backends by weight.

    Implementations raise :class:`~cockpit.errors.NotFoundError` for a route that does not
    exist, :class:`~cockpit.errors.UnreachableError` when the balancer does not answer and
    :class:`~cockpit.errors.ReadonlyError` for a write when built readonly (before sending).
    """

    readonly: bool

    def get_weights(self, route: str) -> Split:
        """The route's backends and their weights now."""
        ...

    def set_weights(self, route: str, weights: Mapping[str, int]) -> Split:
        """Set every named backend's weight (all or nothing: every name is checked before the
        first write, and a failed write puts the earlier ones back); returns the weights read
        back."""
        ...


@runtime_checkable
class CanDrain(Protocol):
    """Take one backend (an instance) out of the balancer and put it back."""

    def set_state(self, route: str, backend: str, state: str) -> None:
        """``state``: ``ready``, ``drain`` (no new traffic, sessions finish) or ``maint``."""
        ...


@runtime_checkable
class HasErrorCounts(Protocol):
    """The balancer counts requests and errors per backend (cumulative)."""

    def error_counts(self, route: str) -> dict[str, tuple[int, int]]:
        """backend → (requests, 5xx errors) since the balancer started."""
        ...


# ----------------------------------------------------------------------------- pure parts


def parse_steps(text: str | Sequence[int]) -> tuple[int, ...]:
    """``"90,70,50,25,0"`` → (90, 70, 50, 25, 0): each the % left on the other backends."""
    parts = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
    out: list[int] = []
    for p in parts:
        try:
            n = int(str(p).rstrip("%"))
        except ValueError:
            raise ConfigError(f"--steps: {p!r} is not a whole percentage (expected e.g. 90,70,50,25,0)") from None
        if not 0 <= n <= 100:
            raise ConfigError(f"--steps: {n} is not between 0 and 100")
        out.append(n)
    if not out:
        raise ConfigError("--steps: no steps given (expected e.g. 90,70,50,25,0)")
    return tuple(out)


def parse_weights(items: Sequence[str]) -> Split:
    """``["old=70", "new=30"]`` → a split; the weights must add up to 100."""
    split: Split = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"weight {item!r}: expected NAME=PERCENT (e.g. old=70)")
        try:
            n = int(value.rstrip("%"))
        except ValueError:
            raise ConfigError(f"weight {item!r}: {value!r} is not a whole percentage") from None
        if not 0 <= n <= 100:
            raise ConfigError(f"weight {item!r}: {n} is not between 0 and 100")
        if name in split:
            raise ConfigError(f"weight for {name!r} given twice")
        split[name] = n
    check_total(split)
    return split


def check_total(split: Mapping[str, int]) -> None:
    total = sum(split.values())
    if total != 100:
        shown = ", ".join(f"{k}={v}" for k, v in split.items())
        raise ConfigError(f"the weights add up to {total}, not 100 ({shown})")


def percentages(split: Mapping[str, int]) -> dict[str, float]:
    """Each backend's share of the traffic in % (all zero when no backend takes any)."""
    total = sum(split.values())
    return {k: (100.0 * v / total if total else 0.0) for k, v in split.items()}


def check_backends(route: str, split: Mapping[str, int], names: Sequence[str]) -> None:
    """NotFoundError naming the route's backends when one of ``names`` is not among them."""
    unknown = [n for n in names if n not in split]
    if unknown:
        raise NotFoundError(
            f"route {route} has no backend {unknown[0]!r}; its backends: {', '.join(split) or 'none'}")


def plan_split(start: Mapping[str, int], to: str, others_pct: int) -> Split:
    """The split that gives ``to`` 100 − ``others_pct`` % and the others ``others_pct`` %,
    shared in proportion to their weights at ``start`` (equally if they had none); largest
    remainders, so the weights always add up to 100."""
    others = [k for k in start if k != to]
    if not others:
        return {to: 100}
    base = {k: max(0, int(start[k])) for k in others}
    total = sum(base.values())
    if total == 0:
        base, total = {k: 1 for k in others}, len(others)
    exact = {k: others_pct * base[k] / total for k in others}
    split = {k: int(exact[k]) for k in others}
    left = others_pct - sum(split.values())
    for k in sorted(others, key=lambda k: (-(exact[k] - split[k]), others.index(k)))[:left]:
        split[k] += 1
    return {k: (100 - others_pct if k == to else split[k]) for k in start}


def same_split(a: Mapping[str, int], b: Mapping[str, int]) -> bool:
    """Equal as shares of the traffic (HAProxy may scale weights; zero totals compare equal)."""
    if set(a) != set(b):
        return False
    pa, pb = percentages(a), percentages(b)
    return all(abs(pa[k] - pb[k]) < 0.5 for k in pa)


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    text: str
    error_rate: float | None = None
    requests: int | None = None


def judge_counts(before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]], backend: str,
                 bands: Any = None) -> Judgement:
    """The verdict for ``backend`` from two readings of cumulative (requests, errors): its
    error rate between them, banded like the decision matrix; no requests → INCONCLUSIVE."""
    b = (bands or default_matrix().error_rate)
    r0, e0 = before.get(backend, (0, 0))
    r1, e1 = after.get(backend, (0, 0))
    req, err = r1 - r0, e1 - e0
    if req <= 0:
        return Judgement(Verdict.INCONCLUSIVE, f"{backend}: no requests during the hold", None, 0)
    rate = max(0, err) / req
    level = band(rate, b.rollback_above, b.consider_from, b.monitor_from)
    return Judgement(level, f"{backend}: {100 * rate:.1f}% errors over {req} requests", rate, req)


def judge_all(before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]],
              bands: Any = None) -> dict[str, Judgement]:
    """:func:`judge_counts` for every backend of the later reading (in its order)."""
    names = list(after) + [k for k in before if k not in after]
    return {k: judge_counts(before, after, k, bands) for k in names}


def rates_text(every: Mapping[str, Judgement]) -> str:
    """``old: 0.4% errors over 812 requests — new: 6.1% errors over 340 requests``: each
    backend's rate in the shape :func:`cockpit.traffic_view.rates_from_lines` folds."""
    return " — ".join(j.text for j in every.values())


class CountsJudge:
    """A judge over a port with :class:`HasErrorCounts`: each call judges ``backend`` on the
    requests since the previous call (the first reading is taken at construction), and keeps
    every backend's judgement of the same window in ``every``."""

    def __init__(self, port: HasErrorCounts, route: str, backend: str, bands: Any = None) -> None:
        self.port, self.route, self.backend, self.bands = port, route, backend, bands
        self.last = port.error_counts(route)
        self.every: dict[str, Judgement] = {}

    def __call__(self) -> Judgement:
        now = self.port.error_counts(self.route)
        self.every = judge_all(self.last, now, self.bands)
        out = self.every.get(self.backend) or judge_counts(self.last, now, self.backend, self.bands)
        self.last = now
        return out


# ----------------------------------------------------------------------------- the shift


@dataclass(frozen=True)
class ShiftPlan:
    route: str
    to: str
    steps: tuple[int, ...]
    start: Split
    hold_s: float
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    stop_when_healthy: bool = False

    def split(self, index: int) -> Split:
        return plan_split(self.start, self.to, self.steps[index])

    def intent_data(self) -> dict[str, Any]:
        return {"route": self.route, "to": self.to, "steps": list(self.steps), "start": dict(self.start),
                "hold_s": self.hold_s, "shift": self.id, "stop_when_healthy": self.stop_when_healthy}


def make_plan(port: TrafficPort, route: str, to: str, steps: Sequence[int], hold_s: float,
              stop_when_healthy: bool = False) -> ShiftPlan:
    """Read the route and check the plan fits it (the backend exists) before anything is sent."""
    start = port.get_weights(route)
    check_backends(route, start, [to])
    if hold_s < 0:
        raise ConfigError(f"--hold: {hold_s:g}s is negative")
    return ShiftPlan(route, to, tuple(steps), dict(start), float(hold_s), stop_when_healthy=stop_when_healthy)


@dataclass
class StepReport:
    index: int
    others_pct: int
    weights: Split
    judgement: Judgement | None = None
    resumed: bool = False


@dataclass
class ShiftResult:
    status: str
    """``done`` (all steps), ``stopped`` (healthy, ``stop_when_healthy``), ``paused`` (the
    verdict got worse; the shift stays open for resume) or ``aborted`` (split put back)."""
    plan: ShiftPlan
    steps: list[StepReport] = field(default_factory=list)
    weights: Split = field(default_factory=dict)
    reason: str = ""
    writes: int = 0


def pending_shift(records: Sequence[dict], route: str | None = None) -> dict | None:
    """The latest ``traffic.shift`` intent without an outcome (for ``route``), or None."""
    done = {r.get("id") for r in records if r.get("type") == "outcome"}
    for r in reversed(records):
        if (r.get("type") == "intent" and r.get("action") == SHIFT and r.get("id") not in done
                and (route is None or r.get("route") == route)):
            return r
    return None


def plan_from_intent(rec: Mapping[str, Any]) -> ShiftPlan:
    return ShiftPlan(str(rec["route"]), str(rec["to"]), tuple(int(s) for s in rec["steps"]),
                     {str(k): int(v) for k, v in dict(rec["start"]).items()}, float(rec.get("hold_s") or 0),
                     id=str(rec.get("shift") or rec["id"]), stop_when_healthy=bool(rec.get("stop_when_healthy")))


def step_states(records: Sequence[dict], shift: str) -> tuple[int, dict | None]:
    """(the last step index whose weights outcome is ok — −1 for none, the latest weights
    intent of this shift without an outcome, if any)."""
    outcomes = {r.get("id"): r for r in records if r.get("type") == "outcome"}
    last, dangling = -1, None
    for r in records:
        if r.get("type") != "intent" or r.get("action") != WEIGHTS or r.get("shift") != shift:
            continue
        out = outcomes.get(r.get("id"))
        idx = r.get("index")
        if out is None:
            dangling = r
        elif out.get("ok") and isinstance(idx, int) and idx >= 0:
            last = max(last, idx)
    return last, dangling


Ask = Callable[[StepReport, Judgement, Judgement | None], str]


def run_shift(
    port: TrafficPort,
    plan: ShiftPlan,
    journal: Any,
    *,
    judge: Callable[[], Judgement] | None = None,
    on_worse: Ask | None = None,
    cancel: threading.Event | None = None,
    log: Callable[[str], None] = lambda s: None,
    wait: Callable[[threading.Event, float], bool] | None = None,
    resume: bool = False,
    own_intent: bool = True,
) -> ShiftResult:
    """Run (or, with ``resume``, continue) ``plan``. ``on_worse`` returns ``continue``,
    ``pause`` or ``abort`` (default ``pause``). ``wait(cancel, seconds)`` holds (default
    ``cancel.wait``), True when cancelled. ``own_intent=False``: the caller journals the
    shift's intent and outcome (the runbook step: the executor does). The weights intents
    carry no ``step``, so the executor's fold of a step's intent is not confused."""
    cancel = cancel or threading.Event()
    hold = wait or (lambda ev, s: ev.wait(s))
    result = ShiftResult("done", plan)
    first = 0
    if resume:
        records = journal.read()
        shift_rec = next((r for r in records if r.get("type") == "intent" and r.get("action") == SHIFT
                          and (r.get("shift") or r.get("id")) == plan.id), None)
        shift_id = shift_rec["id"] if shift_rec and own_intent else None
        last, dangling = step_states(records, plan.id)
        if dangling is not None:
            idx = int(dangling.get("index", -1))
            now = port.get_weights(plan.route)
            if same_split(now, dangling.get("weights") or {}):
                journal.outcome(dangling["id"], True, resumed=True, result={"weights": now})
                log(f"step {idx + 1} had taken effect before the interruption: {fmt_split(now)}")
                last = max(last, idx)
            else:
                journal.outcome(dangling["id"], False, resumed=True, superseded=True, error_title="Not applied",
                                error_message="the weights had not taken effect; sending them again")
        first = last + 1
        if last >= 0:
            result.steps.append(StepReport(last, plan.steps[last], plan.split(last), resumed=True))
        log(f"resuming the shift of {plan.route} after step {last + 1} of {len(plan.steps)}")
    else:
        shift_id = journal.intent(SHIFT, **plan.intent_data()) if own_intent else None
    previous: Judgement | None = None
    counts = port if isinstance(port, HasErrorCounts) else None
    since: dict[str, tuple[int, int]] | None = None

    def start_hold() -> None:
        nonlocal since
        since = None
        if counts is not None and not isinstance(judge, CountsJudge):
            try:
                since = counts.error_counts(plan.route)
            except CockpitError as exc:
                log(f"  error counts not read: {exc.message}")

    def journal_rates(step: int, suffix: str = "") -> None:
        """After a hold: every backend's error rate over it, one journaled line."""
        every: dict[str, Judgement] = dict(getattr(judge, "every", None) or {}) if isinstance(judge, CountsJudge) else {}
        if not every and since is not None and counts is not None:
            try:
                every = judge_all(since, counts.error_counts(plan.route))
            except CockpitError as exc:
                log(f"  error counts not read: {exc.message}")
        if not every:
            return
        text = rates_text(every)
        journal.append("log", source=SHIFT, line=f"step {step}{suffix} error rates — {text}")
        log(f"  error rates — {text}")

    try:
        if resume and first > 0 and first < len(plan.steps):
            # the last confirmed step's hold may have been cut short: hold and judge it again
            # (no write) before moving more traffic, and judge the next step against it
            log(f"holding step {first} again before step {first + 1}")
            start_hold()
            if hold(cancel, plan.hold_s):
                raise Aborted(f"shift of {plan.route} cancelled during the hold of step {first}")
            if judge is not None:
                previous = judge()
                journal.append("log", source=SHIFT, line=f"step {first} (resumed): {previous.verdict.value} — "
                                                         f"{previous.text}")
                log(f"  verdict for {plan.to}: {previous.verdict.value} — {previous.text}")
            journal_rates(first, " (resumed)")
        for i in range(first, len(plan.steps)):
            if cancel.is_set():
                raise Aborted(f"shift of {plan.route} cancelled before step {i + 1}")
            weights = plan.split(i)
            before = port.get_weights(plan.route)
            with journal.action(WEIGHTS, route=plan.route, shift=plan.id, index=i, weights=weights,
                                previous=before) as act:
                now = port.set_weights(plan.route, weights)
                result.writes += 1
                act.result = {"weights": now}
            report = StepReport(i, plan.steps[i], now)
            result.steps.append(report)
            log(f"step {i + 1}/{len(plan.steps)}: {fmt_split(now)}")
            start_hold()
            if hold(cancel, plan.hold_s):
                raise Aborted(f"shift of {plan.route} cancelled during the hold of step {i + 1}")
            if judge is None:
                journal_rates(i + 1)
                continue
            j = judge()
            report.judgement = j
            journal.append("log", source=SHIFT, line=f"step {i + 1} {fmt_split(now)}: {j.verdict.value} — {j.text}")
            log(f"  verdict for {plan.to}: {j.verdict.value} — {j.text}")
            journal_rates(i + 1)
            if plan.stop_when_healthy and j.verdict is Verdict.OK:
                result.status, result.reason = "stopped", f"{plan.to} healthy after step {i + 1}: {j.text}"
                break
            if previous is not None and j.verdict.rank > previous.verdict.rank:
                choice = on_worse(report, j, previous) if on_worse else "pause"
                if choice == "abort":
                    raise Aborted(f"verdict for {plan.to} got worse after step {i + 1}: "
                                  f"{previous.verdict.value} → {j.verdict.value} ({j.text})")
                if choice == "pause":
                    result.status = "paused"
                    result.reason = (f"verdict for {plan.to} got worse after step {i + 1}: "
                                     f"{previous.verdict.value} → {j.verdict.value} ({j.text})")
                    result.weights = now
                    return result
            previous = j
    except Aborted as exc:
        restore(port, plan, journal, result, log)
        if shift_id:
            journal.outcome(shift_id, False, error_title="Aborted",
                            error_message=f"{exc.message}; split put back", result={"weights": result.weights})
        result.status, result.reason = "aborted", exc.message
        return result
    result.weights = port.get_weights(plan.route)
    if shift_id:
        journal.outcome(shift_id, True, result={"status": result.status, "weights": result.weights,
                                                "steps_done": len([s for s in result.steps if not s.resumed])})
    return result


def restore(port: TrafficPort, plan: ShiftPlan, journal: Any, result: ShiftResult,
            log: Callable[[str], None]) -> None:
    """Put the route back to the split the shift started from (its own intent/outcome)."""
    before = port.get_weights(plan.route)
    with journal.action(WEIGHTS, route=plan.route, shift=plan.id, index=-1, weights=dict(plan.start),
                        previous=before, restore=True) as act:
        now = port.set_weights(plan.route, plan.start)
        result.writes += 1
        act.result = {"weights": now}
    result.weights = now
    log(f"split put back: {fmt_split(now)}")


def abort_pending(port: TrafficPort, journal: Any, route: str, log: Callable[[str], None] = lambda s: None
                  ) -> ShiftResult | None:
    """Close the open shift of ``route`` by putting its split back (None when none is open)."""
    rec = pending_shift(journal.read(), route)
    if rec is None:
        return None
    plan = plan_from_intent(rec)
    result = ShiftResult("aborted", plan, reason="aborted by the operator")
    restore(port, plan, journal, result, log)
    journal.outcome(rec["id"], False, error_title="Aborted", error_message="aborted by the operator; split put back",
                    result={"weights": result.weights})
    return result


def fmt_split(split: Mapping[str, int]) -> str:
    pct = percentages(split)
    return " ".join(f"{k}={pct[k]:.0f}%" for k in split)
