"""Every journal event type, defined once: a frozen dataclass each, with a schema version.

A journal record is one JSON object: the envelope ``seq``, ``ts``, ``actor``, ``type`` (and
``v``, the event's schema version) written by :class:`cockpit.journal.Journal`, then the
event's own fields. :meth:`Event.to_record` gives the fields; :func:`parse` turns a record
back into its event. Writers build events (``journal.write(RevisionChosen(...))``); the
journal's ``append(type, **data)`` goes through the same classes, so a field of the wrong
shape (``images`` as one string) is refused at the one place every record passes.

Reading is lenient, writing is strict. Journals written by earlier versions of the cockpit
still open: a record of an unknown type, or one whose fields do not fit, is kept by the fold
as *unknown* (never a crash); a known record's undeclared keys are kept in ``extra`` and
written back unchanged, so a record survives a round trip through an older cockpit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from cockpit.event_base import (  # noqa: F401 — the vocabulary's public face
    ENVELOPE,
    EVENT_TYPES,
    SCHEMA_VERSION,
    Event,
    EventShapeError,
    build,
    event,
    event_class,
    parse,
)


# --------------------------------------------------------------------------- the incident

@event
@dataclass(frozen=True)
class IncidentOpened(Event):
    type: ClassVar[str] = "incident_opened"
    durable: ClassVar[bool] = True
    target: str
    kind: str = "deployment"
    reason: str = ""
    who: str = ""
    drill: bool = False
    source: str = ""
    """Who opened it: ``cli`` (headless command), ``tui``, ``watch``, ``runbook``."""


@event
@dataclass(frozen=True)
class Phase(Event):
    type: ClassVar[str] = "phase"
    durable: ClassVar[bool] = True
    phase: str


@event
@dataclass(frozen=True)
class IncidentResolved(Event):
    type: ClassVar[str] = "incident_resolved"
    durable: ClassVar[bool] = True
    summary: str = ""
    open_checks: tuple[str, ...] = ()
    """Checks still open or collecting when the operator resolved anyway."""


@event
@dataclass(frozen=True)
class IncidentClosed(Event):
    type: ClassVar[str] = "incident_closed"
    durable: ClassVar[bool] = True
    target: str = ""
    reason: str = ""


@event
@dataclass(frozen=True)
class OperatorInput(Event):
    type: ClassVar[str] = "operator_input"
    durable: ClassVar[bool] = True
    key: str
    value: Any = None


# --------------------------------------------------------------------------- deciding

@event
@dataclass(frozen=True)
class VerdictChanged(Event):
    type: ClassVar[str] = "verdict"
    durable: ClassVar[bool] = True
    value: str
    reasons: tuple[str, ...] = ()
    details: tuple[dict, ...] = ()
    target: str = ""
    revision: int | None = None
    template_hash: str = ""
    error_rate: float | None = None
    p95_ms: float | None = None

    @classmethod
    def from_data(cls, data: Mapping[str, Any], *, strict: bool = True) -> Event:
        reasons = data.get("reasons")
        if not strict and isinstance(reasons, list) and any(isinstance(r, Mapping) for r in reasons):
            # early journals wrote reasons as objects {metric, value, text}
            data = {**data, "reasons": [str(r.get("text") or r.get("metric") or "") if isinstance(r, Mapping) else r
                                        for r in reasons],
                    "details": list(data.get("details") or []) + [r for r in reasons if isinstance(r, Mapping)]}
        return super().from_data(data, strict=strict)


@event
@dataclass(frozen=True)
class MetricSample(Event):
    """A metric reading journaled at a bounded rate (the report's peaks; observers' panes)."""

    type: ClassVar[str] = "metrics"
    target: str = ""
    source: str = ""
    error_rate: float | None = None
    p95_ms: float | None = None
    request_rate: float | None = None
    error_rate_at: float | None = None
    """When the interval's highest error rate was read (unix seconds; None: the record's time)."""
    p95_at: float | None = None
    """When the interval's highest p95 was read."""


@event
@dataclass(frozen=True)
class AutoRollbackArmed(Event):
    type: ClassVar[str] = "auto_rollback"
    durable: ClassVar[bool] = True
    target: str
    armed: bool
    who: str = ""


@event
@dataclass(frozen=True)
class Trigger(Event):
    """An automatic-rollback trigger fired (``auto``: armed, so a rollback follows)."""

    type: ClassVar[str] = "trigger"
    durable: ClassVar[bool] = True
    target: str
    name: str
    reason: str = ""
    count: int | None = None
    auto: bool = False
    to_revision: int | None = None
    why: str = ""
    readonly: bool = False
    countdown_s: float | None = None


@event
@dataclass(frozen=True)
class TriggerAborted(Event):
    type: ClassVar[str] = "trigger_aborted"
    durable: ClassVar[bool] = True
    target: str = ""
    reason: str = ""


