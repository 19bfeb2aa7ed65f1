"""The incident the screens show: its journal followed into ``IncidentState``, and the
incident opened for a target when the operator acts — never when browsing.

- :class:`IncidentFollower` tails one journal file in a daemon thread (``journal.follow``) and
  folds what arrived in bursts: the thread collects records and wakes the UI once per burst;
  the UI folds everything pending in one go (:meth:`IncidentFollower.drain`). The operator's
  own session and a readonly observer in another SSH session run this same code over the
  same file — and an observer on another host over the journal's mirror
  (``--follow postgresql://…`` / ``redis://…``): the same burst and drain, with records read
  from the store (:class:`cockpit.mirror.StoreFollower`) instead of the file.
- :class:`Incident` is the operator's side: :meth:`Incident.open_for` returns the open
  incident's journal, or opens the incident for the target on screen (taking its lock) when
  the operator does something that is journaled; :meth:`Incident.record_if_open` journals
  only into an incident that is already open (it never opens one); resume and the observer's
  choice of journal.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cockpit.errors import CockpitError, ReadonlyError
from cockpit.model import Target
from cockpit.state import IncidentState

NO_TARGET_HINT = "pick a deployment on the dashboard (enter on the list) first"


@dataclass(frozen=True)
class Folded:
    """What one :meth:`IncidentFollower.drain` folded."""

    count: int
    verify_entered: bool
    """A ``phase: verify`` record arrived (the rollback finished: judge only what follows)."""
    target: str | None
    """The incident's target (``namespace/name``), once its ``incident_opened`` is folded."""


class IncidentFollower:
    """Tails one incident journal into :attr:`state` and :attr:`records` (all but ``log``).

    ``wake()`` is called from the tail thread when records arrive and no wake-up is pending
    (once per burst: it must not block); the UI then calls :meth:`drain` on its own thread.
    """

    def __init__(self, wake: Callable[[], Any], *, poll: float = 0.2) -> None:
        self.wake = wake
        self.poll = poll
        self.path: Any = None
        """What is followed: the journal's path, or the mirror's ``<store> <incident>``."""
        self.state = IncidentState()
        self.records: list[dict] = []
        self._lock = threading.Lock()
        self._pending: list[dict] = []
        self._woken = False
        self._generation = 0
        self._stop = threading.Event()

    def follow(self, path: str | Path) -> bool:
        """Follow ``path`` from its start with a fresh state (False: it is followed already)."""
        from cockpit.journal import follow

        path = Path(path)
        return self.follow_source(path, lambda stop: follow(path, stop, poll=self.poll))

    def follow_source(self, key: Any, records: Callable[[threading.Event], Iterable[dict]]) -> bool:
        """Follow the records ``records(stop)`` yields (a journal file, a mirror's store) from
        the first, with a fresh state; ``key`` names the source (False: it is followed already)."""
        if self.path == key:
            return False
        self._stop.set()
        self._stop = stop = threading.Event()
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._pending, self._woken = [], False
        self.path, self.state, self.records = key, IncidentState(), []
        threading.Thread(target=self._tail, args=(records, stop, generation), name=f"follow:{key}"[:60],
                         daemon=True).start()
        return True

    def stop(self) -> None:
        self._stop.set()

    @property
    def waiting(self) -> int:
        """Records read but not folded yet."""
        with self._lock:
            return len(self._pending)

    def _tail(self, records: Callable[[threading.Event], Iterable[dict]], stop: threading.Event,
              generation: int) -> None:
        for record in records(stop):
            with self._lock:
                if stop.is_set() or generation != self._generation:
                    return
                self._pending.append(record)
                first, self._woken = not self._woken, True
            if first:
                try:
                    self.wake()
                except RuntimeError:  # the UI is shutting down
                    return

    def drain(self) -> Folded | None:
        """Fold every record that arrived since the last drain (None: nothing did)."""
        with self._lock:
            batch, self._pending, self._woken = self._pending, [], False
        if not batch:
            return None
        verify = False
        for record in batch:
            self.state.apply(record)
            if record.get("type") != "log":
                self.records.append(record)
            if record.get("type") == "phase" and record.get("phase") == "verify":
                verify = True
        return Folded(len(batch), verify, self.state.target)


