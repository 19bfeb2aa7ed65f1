"""One operator's (or observer's) session: the blocking calls the full-screen app makes.

Plain Python, no Textual: the app calls these from thread workers and hands the results to
screens as messages. Everything that changes the world or the incident goes through the
journal (write-ahead intents via :class:`cockpit.executor.Executor`); the screens render
:class:`cockpit.state.IncidentState`, which the app folds from the journal it tails — the
operator's own session and an observer's are the same code reading the same file.

Readonly is the backend's property (built readonly below the UI); a readonly session also
opens the journal readonly, so it can neither write events nor take the incident lock.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cockpit.errors import CockpitError, ConflictError, ReadonlyError
from cockpit.events import IncidentOpened, Phase
from cockpit.journal import Journal, default_journal_path, read_journal
from cockpit.model import DeploymentInfo, EventInfo, PodInfo, Revision, RolloutProgress, Target, TemplateDiff
from cockpit.ports import CanRollback, RolloutBackend
from cockpit.state import IncidentState, replay


@dataclass(frozen=True)
class Snapshot:
    """One poll of the dashboard's cluster side for a target."""

    target: Target
    at: float
    deployment: DeploymentInfo | None = None
    pods: tuple[PodInfo, ...] = ()
    events: tuple[EventInfo, ...] = ()
    progress: RolloutProgress | None = None


