"""``IncidentState = replay(records)``: the incident as a pure fold over journal records.

Screens render it, observers fold it live (:meth:`IncidentState.apply`), resume replays it
and the report is written from it. Applying a record never raises: a malformed or unknown
record is kept (``state.unknown``) or ignored, so an old cockpit can follow a newer one.

Every record also has ``seq``, ``ts`` (ISO-8601 UTC, ms) and ``actor`` (see
:mod:`cockpit.journal`). The event types, the schema other modules build on:

=====================  ==============================================  ===========================
type                   data keys                                       effect on the state
=====================  ==============================================  ===========================
``incident_opened``    ``target``, ``reason``, ``who``                 target, opened_at/by, reason
``phase``              ``phase`` (declare, identify, execute, verify,  closes the running phase,
                       monitor, resolved)                              starts a new PhaseSpan
``verdict``            ``value``, ``reasons`` (list of str)            current verdict
``operator_input``     ``key``, ``value``                              ``inputs[key] = value``
``revision_chosen``    ``revision`` (int), free data (images, ...)     ``revision`` (the record data)
``intent``             ``id``, ``action``, free data (``step`` for     new Action, status pending
                       runbook steps)
``outcome``            ``id`` (of the intent), ``ok``, ``result`` or   Action status ok / failed
                       ``error_title``/``error_message``, ``resumed``
``run_started``        ``runbook``, ``from_step``, ``resume``          ``run_status = "running"``
``run_finished``       ``ok``, ``status`` (ok/failed/cancelled),       ``run_status = status``
                       ``failed_step``
``step_started``       ``index``, ``kind``, ``name``, ``budget`` (s),  ``steps[index]`` running
                       ``mutating``
``step_finished``      ``index``, ``kind``, ``ok``, ``status`` (ok/    ``steps[index]`` status,
                       failed/cancelled), ``elapsed`` (s),             elapsed, over_budget, error
                       ``over_budget``, ``error_title``,
                       ``error_message``, ``resumed``
``log``                ``step`` (index or null), ``line``              appended to the log tail
``check``              ``id``, ``ok``, ``who``, ``evidence``, ``note``  ``checks[id]`` (last wins)
``notification``       ``channel``, ``ok``, ``detail``                 appended to notifications
``incident_resolved``  free data (``summary``)                         ``resolved = True``
``incident_closed``    free data                                       ``closed = True``
=====================  ==============================================  ===========================

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

LOG_TAIL = 2000
"""How many log lines the state keeps (the journal keeps them all)."""

PHASES = ("declare", "identify", "execute", "verify", "monitor", "resolved")
PHASE_BUDGETS: dict[str, float] = {
    "declare": 120.0,
    "identify": 180.0,
    "execute": 300.0,
    "verify": 300.0,
    "monitor": 600.0,
}


def _ts(record: dict) -> datetime | None:
    ts = record.get("ts")
    if not isinstance(ts, str):
        return None
    try:
        value = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _data(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in ("seq", "ts", "actor", "type")}


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


@dataclass
class IncidentState:
    """Everything the cockpit knows about one incident. Build with :func:`replay`."""

    target: str | None = None
    reason: str = ""
    opened_by: str = ""
    opened_at: datetime | None = None
    phases: list[PhaseSpan] = field(default_factory=list)
    verdict: str | None = None
    verdict_reasons: list[str] = field(default_factory=list)
    verdict_at: datetime | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    revision: dict | None = None
    actions: list[ActionState] = field(default_factory=list)
    steps: dict[int, StepState] = field(default_factory=dict)
    run_status: str | None = None
    checks: dict[str, CheckState] = field(default_factory=dict)
    log: deque = field(default_factory=lambda: deque(maxlen=LOG_TAIL))
    log_count: int = 0
    notifications: list[Notification] = field(default_factory=list)
    resolved: bool = False
    resolved_at: datetime | None = None
    closed: bool = False
    last_seq: int = 0
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

    # ---- the fold

    def apply(self, record: dict) -> IncidentState:
        """Fold one record into the state (in place) and return the state."""
        if not isinstance(record, dict):
            return self
        seq = record.get("seq")
        if isinstance(seq, int):
            self.last_seq = max(self.last_seq, seq)
        handler = _HANDLERS.get(record.get("type"))  # type: ignore[arg-type]
        if handler is None:
            self.unknown.append(record)
            return self
        try:
            handler(self, record, _ts(record))
        except (AttributeError, KeyError, TypeError, ValueError):
            self.unknown.append(record)  # malformed: keep it, never crash an observer
        return self

    def apply_all(self, records: Iterable[dict]) -> IncidentState:
        for record in records:
            self.apply(record)
        return self


def replay(records: Iterable[dict]) -> IncidentState:
    """The state after ``records`` (a pure function of them)."""
    return IncidentState().apply_all(records)


# --------------------------------------------------------------------------- handlers


def _opened(s: IncidentState, r: dict, at: datetime | None) -> None:
    s.target = str(r["target"]) if r.get("target") is not None else s.target
    s.reason = str(r.get("reason") or "")
    s.opened_by = str(r.get("who") or r.get("actor") or "")
    s.opened_at = at


def _phase(s: IncidentState, r: dict, at: datetime | None) -> None:
    name = str(r["phase"])
    if s.phases and s.phases[-1].ended is None:
        s.phases[-1].ended = at
    s.phases.append(PhaseSpan(name, at, at if name == "resolved" else None))


def _verdict(s: IncidentState, r: dict, at: datetime | None) -> None:
    s.verdict = str(r["value"])
    s.verdict_reasons = [str(x) for x in r.get("reasons") or []]
    s.verdict_at = at


def _input(s: IncidentState, r: dict, at: datetime | None) -> None:
    s.inputs[str(r["key"])] = r.get("value")


def _revision(s: IncidentState, r: dict, at: datetime | None) -> None:
    s.revision = _data(r)


def _intent(s: IncidentState, r: dict, at: datetime | None) -> None:
    act = ActionState(str(r["id"]), str(r.get("action", "")), _data(r))
    s.actions.append(act)
    s._by_id[act.id] = act


def _outcome(s: IncidentState, r: dict, at: datetime | None) -> None:
    act = s._by_id.get(str(r["id"]))
    if act is None:
        s.unknown.append(r)
        return
    act.outcome = _data(r)


def _run_started(s: IncidentState, r: dict, at: datetime | None) -> None:
    s.run_status = "running"


def _run_finished(s: IncidentState, r: dict, at: datetime | None) -> None:
    s.run_status = str(r.get("status") or ("ok" if r.get("ok") else "failed"))


def _step_started(s: IncidentState, r: dict, at: datetime | None) -> None:
    index = int(r["index"])
    budget = r.get("budget")
    s.steps[index] = StepState(
        index,
        kind=str(r.get("kind", "")),
        name=str(r.get("name") or ""),
        budget=float(budget) if budget is not None else None,
        started=at,
    )


def _step_finished(s: IncidentState, r: dict, at: datetime | None) -> None:
    index = int(r["index"])
    step = s.steps.get(index) or StepState(index, kind=str(r.get("kind", "")))
    s.steps[index] = step
    step.status = str(r.get("status") or ("ok" if r.get("ok") else "failed"))
    elapsed = r.get("elapsed")
    step.elapsed = float(elapsed) if elapsed is not None else None
    step.over_budget = bool(r.get("over_budget"))
    step.error_title = str(r.get("error_title") or "")
    step.error_message = str(r.get("error_message") or "")
    step.resumed = bool(r.get("resumed"))


def _log(s: IncidentState, r: dict, at: datetime | None) -> None:
    step = r.get("step")
    s.log.append(LogLine(step if isinstance(step, int) else None, str(r.get("line", "")), at))
    s.log_count += 1


def _check(s: IncidentState, r: dict, at: datetime | None) -> None:
    item = str(r["id"])
    s.checks[item] = CheckState(
        item,
        bool(r.get("ok")),
        who=str(r.get("who") or r.get("actor") or ""),
        evidence=r.get("evidence"),
        note=str(r.get("note") or ""),
        at=at,
    )


def _notification(s: IncidentState, r: dict, at: datetime | None) -> None:
    s.notifications.append(
        Notification(str(r.get("channel", "")), bool(r.get("ok")), str(r.get("detail") or ""), at)
    )


def _resolved(s: IncidentState, r: dict, at: datetime | None) -> None:
    s.resolved = True
    s.resolved_at = at


def _closed(s: IncidentState, r: dict, at: datetime | None) -> None:
    s.closed = True


_HANDLERS = {
    "incident_opened": _opened,
    "phase": _phase,
    "verdict": _verdict,
    "operator_input": _input,
    "revision_chosen": _revision,
    "intent": _intent,
    "outcome": _outcome,
    "run_started": _run_started,
    "run_finished": _run_finished,
    "step_started": _step_started,
    "step_finished": _step_finished,
    "log": _log,
    "check": _check,
    "notification": _notification,
    "incident_resolved": _resolved,
    "incident_closed": _closed,
}
