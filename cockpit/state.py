"""``IncidentState = replay(records)``: the incident as a pure fold over typed journal events.

Screens render it, observers fold it live (:meth:`IncidentState.apply`), resume replays it
and the report (:mod:`cockpit.report`) is written from it and from nothing else. Each record
is parsed into its event (:mod:`cockpit.events`, where every type and its fields are defined
once); applying a record never raises: an unknown or malformed record is kept in
``state.unknown``, so an old cockpit can follow a newer one.

Phases have budgets (:data:`PHASE_BUDGETS`, seconds): declare < 2 min, identify < 3,
execute < 5, verify < 5, monitor < 10; :meth:`PhaseSpan.elapsed` and
:meth:`PhaseSpan.over_budget` measure against them.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cockpit import events as ev

LOG_TAIL = 2000
"""How many log lines the state keeps (the journal keeps them all)."""
SAMPLES_KEPT = 20_000
"""How many metric points the state keeps for the report's before/after fallback."""

PHASES = ("declare", "identify", "execute", "verify", "monitor", "resolved")
PHASE_BUDGETS: dict[str, float] = {"declare": 120.0, "identify": 180.0, "execute": 300.0, "verify": 300.0, "monitor": 600.0}
ROLLBACK_ACTIONS = ("rollback", "switch_selector", "set_image")
"""An ok outcome of an action whose name contains one of these is "rolled back"."""
NOT_IN_TIMELINE = (ev.Log, ev.StepStarted, ev.RunFinished, ev.MetricSample, ev.RolloutProgressed)


def record_time(record: dict) -> datetime | None:
    """A record's ``ts`` as an aware datetime (None when missing or malformed)."""
    ts = record.get("ts")
    if not isinstance(ts, str):
        return None
    try:
        value = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Meta:
    """A record's envelope: where and when and by whom."""

    seq: int | None
    at: datetime | None
    actor: str


@dataclass(frozen=True)
class Entry:
    """One event of the incident with its envelope (the timeline)."""

    meta: Meta
    event: ev.Event


@dataclass
class PhaseSpan:
    name: str
    started: datetime | None
    ended: datetime | None = None

    @property
    def budget(self) -> float | None:
        """Seconds allowed for this phase (None for ``resolved`` / unknown phases)."""
        return PHASE_BUDGETS.get(self.name)

    def elapsed(self, now: datetime | None = None) -> float:
        """Seconds spent in the phase (up to ``now`` while it runs)."""
        if self.started is None:
            return 0.0
        end = self.ended or now or datetime.now(timezone.utc)
        return max(0.0, (end - self.started).total_seconds())

    def over_budget(self, now: datetime | None = None) -> bool:
        return self.budget is not None and self.elapsed(now) > self.budget


@dataclass
class ActionState:
    """One intent and (once written) its outcome."""

    id: str
    action: str
    intent: dict
    outcome: dict | None = None
    seq: int = 0
    started: datetime | None = None
    ended: datetime | None = None

    @property
    def status(self) -> str:
        """``pending`` (intent without outcome), ``ok`` or ``failed``."""
        if self.outcome is None:
            return "pending"
        return "ok" if self.outcome.get("ok") else "failed"


@dataclass
class StepState:
    index: int
    kind: str = ""
    name: str = ""
    status: str = "running"  # running / ok / failed / cancelled
    budget: float | None = None
    started: datetime | None = None
    elapsed: float | None = None
    over_budget: bool = False
    error_title: str = ""
    error_message: str = ""
    resumed: bool = False


@dataclass
class CheckState:
    id: str
    ok: bool
    who: str = ""
    evidence: Any = None
    note: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class LogLine:
    step: int | None
    line: str
    at: datetime | None = None


@dataclass
class Notification:
    channel: str
    ok: bool
    detail: str = ""
    at: datetime | None = None
    purpose: str = ""
    edited: bool = False
    attempts: int | None = None


@dataclass(frozen=True)
class Peak:
    value: float
    at: datetime | None


@dataclass
class RolledBack:
    """The rollback that took effect: from which revision to which, when and why."""

    at: datetime | None
    action: str
    from_revision: int | None = None
    to_revision: int | None = None
    images: tuple[str, ...] = ()
    why: str = ""