@event
@dataclass(frozen=True)
class Comparison(Event):
    type: ClassVar[str] = "comparison"
    durable: ClassVar[bool] = True
    target: str = ""
    before_from: str = ""
    ok: bool | None = None
    warnings: tuple[str, ...] = ()
    error_ratio: float | None = None
    latency_ratio: float | None = None
    throughput_ratio: float | None = None
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- acting

@event
@dataclass(frozen=True)
class RevisionChosen(Event):
    """The revision a rollback goes to, fixed before the patch (resume never re-resolves)."""

    type: ClassVar[str] = "revision_chosen"
    durable: ClassVar[bool] = True
    revision: int
    target: str = ""
    template_hash: str = ""
    images: tuple[str, ...] = ()
    from_revision: int | None = None
    from_images: tuple[str, ...] = ()
    from_template_hash: str = ""
    why: str = ""
    step: int | None = None


@event
@dataclass(frozen=True)
class Intent(Event):
    """Written and fsynced before a mutation is sent; its data is the action's (``extra``)."""

    type: ClassVar[str] = "intent"
    durable: ClassVar[bool] = True
    id: str
    action: str
    step: int | None = None


@event
@dataclass(frozen=True)
class Outcome(Event):
    type: ClassVar[str] = "outcome"
    durable: ClassVar[bool] = True
    id: str
    ok: bool
    step: int | None = None
    result: Any = None
    error_title: str = ""
    error_message: str = ""
    resumed: bool = False
    superseded: bool = False


@event
@dataclass(frozen=True)
class RunbookRecorded(Event):
    """The runbook a run executes (what resume re-runs)."""

    type: ClassVar[str] = "runbook"
    durable: ClassVar[bool] = True
    yaml: str
    revision: int | None = None
    images: tuple[str, ...] = ()


@event
@dataclass(frozen=True)
class RunStarted(Event):
    type: ClassVar[str] = "run_started"
    runbook: str = ""
    from_step: int | None = None
    resume: bool = False


@event
@dataclass(frozen=True)
class RunFinished(Event):
    type: ClassVar[str] = "run_finished"
    durable: ClassVar[bool] = True
    ok: bool
    status: str = ""
    failed_step: int | None = None


@event
@dataclass(frozen=True)
class StepStarted(Event):
    type: ClassVar[str] = "step_started"
    index: int
    kind: str = ""
    name: str = ""
    budget: float | None = None
    mutating: bool = False


@event
@dataclass(frozen=True)
class StepFinished(Event):
    type: ClassVar[str] = "step_finished"
    durable: ClassVar[bool] = True
    index: int
    kind: str = ""
    ok: bool = False
    status: str = ""
    elapsed: float | None = None
    over_budget: bool = False
    error_title: str = ""
    error_message: str = ""
    resumed: bool = False


@event
@dataclass(frozen=True)
class Log(Event):
    type: ClassVar[str] = "log"
    line: str = ""
    step: int | None = None
    source: str = ""


@event
@dataclass(frozen=True)
class RolloutProgressed(Event):
    type: ClassVar[str] = "rollout_progress"
    target: str = ""
    updated: int | None = None
    ready: int | None = None
    available: int | None = None
    desired: int | None = None
    complete: bool = False
    failed: bool = False


@event
@dataclass(frozen=True)
class EvidenceCaptured(Event):
    type: ClassVar[str] = "evidence"
    durable: ClassVar[bool] = True
    dir: str
    manifest: str = ""
    manifest_sha256: str = ""
    files: tuple[Any, ...] = ()
    errors: tuple[str, ...] = ()


# --------------------------------------------------------------------------- fleet rollback

MEMBER = "member"
"""In a fleet rollback's journal (:mod:`cockpit.fleet`) every record of one target's rollback
carries ``member``: ``<context>/<namespace>/<name>``. It is not a declared field (schema v1
readers keep it in ``extra``); the fleet's fold splits the journal by it, so each target's
records fold into that target's own :class:`cockpit.state.IncidentState`."""


@event
@dataclass(frozen=True)
class FleetPlanned(Event):
    """A fleet rollback's plan, written once the operator confirmed it (again on resume).

    ``targets``: one object per target ``{member, context, namespace, name, action, why,
    from_revision, from_images, to_revision, images, error_title, exit_code}`` where
    ``action`` is ``rollback``, ``skip`` (needs nothing) or ``fail`` (could not be planned; a
    context that did not answer has ``name`` empty)."""

    type: ClassVar[str] = "fleet_planned"
    durable: ClassVar[bool] = True
    targets: tuple[dict, ...] = ()
    selector: str = ""
    names: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    all_namespaces: bool = False
    contexts: tuple[str, ...] = ()
    parallel: int = 4
    keep_going: bool = False
    to_revision: int = 0
    force: bool = False
    resumed: bool = False


