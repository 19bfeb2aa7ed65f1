"""What the screens show: one plain holder the app fills and the screens render from.

The app updates it from its workers (on the event loop) and tells the active screen which
part changed; a screen that becomes active renders everything from here. No I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cockpit.model import DeploymentInfo, Revision, RolloutProgress, Target, TemplateDiff
from cockpit.state import IncidentState


@dataclass
class Series:
    """One metric's recent points (epoch seconds, value or None) for a plot."""

    points: list[tuple[float, float | None]] = field(default_factory=list)
    keep_s: float = 900.0

    def add(self, at: float, value: float | None) -> None:
        self.points.append((at, value))
        cutoff = at - self.keep_s
        while self.points and self.points[0][0] < cutoff:
            self.points.pop(0)


@dataclass
class UIData:
    readonly: bool = False
    ascii: bool = False
    drill: str | None = None
    context: str = ""
    observer_of: str | None = None
    """Readonly observers: the journal they follow."""
    targets: list[DeploymentInfo] = field(default_factory=list)
    target: Target | None = None
    snapshot: Any = None
    """The latest :class:`cockpit.session.Snapshot`."""
    stale: dict[str, float] = field(default_factory=dict)
    """source name → epoch seconds since when it is stale (failing)."""
    errors: dict[str, str] = field(default_factory=dict)
    decision: Any = None
    """The latest :class:`cockpit.decision.Decision` (None: no metrics source)."""
    metrics_note: str = "metrics: connecting…"
    error_rate: Series = field(default_factory=Series)
    p95: Series = field(default_factory=Series)
    history: list[Revision] = field(default_factory=list)
    history_for: Target | None = None
    history_note: dict | None = None
    """The deployment's note of the cockpit's last rollback (``cockpit.io/last-rollback``), read with the history."""
    diffs: dict[int, TemplateDiff] = field(default_factory=dict)
    progress: RolloutProgress | None = None
    rollback_asked_at: float | None = None
    """When this session last asked for a rollback (epoch seconds): progress read before it is the
    previous rollout's (no stale "4/4 complete")."""
    state: IncidentState = field(default_factory=IncidentState)
    checklist_items: tuple = ()
    auto_results: dict = field(default_factory=dict)
    auto_armed: bool = False
    auto_remaining: float | None = None
    auto_reason: str = ""
    records: list[dict] = field(default_factory=list)
    """The incident journal's records but ``log`` lines (what the comms plan folds)."""
    comms_policy: Any = None
    """:class:`cockpit.comms.CommsPolicy` once the notify settings are loaded (None: not yet)."""
    comms_channels: list[str] = field(default_factory=list)
    comms_busy: str = ""
    report_path: str | None = None
    fleet: Any = None
    """:class:`cockpit.controllers.fleet.FleetView`: each target's verdict, the marked targets, the
    fleet rollback's plan and progress (None: no fleet controller)."""
    mirror_line: str = ""
    """The journal's mirror: "mirror behind since T (N records)" for the operator, or how far behind the
    operator an observer on the mirror is; empty while all is well (Incident.mirror_tick)."""
    data_pg: str | None = None
    """The PostgreSQL target shown (``host:port/db``, no password); None: not configured."""
    data_redis: str | None = None
    redis_server: str = ""
    redis_db: int = 0
    data_snapshot: Any = None
    """The latest :class:`cockpit.session.DataSnapshot`."""
    redis_count: Any = None
    """The latest dry-run :class:`backends.redis.models.CountResult`-like facts."""
    redis_progress: Any = None
    redis_running: bool = False
    redis_log: list[str] = field(default_factory=list)
    now: float | None = None
    """A frozen clock for snapshots (None: the real time)."""
    decision_config: Any = None
    """The settings' ``decision`` section (:class:`cockpit.config.DecisionConfig`); None: the defaults."""

    @property
    def thresholds(self) -> dict[str, float]:
        """The plots' threshold lines, from :attr:`decision_config` (never hard-coded)."""
        from screens.render import plot_thresholds

        return plot_thresholds(self.decision_config)
