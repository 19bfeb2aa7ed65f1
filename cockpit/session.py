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

import yaml

from cockpit.errors import CockpitError, ReadonlyError
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
class AutoRollback:
    """Armed/disarmed automatic rollback with a countdown an operator can abort.

    Pure: the app calls :meth:`fire` when the decision engine's trigger fires, shows
    :meth:`remaining`, calls :meth:`abort` on the abort key and runs the rollback when
    :meth:`due` says so (once).
    """

    armed: bool = False
    countdown_s: float = 10.0
    deadline: float | None = None
    reason: str = ""
    aborted: bool = False
    done: bool = False

    def fire(self, now: float, reason: str) -> bool:
        """Start the countdown (only when armed, idle and not yet done). True if it started."""
        if not self.armed or self.deadline is not None or self.done:
            return False
        self.deadline, self.reason, self.aborted = now + self.countdown_s, reason, False
        return True

    def remaining(self, now: float) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - now)

    def abort(self) -> bool:
        if self.deadline is None:
            return False
        self.deadline, self.aborted = None, True
        return True

    def due(self, now: float) -> bool:
        if self.deadline is not None and now >= self.deadline and not self.done:
            self.done, self.deadline = True, None
            return True
        return False


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

    def open_incident(self, target: Target, reason: str) -> Journal:
        """Open (or reuse) the incident journal for ``target`` and take the lock."""
        self._require_writable("opening an incident")
        with self._mutex:
            if self.journal is not None and self.target == target:
                return self.journal
            path = self.journal_path or self._new_path(target)
            journal = Journal.open(path)
            self.lock = journal.lock(str(target))
            self.journal, self.target, self.journal_path = journal, target, journal.path
            if not any(r.get("type") == "incident_opened" for r in journal.read()):
                journal.append("incident_opened", target=str(target), kind=target.kind, reason=reason,
                               drill=self.drill)
                journal.append("phase", phase="declare")
            return journal

    def _new_path(self, target: Target) -> Path:
        path = default_journal_path(str(target))
        if self.state_root is not None:
            path = self.state_root / "incidents" / path.name
        return path

    def attach(self, path: Path) -> IncidentState:
        """Reopen an existing incident journal (resume): take the lock, return its state."""
        self._require_writable("resuming an incident")
        journal = Journal.open(path)
        state = replay(journal.read())
        if state.target:
            ns, _, name = state.target.partition("/")
            self.target = Target(name or ns, ns if name else "default")
            self.lock = journal.lock(state.target)
        self.journal, self.journal_path = journal, journal.path
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

    def rollback_runbook_yaml(self, target: Target, revision: int, images: tuple[str, ...] = ()) -> str:
        return yaml.safe_dump({
            "name": f"roll back {target} to revision {revision}",
            "target": {"kind": "deployment", "namespace": target.namespace, "name": target.name},
            "steps": [{"kind": "kubernetes.rollback", "name": f"Roll back {target.name} to revision {revision}",
                       "budget": "5m", "params": {"to_revision": revision, "wait": True, "timeout": 300}}],
        }, sort_keys=False)

    def run_rollback(self, target: Target, revision: int, images: tuple[str, ...],
                     log: Callable[[str], None], *, resume: bool = False) -> Any:
        """Run the one-step rollback runbook through the executor (journaled); blocking."""
        from cockpit.executor import Executor
        from cockpit.runbook import parse_runbook
        from cockpit.steps import StepContext

        self._require_writable("rollback")
        journal = self.journal or self.open_incident(target, f"rollback to revision {revision}")
        if resume:
            text = latest_runbook(journal.read())
            if text is None:
                raise CockpitError("the journal records no runbook to resume", title="Cannot resume")
        else:
            text = self.rollback_runbook_yaml(target, revision, images)
            journal.append("runbook", yaml=text, revision=revision, images=list(images))
            journal.append("phase", phase="execute")
        runbook = parse_runbook(text, source="<rollback>")
        self.cancel.clear()
        ctx = StepContext(backends={"kubernetes": self.backend, **self.backends}, log=log, cancel=self.cancel,
                          readonly=self.readonly, namespace=target.namespace, target=target)
        executor = Executor(runbook, journal, ctx, log_rate=50.0)
        result = executor.resume() if resume else executor.run()
        if result.ok:
            journal.append("phase", phase="verify")
        return result

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


def latest_runbook(records: list[dict]) -> str | None:
    """The YAML of the last ``runbook`` event in a journal (what resume re-runs)."""
    for rec in reversed(records):
        if rec.get("type") == "runbook" and isinstance(rec.get("yaml"), str):
            return rec["yaml"]
    return None


def resume_point(state: IncidentState) -> str:
    """Which screen an incident resumes on: ``rollback`` (a run was interrupted or pending),
    ``checklist`` (verify/monitor), ``history`` (identify) or ``dashboard``."""
    if state.pending or state.run_status == "running" or state.phase == "execute":
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


def parse_target(text: str) -> Target:
    ns, _, name = text.partition("/")
    return Target(name, ns) if name else Target(ns)