@event
@dataclass(frozen=True)
class FleetTarget(Event):
    """Where one target of a fleet rollback stands: ``started``, ``ok`` (rolled back and, when
    waited for, its rollout complete; ``already``: it had taken effect before), ``skipped``,
    ``failed`` or ``not_started`` (the fleet stopped starting targets after a failure)."""

    type: ClassVar[str] = "fleet_target"
    durable: ClassVar[bool] = True
    member: str
    status: str
    already: bool = False
    from_revision: int | None = None
    to_revision: int | None = None
    images: tuple[str, ...] = ()
    error_title: str = ""
    error_message: str = ""
    exit_code: int | None = None


@event
@dataclass(frozen=True)
class FleetFinished(Event):
    type: ClassVar[str] = "fleet_finished"
    durable: ClassVar[bool] = True
    ok: bool
    rolled_back: int = 0
    skipped: int = 0
    failed: int = 0
    not_started: int = 0


# --------------------------------------------------------------------------- verifying, telling

@event
@dataclass(frozen=True)
class Check(Event):
    type: ClassVar[str] = "check"
    durable: ClassVar[bool] = True
    id: str
    ok: bool
    who: str = ""
    evidence: Any = None
    note: str = ""


@event
@dataclass(frozen=True)
class MonitoringExtended(Event):
    type: ClassVar[str] = "monitoring_extended"
    durable: ClassVar[bool] = True
    on: bool = True
    minutes: float | None = None


@event
@dataclass(frozen=True)
class Notification(Event):
    type: ClassVar[str] = "notification"
    durable: ClassVar[bool] = True
    channel: str
    ok: bool
    detail: str = ""
    attempts: int | None = None
    status_code: int | None = None
    purpose: str = ""
    edited: bool = False
    title: str = ""
    text: str = ""
    """The message as posted: journaled by the drill's outbox (nothing leaves the machine)."""
    item: str = ""
    """The comms item it answers (``update``, ``started``, ``escalation:1``)."""


@event
@dataclass(frozen=True)
class Comms(Event):
    """The operator skipped or edited a communication item."""

    type: ClassVar[str] = "comms"
    durable: ClassVar[bool] = True
    action: str
    item: str = ""
    note: str = ""
    due_at: str = ""
    template: str = ""
    chars: int | None = None


@event
@dataclass(frozen=True)
class Screenshot(Event):
    type: ClassVar[str] = "screenshot"
    path: str


# --------------------------------------------------------------------------- drills

@event
@dataclass(frozen=True)
class DrillScored(Event):
    """A drill's score card, journaled when its incident is resolved (:mod:`cockpit.drill_score`).

    Times in seconds; ``None`` where the drill never got there. ``phases``: one object per
    runbook phase ``{name, seconds, budget_s, points, max_points}``; ``revision``: what was
    chosen and what the scenario's goal was ``{chosen_revision, chosen_images, goal_revision,
    goal_images, points}`` (``revision_ok``: the goal's, compared by images)."""

    type: ClassVar[str] = "drill_scored"
    durable: ClassVar[bool] = True
    scenario: str = ""
    target: str = ""
    started_at: str = ""
    """The drill's first frame (UTC ISO); the incident's opening when the app did not see it."""
    keystrokes: int | None = None
    """Keys pressed from the first frame to the confirmed rollback (None: not counted, e.g. resumed)."""
    phases: tuple[dict, ...] = ()
    total_s: float | None = None
    revision_ok: bool | None = None
    revision: dict = field(default_factory=dict)
    checks_verified: int = 0
    checks_failed: int = 0
    checks_skipped: int = 0
    comms_on_time: int = 0
    comms_counted: int = 0
    points: int = 0
    max_points: int = 0


# --------------------------------------------------------------------------- the data layer

@event
@dataclass(frozen=True)
class MigrationsDiff(Event):
    type: ClassVar[str] = "migrations_diff"
    durable: ClassVar[bool] = True
    dsn: str = ""
    removed: tuple[Any, ...] = ()
    added: tuple[Any, ...] = ()
    step: int | None = None


@event
@dataclass(frozen=True)
class Backup(Event):
    type: ClassVar[str] = "backup"
    durable: ClassVar[bool] = True
    kind: str = ""
    path: str = ""
    sha256: str = ""
    size: int | None = None
    step: int | None = None


@event
@dataclass(frozen=True)
class RowCounts(Event):
    type: ClassVar[str] = "row_counts"
    step: int | None = None


@event
@dataclass(frozen=True)
class Integrity(Event):
    type: ClassVar[str] = "integrity"
    step: int | None = None


DURABLE_TYPES = frozenset(t for t, c in EVENT_TYPES.items() if c.durable)
"""Record types fsynced on append (intents and outcomes always are)."""