@dataclass
class IncidentState:
    """Everything the cockpit knows about one incident. Build with :func:`replay`."""

    target: str | None = None
    reason: str = ""
    opened_by: str = ""
    opened_at: datetime | None = None
    opened_via: str = ""
    drill: bool = False
    phases: list[PhaseSpan] = field(default_factory=list)
    verdict: str | None = None
    verdict_reasons: list[str] = field(default_factory=list)
    verdict_at: datetime | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    revision: dict | None = None
    """The last ``revision_chosen`` event's data."""
    chosen: list[ev.RevisionChosen] = field(default_factory=list)
    actions: list[ActionState] = field(default_factory=list)
    steps: dict[int, StepState] = field(default_factory=dict)
    run_status: str | None = None
    runbook_yaml: str | None = None
    rolled_back: RolledBack | None = None
    checks: dict[str, CheckState] = field(default_factory=dict)
    log: deque = field(default_factory=lambda: deque(maxlen=LOG_TAIL))
    log_count: int = 0
    notifications: list[Notification] = field(default_factory=list)
    comms: list[Entry] = field(default_factory=list)
    evidence: list[Entry] = field(default_factory=list)
    comparison: ev.Comparison | None = None
    triggers: list[Entry] = field(default_factory=list)
    trigger_aborted: bool = False
    auto_armed: bool = False
    monitoring_extended: bool = False
    samples: deque = field(default_factory=lambda: deque(maxlen=SAMPLES_KEPT))
    """``(at, error_rate, p95_ms)`` from metric samples and verdicts."""
    peak_error_rate: Peak | None = None
    peak_p95_ms: Peak | None = None
    screenshot: str | None = None
    summary: str = ""
    resolved: bool = False
    resolved_at: datetime | None = None
    resolved_with_open_checks: tuple[str, ...] = ()
    closed: bool = False
    closed_reason: str = ""
    last_seq: int = 0
    last_at: datetime | None = None
    timeline: list[Entry] = field(default_factory=list)
    unknown: list[dict] = field(default_factory=list)
    _by_id: dict[str, ActionState] = field(default_factory=dict, repr=False, compare=False)

    # ---- queries

    @property
    def phase(self) -> str | None:
        """The current phase name."""
        return self.phases[-1].name if self.phases else None

    @property
    def pending(self) -> list[ActionState]:
        """Intents without an outcome (what resume must reconcile)."""
        return [a for a in self.actions if a.status == "pending"]

    def action(self, intent_id: str) -> ActionState | None:
        return self._by_id.get(intent_id)

    def step_intent(self, index: int) -> ActionState | None:
        """The latest intent journaled for runbook step ``index``."""
        for act in reversed(self.actions):
            if act.intent.get("step") == index:
                return act
        return None

    def phase_started(self, name: str) -> datetime | None:
        return next((p.started for p in self.phases if p.name == name), None)

    def phase_ended(self, name: str) -> datetime | None:
        return next((p.ended for p in self.phases if p.name == name and p.ended), None)

    # ---- the fold

    def apply(self, record: dict) -> IncidentState:
        """Fold one record into the state (in place) and return the state."""
        if not isinstance(record, dict):
            return self
        seq = record.get("seq")
        if isinstance(seq, int) and not isinstance(seq, bool):
            self.last_seq = max(self.last_seq, seq)
        event = ev.parse(record)
        if event is None:
            self.unknown.append(record)
            return self
        actor = record.get("actor")
        meta = Meta(seq if isinstance(seq, int) else None, record_time(record), actor if isinstance(actor, str) else "")
        if meta.at is not None:
            self.last_at = meta.at if self.last_at is None else max(self.last_at, meta.at)
        try:
            self.apply_event(event, meta)
        except (AttributeError, KeyError, TypeError, ValueError):
            self.unknown.append(record)  # malformed beyond its shape: keep it, never crash an observer
        return self

    def apply_event(self, event: ev.Event, meta: Meta) -> IncidentState:
        """Fold one typed event (what :meth:`apply` does after parsing)."""
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event, meta)
        if not isinstance(event, NOT_IN_TIMELINE):
            self.timeline.append(Entry(meta, event))
        return self

    def apply_all(self, records: Iterable[dict]) -> IncidentState:
        for record in records:
            self.apply(record)
        return self