class Incident:
    """The operator's incident: which one is open, opening it when the operator acts, and
    following it into ``data.state`` / ``data.records`` (``data``: the screens' holder)."""

    def __init__(self, host: Any, data: Any, session: Any = None, *, on_verify: Callable[[], Any] = lambda: None,
                 on_target: Callable[[Target], Any] = lambda target: None,
                 on_opened: Callable[[Any, Target], Any] = lambda journal, target: None,
                 open_store: Callable[[str, bool], Any] | None = None) -> None:
        """``on_verify()``: the rollback finished (judge only what follows); ``on_target(t)``: the
        incident names its target and none is on screen yet (an observer's first records);
        ``on_opened(journal, target)`` (thread): an incident was just opened by this session;
        ``open_store(url, readonly)``: a mirror's store (default: the one the composition root
        set in :mod:`cockpit.mirror`)."""
        self.host, self.data, self.session = host, data, session
        self.on_verify, self.on_target, self.on_opened = on_verify, on_target, on_opened
        self.follower = IncidentFollower(host.incident_arrived)
        self._rolled_seen: Any = None
        self._open_store = open_store
        self.store_follower: Any = None
        """An observer on the mirror: the :class:`cockpit.mirror.StoreFollower` it reads."""
        self.mirror_line = ""
        """The mirror's status line (see :meth:`mirror_tick`); empty while all is well."""

    # ---- following (event loop)

    def follow(self, path: str | Path | None) -> None:
        """Tail the journal at ``path`` into the screens' state (observers and operators alike)."""
        if path is not None and self.follower.follow(path):
            self.data.state, self.data.records = self.follower.state, self.follower.records

    def drain(self) -> Folded | None:
        """Fold what arrived and ask for a redraw of what depends on the incident."""
        folded = self.follower.drain()
        if folded is None:
            return None
        if folded.verify_entered:
            self.on_verify()
        if folded.target and self.data.target is None:
            self.on_target(Target.parse(folded.target))
        rolled = self.data.state.rolled_back
        if self.data.readonly and rolled is not None and rolled is not self._rolled_seen:
            self._rolled_seen = rolled
            self.data.history_for = None  # the rollback renumbered it: the observer re-reads the history
        if self.data.readonly:
            self._journal_view()
        self.host.mark("steps", "log", "checks", "phases", "bar", "comms")
        return folded

    def stop(self) -> None:
        self.follower.stop()

    def _journal_view(self) -> None:
        """An observer with no metrics of its own shows the operator's: the journaled verdict
        (marked as from the journal) and the panes drawn from the journaled samples."""
        from cockpit.observed import JournalDecision, journal_decision, journal_points

        d = self.data
        if d.decision is not None and not isinstance(d.decision, JournalDecision):
            return  # its own live reading (where it reaches the metrics) is shown as such
        d.decision = journal_decision(d.state)
        d.error_rate.points[:], d.p95.points[:] = journal_points(d.state)
        self.host.mark("metrics")

    # ---- journaling

    @property
    def is_open(self) -> bool:
        return self.session is not None and self.session.journal is not None

    def open_for(self, target: Target | None, reason: str) -> Any:
        """*Thread.* The open incident's journal; else the incident for ``target`` (the target
        on screen), opened now because the operator acted, and followed. Refused readonly."""
        s = self.session
        if s is None or s.readonly:
            raise ReadonlyError("readonly: observers change nothing and open no incident")
        if s.journal is not None:
            return s.journal
        return self.open(target, reason)

    def open(self, target: Target | None, reason: str) -> Any:
        """*Thread.* Open (or reuse) the incident for ``target`` and follow it."""
        if target is None:
            raise CockpitError("no incident is open and no target is picked", title="No incident", hint=NO_TARGET_HINT)
        fresh = self.session.journal is None
        journal = self.session.open_incident(target, reason)
        if fresh:
            self.on_opened(journal, target)
        self.host.call_from_thread(self.follow, self.session.journal_path)
        return journal

    def roll_back(self, target: Target, revision: int, images: tuple[str, ...], *,
                  prepare: Callable[[], Any] = lambda: None, why: str = "", reason: str = "") -> Any:
        """*Thread.* The operator confirmed a rollback of ``target``: ``prepare()`` (the step
        kinds), open the incident for ``target`` (taking its lock) and run the rollback."""
        prepare()
        self.open(target, reason or f"rollback to revision {revision}")
        return self.session.run_rollback(target, revision, images, lambda _line: None, why=why, reason=reason)

    def cancel_run(self) -> None:
        """Stop the running rollback after the current call (the executor journals it cancelled)."""
        if self.session is not None:
            self.session.cancel.set()
            self.host.notify("cancelling the run after the current call…", severity="warning")

    def record_if_open(self, type: str, /, **data: Any) -> None:
        """Journal ``type`` (in a thread) if an incident is open; never opens one, never readonly."""
        if self.is_open and not self.data.readonly:
            self.host.run_in_thread(lambda: self.session.record(type, **data))

    # ---- observers and resume

    def start(self, *, follow: str | Path | None, journal: str | Path | None,
              offer: Callable[[Path, str], Any],
              choose: Callable[[list[tuple[str, str]], Callable[[str | None], Any]], Any] | None = None) -> None:
        """At connect: a readonly observer follows ``follow``, else the open incident there is
        (drills' included), asking which (``choose(incidents, then)``) when there are several;
        an operator outside a drill is offered the open incident to resume (``offer(path,
        description)`` asks, on the event loop). ``follow`` may be a mirror's URL: the open
        incidents there are listed and one is followed from the store."""
        set_interval = getattr(self.host, "set_interval", None)
        if set_interval is not None:
            set_interval(1.0, self.mirror_tick)
        from cockpit.mirror import is_mirror_url

        if self.data.readonly and is_mirror_url(follow):
            self.observe_mirror_at(str(follow), choose)
            return
        if self.data.readonly:
            found = [Path(follow)] if follow is not None else open_incidents_anywhere()
            if not found:
                self.host.notify("readonly: no open incident to follow; showing the cluster only", timeout=6)
            elif len(found) == 1 or choose is None:
                self.observe(found[-1])
            else:
                from cockpit.session import describe_incident

                choose([(str(p), describe_incident(p)) for p in found], lambda p: self.observe(Path(p)) if p else None)
        elif not self.session.drill:
            from cockpit.session import describe_incident

            path = resumable_journal(journal)
            if path is not None:
                offer(path, describe_incident(path))

    def observe(self, path: Path) -> None:
        """Follow the journal at ``path`` as an observer."""
        self.data.observer_of = str(path)
        self.follow(path)

    # ---- the mirror (observers on other hosts; the operator's status line)

    def observe_mirror_at(self, url: str, choose: Callable[..., Any] | None = None) -> None:
        """List the open incidents at the mirror ``url`` (in a thread) and follow the one there
        is, or the one chosen (``choose(incidents, then)``). A store that does not answer is
        said, shown on the status line and tried again every 5 s."""
        from cockpit import mirror

        opener = self._open_store or (lambda u, readonly: mirror.open_store(u, readonly=readonly))

        def fetch() -> Any:
            store = opener(url, True)
            try:
                return store, store.incidents(open_only=True)
            except Exception:
                store.close()
                raise

        def deliver(result: Any) -> None:
            store, found = result
            if not found:
                store.close()
                self.host.notify(f"readonly: no open incident at {store.display}; showing the cluster only", timeout=8)
            elif len(found) == 1 or choose is None:
                self.observe_mirror(store, found[0].id)
            else:
                choose([(i.id, i.describe()) for i in reversed(found)],
                       lambda chosen: self.observe_mirror(store, chosen) if chosen else store.close())

        def failed(exc: BaseException) -> None:
            from cockpit.text import sanitize

            text = sanitize(str(exc), max_len=300)
            self._set_mirror_line(f"mirror: {text}")
            self.host.notify(f"mirror: {text}", severity="error", timeout=10)
            from cockpit.errors import UnreachableError

            if isinstance(exc, UnreachableError):
                self.host.set_timer(5.0, lambda: self.observe_mirror_at(url, choose))

        self.host.fetch("mirror", fetch, deliver, failed)

    def observe_mirror(self, store: Any, incident: str) -> None:
        """Follow ``incident`` from the mirror's ``store`` (readonly) as an observer."""
        from cockpit.mirror import StoreFollower

        self.store_follower = source = StoreFollower(store, incident)
        self.data.observer_of = f"{store.display} {incident}"
        if self.follower.follow_source(self.data.observer_of, source.records):
            self.data.state, self.data.records = self.follower.state, self.follower.records
        self.mirror_tick()

    def mirror_tick(self) -> None:
        """(Every second.) The status line: an observer on the mirror, how far behind the
        operator it is; an operator, "mirror behind since T (N records)" while the store lags
        (said once as a toast when it falls behind and when it has caught up)."""
        if self.store_follower is not None:
            self._set_mirror_line(self.store_follower.status().line())
            return
        from cockpit.mirror import status_line

        line = status_line()
        if line and not self.mirror_line:
            self.host.notify(f"{line}: the incident goes on in the journal and is sent when the store answers",
                             severity="warning", timeout=8)
        elif self.mirror_line.startswith("mirror behind") and not line:
            self.host.notify("mirror caught up: every record is in the store", timeout=5)
        self._set_mirror_line(line)

    def _set_mirror_line(self, line: str) -> None:
        if line != self.mirror_line:
            self.mirror_line = line
            self.data.mirror_line = line
            self.host.mark("bar")

    def resume(self, path: Path, *, prepare: Callable[[], Any] = lambda: None,
               resumed: Callable[[IncidentState, str], Any] = lambda state, where: None) -> IncidentState:
        """*Thread.* Reopen the incident at ``path`` (taking its lock) and follow it; then
        ``prepare()`` (the step kinds), the target shown, ``resumed(state, where)`` on the event loop (``where``:
        ``rollback``, ``checklist``, ``history`` or ``dashboard``), and an interrupted rollback
        runs on from its journal (``executor.resume``: a pending intent is reconciled, not re-sent)."""
        from cockpit.session import resume_point

        state = self.session.attach(path)
        where = resume_point(state)
        prepare()
        self.host.call_from_thread(self.follow, self.session.journal_path)
        self.host.call_from_thread(self.on_target, self.session.target)
        self.host.call_from_thread(resumed, state, where)
        if where == "rollback" and state.run_status != "ok":
            self.session.run_rollback(self.session.target, 0, (), lambda _line: None, resume=True)
        return state


def observed_journal(follow: str | Path | None) -> Path | None:
    """The journal a readonly observer follows: ``--follow``, else the newest open incident."""
    if follow is not None:
        return Path(follow)
    found = open_incidents_anywhere()
    return found[-1] if found else None


def open_incidents_anywhere() -> list[Path]:
    """Open incidents under the state dir and its drills' (oldest first, by their UTC stamp)."""
    from cockpit.journal import find_open_incidents, state_dir

    found = find_open_incidents() + find_open_incidents(state_dir() / "drills")
    return sorted(found, key=lambda p: p.name)


def resumable_journal(journal: str | Path | None) -> Path | None:
    """The incident an operator is offered to resume: ``--journal`` when it exists, else the
    newest open incident (None: nothing to resume)."""
    from cockpit.fleet import is_fleet_journal
    from cockpit.journal import find_open_incidents

    if journal is not None and Path(journal).exists():
        return Path(journal)
    # a fleet's journal holds many targets: it is continued by `cockpit rollback --journal J`
    found = [p for p in find_open_incidents() if p != journal and not is_fleet_journal(p)]
    return found[-1] if found else None