@dataclass
class Session:
    """Backends, the journal and the session's facts. Thread-safe where it says so."""

    backend: RolloutBackend
    readonly: bool = False
    journal_path: Path | None = None
    drill: bool = False
    state_root: Path | None = None
    """Where new incident journals go (``<root>/incidents``); None: the default state dir."""
    backends: dict[str, Any] = field(default_factory=dict)
    journal: Journal | None = None
    lock: Any = None
    target: Target | None = None
    drill_goal: Target | None = None
    """A drill's scenario names the deployment the drill is about: the cockpit starts on it."""
    locker: Any = None
    """The platform's target lock (:class:`cockpit.ports.TargetLocker`, a Lease for Kubernetes;
    None: the host-wide lock file), built by the composition root."""
    warn: Callable[[str], None] = lambda text: None
    """Where lock warnings go (may be called from the lock's renew thread)."""
    cluster_note: str = ""
    kubeconfig: str | None = None
    ask: Callable[[str], str] | None = field(default=None, repr=False)
    """A step's question to the operator (the TUI's modal, from the worker thread): a traffic
    shift whose verdict got worse asks continue or abort."""
    """The kubeconfig the backend was built from (a drill's temporary one): for tools that run Helm's own code."""
    """Why there is no cluster (``backend`` None): an observer following a journal without one."""
    _mutex: threading.Lock = field(default_factory=threading.Lock, repr=False)
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    # ---- capabilities

    @property
    def can_rollback(self) -> bool:
        return not self.readonly and not getattr(self.backend, "readonly", False) and isinstance(self.backend, CanRollback)

    # ---- reads (thread workers)

    def targets(self) -> list[DeploymentInfo]:
        return self.backend.list_deployments(None)

    def snapshot(self, target: Target) -> Snapshot:
        dep = self.backend.deployment(target)
        pods = tuple(self.backend.pods(target))
        events = tuple(self.backend.events(target, limit=30))
        progress = self.backend.progress(target)
        return Snapshot(target, time.time(), dep, pods, events, progress)

    def history(self, target: Target) -> list[Revision]:
        return self.backend.history(target)

    def diff(self, target: Target, revision: int) -> TemplateDiff:
        return self.backend.diff(target, revision)

    # ---- the incident (operator only)

    def _require_writable(self, what: str) -> None:
        if self.readonly:
            raise ReadonlyError(f"readonly: {what} refused (observers change nothing)")

    def open_incident(self, target: Target, reason: str, *, source: str = "tui") -> Journal:
        """Open (or reuse) the incident journal for ``target`` and take its lock — when the
        operator acts on it, never when browsing. A journal belongs to one target: with an
        incident on another target open in this session, refused."""
        self._require_writable("opening an incident")
        with self._mutex:
            if self.journal is not None:
                if self.target == target:
                    return self.journal
                raise ConflictError(
                    f"this cockpit's incident is on {self.target}; {target} is not part of it",
                    title="Another incident is open",
                    hint=f"resolve the incident on {self.target} first (R on the checklist), or run another "
                         f"cockpit for {target}")
            lock = self._lock(target)
            try:
                journal = Journal.open(self.journal_path or self._new_path(target))
                state = replay(journal.read())
                if state.target is not None and state.target != str(target):
                    journal.close()
                    raise ConflictError(f"the journal {journal.path} belongs to the incident on {state.target}",
                                        title="Wrong incident", hint="start the cockpit without --journal")
            except BaseException:
                lock.release()
                raise
            self.lock, self.journal, self.target, self.journal_path = lock, journal, target, journal.path
            if state.target is None:
                journal.write(IncidentOpened(target=str(target), kind=target.kind, reason=reason,
                                             who=journal.actor, drill=self.drill, source=source))
                journal.write(Phase("declare"))
            return journal

    def _lock(self, target: Target) -> Any:
        from cockpit.journal import default_actor
        from cockpit.locks import acquire_target_lock

        return acquire_target_lock(self.locker, target, actor=default_actor(), readonly=self.readonly, warn=self.warn)

    def _new_path(self, target: Target) -> Path:
        path = default_journal_path(str(target))
        if self.state_root is not None:
            path = self.state_root / "incidents" / path.name
        return path

    def attach(self, path: Path) -> IncidentState:
        """Reopen an existing incident journal (resume): take its target's lock, return its state."""
        self._require_writable("resuming an incident")
        state = replay(read_journal(path))
        lock = self._lock(Target.parse(state.target)) if state.target else None
        self.journal = Journal.open(path)
        self.journal_path = self.journal.path
        if state.target:
            self.target, self.lock = Target.parse(state.target), lock
        return state

    def record(self, type: str, /, **data: Any) -> dict:
        """Append one event to the incident journal (refused readonly)."""
        self._require_writable(f"writing {type}")
        if self.journal is None:
            raise CockpitError("no incident is open", title="No incident",
                               hint="the incident opens when you act on a target (a rollback, a tick, a message)")
        return self.journal.append(type, **data)

    def phase(self, name: str, state: IncidentState | None = None) -> None:
        if state is not None and state.phase == name:
            return
        self.record("phase", phase=name)

    def check(self, ident: str, ok: bool, who: str, evidence: str = "", note: str = "") -> dict:
        return self.record("check", id=ident, ok=ok, who=who, evidence=evidence, note=note)

    # ---- the rollback

    def run_rollback(self, target: Target, revision: int, images: tuple[str, ...] = (),
                     log: Callable[[str], None] = print, *, resume: bool = False, why: str = "",
                     reason: str = "") -> Any:
        """The one rollback (:class:`cockpit.rollback.RollbackRun`) for ``target``, in its incident
        (opened now if it is not: acting opens it, browsing never does); blocking. With
        ``resume`` an interrupted run in the journal is reconciled; a rollback the journal
        already holds is not sent again. ``images`` is what the operator confirmed (shown,
        not trusted: the step resolves the revision again before its intent)."""
        from cockpit.rollback import RollbackRequest, RollbackRun
        from cockpit.steps import StepContext

        self._require_writable("rollback")
        what = f"revision {revision}" if revision else "the previous revision"
        journal = self.open_incident(target, reason or f"rollback of {target} to {what}")
        if resume and replay(journal.read()).runbook_yaml is None:
            raise CockpitError("the journal records no rollback to resume", title="Cannot resume")
        self.cancel.clear()
        ctx = StepContext(backends={"kubernetes": self.backend, **self.backends}, log=log, cancel=self.cancel,
                          readonly=self.readonly, namespace=target.namespace, target=target, ask=self.ask)
        req = RollbackRequest(target, to_revision=revision, why=why, source="tui", drill=self.drill,
                              reason=reason or f"rollback of {target} to {what}", timeout=300.0)
        return RollbackRun(req, journal, ctx, log_rate=50.0).run()

    def close(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None
        if self.journal is not None:
            self.journal.close()
        for b in (self.backend, *self.backends.values()):
            close = getattr(b, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 — closing must never fail the exit
                    pass


def resume_point(state: IncidentState) -> str:
    """Which screen an incident resumes on: ``rollback`` (a run was interrupted or pending),
    ``checklist`` (verify/monitor), ``history`` (identify) or ``dashboard``."""
    steps_pending = [a for a in state.pending if a.intent.get("step") is not None]  # not a Redis invalidation
    if steps_pending or state.run_status == "running" or state.phase == "execute":
        return "rollback"
    if state.phase in ("verify", "monitor"):
        return "checklist"
    if state.phase == "identify":
        return "history"
    return "dashboard"


def describe_incident(path: Path) -> str:
    """One line for the resume prompt: target, phase and when it was opened."""
    state = replay(read_journal(path))
    when = state.opened_at.astimezone().strftime("%H:%M:%S") if state.opened_at else "?"
    pending = f", {len(state.pending)} pending write(s)" if state.pending else ""
    return f"{state.target or '?'} — phase {state.phase or '?'}, opened {when} by {state.opened_by or '?'}{pending}"