def replay(records: Iterable[dict]) -> IncidentState:
    """The state after ``records`` (a pure function of them)."""
    return IncidentState().apply_all(records)


# --------------------------------------------------------------------------- handlers


def _opened(s: IncidentState, e: ev.IncidentOpened, m: Meta) -> None:
    s.target = e.target or s.target
    s.reason = e.reason
    s.opened_by = e.who or m.actor
    s.opened_at = m.at
    s.opened_via = e.source
    s.drill = e.drill


def _phase(s: IncidentState, e: ev.Phase, m: Meta) -> None:
    if s.phases and s.phases[-1].ended is None:
        s.phases[-1].ended = m.at
    s.phases.append(PhaseSpan(e.phase, m.at, m.at if e.phase == "resolved" else None))


def _point(s: IncidentState, at: datetime | None, er: float | None, p95: float | None) -> None:
    if er is None and p95 is None:
        return
    s.samples.append((at, er, p95))
    if er is not None and (s.peak_error_rate is None or er > s.peak_error_rate.value):
        s.peak_error_rate = Peak(er, at)
    if p95 is not None and (s.peak_p95_ms is None or p95 > s.peak_p95_ms.value):
        s.peak_p95_ms = Peak(p95, at)


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def _verdict(s: IncidentState, e: ev.VerdictChanged, m: Meta) -> None:
    s.verdict = e.value
    s.verdict_reasons = list(e.reasons)
    s.verdict_at = m.at
    er, p95 = e.error_rate, e.p95_ms
    for d in e.details:
        if d.get("metric") == "error_rate" and er is None:
            er = _number(d.get("value"))
        elif d.get("metric") == "p95_ms" and p95 is None:
            p95 = _number(d.get("value"))
    _point(s, m.at, er, p95)


def _sample(s: IncidentState, e: ev.MetricSample, m: Meta) -> None:
    """A thinned sample: each value at the time it was read (the interval's peak), when known."""
    er_at, p95_at = _when(e.error_rate_at) or m.at, _when(e.p95_at) or m.at
    _point(s, er_at, e.error_rate, e.p95_ms if p95_at == er_at else None)
    if p95_at != er_at:
        _point(s, p95_at, None, e.p95_ms)


