"""The cluster as the operator browses it: the deployments list, the target on screen with its
pods, events and rollout progress, its revision history and diffs.

Each live source is a poll the host runs (fetch in a thread → deliver here on the event loop
→ the next one after the interval; failures back off and mark the source stale). Picking a
target restarts its snapshot poll and prepares its metrics poll, which the first snapshot
starts (the first live frame is drawn before httpx and the decision engine are imported).
Browsing never opens an incident and never takes a lock.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any

from cockpit.model import Target


class ClusterView:
    def __init__(self, host: Any, data: Any, live: Any, checklist: Any) -> None:
        """``live``: :class:`cockpit.controllers.live.LiveController`; ``checklist``:
        :class:`cockpit.controllers.checklist.ChecklistRunner` (updated after each poll)."""
        self.host, self.data, self.live, self.checklist = host, data, live, checklist
        self.session: Any = None

    def connect(self, session: Any) -> None:
        """Start listing the deployments (every 10 s)."""
        self.session = session
        self.host.poll("targets", session.targets, self.got_targets, 10.0,
                       on_error=lambda e: self.live.source_failed("kubernetes", e))

    def pick(self, target: Target | None) -> None:
        """Show ``target``: forget the previous one's state and evidence, poll this one."""
        if target is None or target == self.data.target and self.host.polling("snapshot"):
            return
        d = self.data
        d.target, d.snapshot = target, None
        d.history, d.diffs, d.decision, d.history_note = [], {}, None, None
        self.live.reset()
        s = self.session
        self.host.poll("snapshot", lambda: read_snapshot(s, target), self.got_snapshot, 2.0,
                       on_error=lambda e: self.live.source_failed("kubernetes", e))
        # started by the first snapshot: building the sources imports httpx and the decision
        # engine, which must not compete with the first live frame
        self.host.poll("metrics", lambda: self.live.sample(target), self.got_metrics, 1.0,
                       on_error=lambda e: self.live.source_failed("metrics", e), start=False)
        self.host.mark("bar", "snapshot", "metrics")

    def got_targets(self, targets: list) -> None:
        self.live.fresh("kubernetes")
        if targets != self.data.targets:
            self.data.targets = targets
            self.host.mark("targets")

    def got_snapshot(self, snap: Any) -> None:
        self.live.fresh("kubernetes")
        first = self.data.snapshot is None
        self.data.snapshot = snap
        if snap.progress != self.data.progress:
            self.data.progress = snap.progress
            self.host.mark("progress")
        self.host.mark("snapshot")
        if first:
            self.host.first_live_frame()
        self.checklist.update()

    def got_metrics(self, result: Any) -> None:
        self.live.deliver(result)
        self.checklist.update()

    def history(self) -> bool:
        """Load the history of the target on screen (False: no target picked yet)."""
        target = self.data.target
        if target is None:
            return False

        def got(result: tuple[list, Any]) -> None:
            revs, note = result
            if revs != self.data.history:
                self.data.diffs = {}  # e.g. a rollback renumbered the revisions and changed the live template
            self.data.history, self.data.history_for = revs, target
            self.data.history_note = note
            self.host.mark("history")

        session = self.session
        self.host.fetch("history", lambda: (session.history(target), rollback_note(session, target)), got)
        return True

    def history_wanted(self, target: Target | None) -> None:
        """A screen shows the history of ``target`` without it (after a resume, or once an
        observer's incident rolled back): load it, if it is still the target on screen."""
        if target is not None and target == self.data.target and getattr(self.session, "backend", None) is not None:
            self.history()

    def diff(self, target: Target, revision: int) -> None:
        """Load the diff of ``revision`` against the live template (a failure is a toast)."""
        def got(d: Any) -> None:
            self.data.diffs[revision] = d
            self.host.mark("diff")

        self.host.fetch("diff", lambda: self.session.diff(target, revision), got,
                        lambda exc: self.host.notify(f"{exc.title}: {exc}", severity="error"))


def read_snapshot(session: Any, target: Target) -> Any:
    """*Thread.* One snapshot, stamped with when its reads *began*: what it shows is at least
    that recent, so the rollback screen can tell a progress read before the rollback from one
    read after it (:func:`screens.render.rollback_starting`)."""
    began = time.time()
    snap = session.snapshot(target)
    return dataclasses.replace(snap, at=began)


def rollback_note(session: Any, target: Target) -> dict | None:
    """*Thread.* The cockpit's note of its last rollback of ``target`` on the deployment
    (``cockpit.io/last-rollback``: when, from/to template hash), where the backend reads it —
    what marks the revision rolled back from across sessions and bastions. None when the
    backend has no such note or it cannot be read (the history is shown regardless)."""
    from cockpit.errors import CockpitError

    read = getattr(session.backend, "rollback_note", None)
    if not callable(read):
        return None
    try:
        return read(target)
    except CockpitError:
        return None
