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


@dataclass(frozen=True)
class DataSnapshot:
    """One poll of the data panel: migration history, backups, long transactions; a failing
    part is named in ``errors`` (``part → "Title: message"``) and the others still show."""

    at: float
    migrations: tuple = ()
    backups: tuple = ()
    long_tx: tuple = ()
    errors: dict = field(default_factory=dict)


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
    notifier_factory: Callable[[Journal | None], Any] | None = None
    """``journal → Notifier`` (built by the composition root: the core imports no backend)."""
    data_errors: dict[str, str] = field(default_factory=dict)
    """Data backends that could not be built (a bad DSN): shown, not fatal."""
    backups_dir: Path | None = None
    long_tx_older_than_s: float = 30.0
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
            raise CockpitError("no incident is open", title="No incident", hint="pick a target and press h first")
        return self.journal.append(type, **data)

    def phase(self, name: str, state: IncidentState | None = None) -> None:
        if state is not None and state.phase == name:
            return
        self.record("phase", phase=name)

    def check(self, ident: str, ok: bool, who: str, evidence: str = "", note: str = "") -> dict:
        return self.record("check", id=ident, ok=ok, who=who, evidence=evidence, note=note)

    # ---- team communication (thread workers)

    def notifier(self) -> Any:
        """A notifier journaling into the open incident (readonly sessions get a readonly one,
        which refuses before anything is rendered or sent)."""
        if self.notifier_factory is None:
            raise CockpitError("notifications are not wired in this session", title="No notifier")
        return self.notifier_factory(self.journal)

    def _comms_due(self, item: str | None, records: list[dict], notifier: Any) -> Any:
        from cockpit.comms import plan

        p = plan(records, notifier.settings.policy())
        due = {d.key: d for d in p.items}.get(item) if item else p.next
        if due is None or due.status != "pending":
            raise CockpitError(f"{item or 'nothing'} is not due: it was sent or skipped already, or no incident is open",
                               title="Nothing to send")
        return due

    def _incident_records(self, what: str) -> list[dict]:
        self._require_writable(what)
        if self.journal is None:
            raise CockpitError("no incident is open", title="No incident", hint="pick a target and press h first")
        return self.journal.read()

    def comms_preview(self, item: str | None) -> tuple[Any, str]:
        """The comms item and the text that would be sent (title line, then the body)."""
        records = self._incident_records("notifying")
        n = self.notifier()
        due = self._comms_due(item, records, n)
        chans = [c for c in (list(due.channels) or ["slack", "webhook"]) if c in n.channels] or ["slack"]
        extra = {"level": due.level or "", "mentions": " ".join(due.targets)} if due.kind == "escalation" else None
        msg = n.preview(chans[0], due.template, records, extra=extra)
        return due, f"{msg.title}\n{msg.body}"

    def comms_send(self, item: str | None, text: str | None = None) -> list:
        """Send a comms item on its channels (each delivery journaled by the notifier)."""
        from cockpit.comms import edit_event

        records = self._incident_records("notifying")
        n = self.notifier()
        due = self._comms_due(item, records, n)
        if text is not None:
            self.record("comms", **edit_event(due, template=due.template, chars=len(text)))
        return n.send_due(due, records, text=text)

    def comms_skip(self, item: str | None, note: str = "") -> dict:
        """Journal that the operator skipped this comms item."""
        from cockpit.comms import skip_event

        records = self._incident_records("skipping a notification")
        due = self._comms_due(item, records, self.notifier())
        return self.record("comms", **skip_event(due, note=note))

    def write_report(self, screenshot_svg: str | None = None) -> Path:
        """The incident report (Markdown) next to the journal, with the dashboard's SVG
        screenshot beside it when given. Returns the report's path."""
        from cockpit.report import report_text

        records = self._incident_records("writing the report")
        assert self.journal_path is not None
        base = Path(self.journal_path)
        shot = None
        if screenshot_svg:
            svg = base.with_suffix(".dashboard.svg")
            svg.write_text(screenshot_svg, encoding="utf-8", newline="\n")
            shot = svg.name  # relative: the report and its picture travel together
        out = base.with_suffix(".report.md")
        out.write_text(report_text(records, "md", screenshot=shot), encoding="utf-8", newline="\n")
        return out

    # ---- the data layer (thread workers)

    @property
    def postgres(self) -> Any:
        return self.backends.get("postgres")

    @property
    def redis(self) -> Any:
        return self.backends.get("redis")

    def data_snapshot(self, limit: int = 20) -> DataSnapshot:
        """Migration history, backups and long transactions; each part fails on its own."""
        pg = self.postgres
        errors: dict[str, str] = {}
        migrations: tuple = ()
        backups: tuple = ()
        long_tx: tuple = ()

        def guard(part: str, fn: Callable[[], Any]) -> Any:
            try:
                return tuple(fn())
            except CockpitError as exc:
                errors[part] = f"{exc.title}: {exc.message}"
            return ()

        if pg is not None:
            migrations = guard("migrations", lambda: pg.migrations(limit))
            long_tx = guard("long transactions", lambda: pg.long_transactions(self.long_tx_older_than_s))
            if self.backups_dir is not None:
                backups = guard("backups", lambda: pg.list_backups(self.backups_dir))
        return DataSnapshot(time.time(), migrations, backups, long_tx, errors)

    def redis_count(self, pattern: str, cancel: threading.Event | None = None) -> Any:
        """Dry run (SCAN only): how many keys match ``pattern``."""
        if self.redis is None:
            raise CockpitError("Redis is not configured", title="No Redis", hint="set COCKPIT_DATA__REDIS_URL")
        return self.redis.count(pattern, cancel=cancel)

    def redis_invalidate(self, pattern: str, cancel: threading.Event | None, progress: Callable[[Any], None]) -> Any:
        """Delete the keys matching ``pattern`` (readonly: refused by the backend before a byte
        is sent), streaming progress; journaled before and after when an incident is open."""
        self._require_writable(f"invalidating {pattern!r}")
        r = self.redis
        if r is None:
            raise CockpitError("Redis is not configured", title="No Redis", hint="set COCKPIT_DATA__REDIS_URL")
        if self.journal is not None:
            self.journal.append("redis_invalidate", stage="started", pattern=pattern, target=r.target)
        last = None
        try:
            for last in r.invalidate(pattern, cancel=cancel):
                progress(last)
        except CockpitError as exc:
            if self.journal is not None:
                self.journal.append("redis_invalidate", stage="failed", pattern=pattern, target=r.target,
                                    deleted=getattr(last, "deleted", 0), error=exc.message)
            raise
        if self.journal is not None and last is not None:
            self.journal.append("redis_invalidate", stage="finished", pattern=pattern, target=r.target,
                                matched=last.matched, deleted=last.deleted, remaining=last.remaining,
                                dbsize_before=last.dbsize_before, dbsize_after=last.dbsize_after)
        return last

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