def _when(ts: float | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(ts, timezone.utc) if _number(ts) is not None else None
    except (OverflowError, OSError, ValueError):
        return None


def _input(s: IncidentState, e: ev.OperatorInput, m: Meta) -> None:
    s.inputs[e.key] = e.value


def _revision(s: IncidentState, e: ev.RevisionChosen, m: Meta) -> None:
    s.chosen.append(e)
    s.revision = e.to_record()


def _intent(s: IncidentState, e: ev.Intent, m: Meta) -> None:
    data = e.to_record()
    data["seq"] = m.seq or 0
    act = ActionState(e.id, e.action, data, seq=m.seq or 0, started=m.at)
    s.actions.append(act)
    s._by_id[act.id] = act


def _outcome(s: IncidentState, e: ev.Outcome, m: Meta) -> None:
    act = s._by_id.get(e.id)
    if act is None:
        s.unknown.append({"type": e.type, **e.to_record()})
        return
    act.outcome = e.to_record()
    act.ended = m.at
    if e.ok and s.rolled_back is None and any(k in act.action for k in ROLLBACK_ACTIONS):
        result = e.result if isinstance(e.result, dict) else {}
        if result.get("result") == "skipped":
            return
        chosen = s.chosen[-1] if s.chosen else None
        to_rev = result.get("to_revision", act.intent.get("to_revision"))
        images = result.get("images") or act.intent.get("images") or (chosen.images if chosen else ())
        s.rolled_back = RolledBack(
            m.at, act.action,
            from_revision=_int(result.get("from_revision", act.intent.get("from_revision"))),
            to_revision=_int(to_rev if to_rev is not None else (chosen.revision if chosen else None)),
            images=tuple(str(i) for i in images) if isinstance(images, (list, tuple)) else (str(images),),
            why=chosen.why if chosen else "",
        )


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _runbook(s: IncidentState, e: ev.RunbookRecorded, m: Meta) -> None:
    s.runbook_yaml = e.yaml


def _run_started(s: IncidentState, e: ev.RunStarted, m: Meta) -> None:
    s.run_status = "running"


def _run_finished(s: IncidentState, e: ev.RunFinished, m: Meta) -> None:
    s.run_status = e.status or ("ok" if e.ok else "failed")


def _step_started(s: IncidentState, e: ev.StepStarted, m: Meta) -> None:
    s.steps[e.index] = StepState(e.index, kind=e.kind, name=e.name, budget=e.budget, started=m.at)


def _step_finished(s: IncidentState, e: ev.StepFinished, m: Meta) -> None:
    step = s.steps.get(e.index) or StepState(e.index, kind=e.kind)
    s.steps[e.index] = step
    step.status = e.status or ("ok" if e.ok else "failed")
    step.elapsed = e.elapsed
    step.over_budget = e.over_budget
    step.error_title = e.error_title
    step.error_message = e.error_message
    step.resumed = e.resumed


def _log(s: IncidentState, e: ev.Log, m: Meta) -> None:
    line = e.line or str(e.extra.get("message", ""))
    s.log.append(LogLine(e.step, line, m.at))
    s.log_count += 1


def _check(s: IncidentState, e: ev.Check, m: Meta) -> None:
    s.checks[e.id] = CheckState(e.id, e.ok, who=e.who or m.actor, evidence=e.evidence, note=e.note, at=m.at)


def _notification(s: IncidentState, e: ev.Notification, m: Meta) -> None:
    s.notifications.append(Notification(e.channel, e.ok, e.detail, m.at, e.purpose, e.edited, e.attempts))


def _entry_in(attr: str) -> Any:
    """A handler that keeps the event with its envelope in ``state.<attr>``."""
    return lambda s, e, m: getattr(s, attr).append(Entry(m, e))


def _comparison(s: IncidentState, e: ev.Comparison, m: Meta) -> None:
    s.comparison = e


def _aborted(s: IncidentState, e: ev.TriggerAborted, m: Meta) -> None:
    s.trigger_aborted = True


def _armed(s: IncidentState, e: ev.AutoRollbackArmed, m: Meta) -> None:
    s.auto_armed = e.armed


def _extended(s: IncidentState, e: ev.MonitoringExtended, m: Meta) -> None:
    s.monitoring_extended = e.on


def _screenshot(s: IncidentState, e: ev.Screenshot, m: Meta) -> None:
    s.screenshot = e.path


def _resolved(s: IncidentState, e: ev.IncidentResolved, m: Meta) -> None:
    s.resolved = True
    s.resolved_at = m.at
    s.summary = e.summary
    s.resolved_with_open_checks = e.open_checks


def _closed(s: IncidentState, e: ev.IncidentClosed, m: Meta) -> None:
    s.closed = True
    s.closed_reason = e.reason


_HANDLERS: dict[type, Any] = {
    ev.IncidentOpened: _opened,
    ev.Phase: _phase,
    ev.VerdictChanged: _verdict,
    ev.MetricSample: _sample,
    ev.OperatorInput: _input,
    ev.RevisionChosen: _revision,
    ev.Intent: _intent,
    ev.Outcome: _outcome,
    ev.RunbookRecorded: _runbook,
    ev.RunStarted: _run_started,
    ev.RunFinished: _run_finished,
    ev.StepStarted: _step_started,
    ev.StepFinished: _step_finished,
    ev.Log: _log,
    ev.Check: _check,
    ev.Notification: _notification,
    ev.Comms: _entry_in("comms"),
    ev.EvidenceCaptured: _entry_in("evidence"),
    ev.Comparison: _comparison,
    ev.Trigger: _entry_in("triggers"),
    ev.TriggerAborted: _aborted,
    ev.AutoRollbackArmed: _armed,
    ev.MonitoringExtended: _extended,
    ev.Screenshot: _screenshot,
    ev.IncidentResolved: _resolved,
    ev.IncidentClosed: _closed,
}
