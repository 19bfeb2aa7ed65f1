"""The verification checklist: what the cockpit can prove by itself and the operator's ticks.

:meth:`ChecklistRunner.update` (after every snapshot and metrics poll) evaluates the
automatic checks from the evidence — the rollout and pods of the last snapshot, the live
controller's probes, versions and metric points since the ``verify`` phase began — and
journals the newly proven ones (operator sessions only, once each); when every automatic
check passes in ``verify``, the incident moves to ``monitor``. The operator's ticks, the
30-minute monitoring and the resolution are journaled through the same incident.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class ChecklistRunner:
    def __init__(self, host: Any, data: Any, incident: Any, live: Any, *, window_s: float = 60.0) -> None:
        """``incident``: :class:`cockpit.controllers.incident.Incident`; ``live``: what holds the
        evidence (``probes``, ``points``, ``version``: :class:`cockpit.controllers.live.LiveController`)."""
        self.host, self.data, self.incident, self.live, self.window_s = host, data, incident, live, window_s
        self._pending: set[tuple[str, bool]] = set()
        """Ticks written (or being written) that the folded state does not show yet."""
        self._monitor_asked = False

    def update(self) -> None:
        """Evaluate the automatic checks; journal the newly proven ones (event loop)."""
        from cockpit.checklist import Evidence, evaluate, expected_versions, ticks_to_journal
        from cockpit.runbook import DEFAULT_CHECKLIST

        st = self.data.state
        self.data.checklist_items = DEFAULT_CHECKLIST
        verify = next((p for p in st.phases if p.name == "verify"), None)
        since = verify.started.timestamp() if verify is not None and verify.started else None
        snap = self.data.snapshot
        images = tuple((st.revision or {}).get("images") or ())
        ev = Evidence(now=time.time(), since=since, progress=getattr(snap, "progress", None),
                      pods=getattr(snap, "pods", None), probes=tuple(self.live.probes), version=self.live.version,
                      expected=expected_versions(images), samples=tuple(self.live.points), window_s=self.window_s)
        auto = evaluate(ev)
        if auto != self.data.auto_results:
            self.data.auto_results = auto
            self.host.mark("checks")
        session = self.incident.session
        if since is None or self.data.readonly or not self.incident.is_open or st.resolved:
            return
        pending = self._pending  # a tick stays pending until the journal's fold shows it: never written twice
        pending.difference_update({(i, ok) for i, ok in pending if (c := st.checks.get(i)) is not None and c.ok == ok})
        ticks = [t for t in ticks_to_journal(DEFAULT_CHECKLIST, st, auto) if (t["id"], t["ok"]) not in pending]
        if ticks:
            pending.update((t["id"], t["ok"]) for t in ticks)

            def write() -> None:
                try:
                    for t in ticks:
                        session.check(t["id"], t["ok"], t["who"], evidence=t["evidence"])
                except Exception:
                    pending.difference_update((t["id"], t["ok"]) for t in ticks)  # tried again on the next update
                    raise

            self.host.run_in_thread(write)
        if st.phase != "verify":
            self._monitor_asked = False
        elif all(r.ok for r in auto.values()) and not self._monitor_asked:
            self._monitor_asked = True
            self.host.run_in_thread(lambda: session.phase("monitor", self.data.state))

    # ---- the operator (each opens the incident for the target on screen if none is open)

    def tick(self, ident: str, ok: bool, note: str = "") -> None:
        from cockpit.journal import default_actor

        who, target = default_actor(), self.data.target

        def write() -> None:
            self.incident.open_for(target, f"checklist: {ident} ticked")
            self.incident.session.check(ident, ok, who, evidence="ticked by hand", note=note)

        self.host.run_in_thread(write)

    def extend(self, on: bool) -> None:
        target = self.data.target

        def write() -> None:
            self.incident.open_for(target, "checklist: 30-minute monitoring")
            self.incident.session.record("monitoring_extended", on=on)

        self.host.run_in_thread(write)

    def resolve(self, then: Callable[[], Any], open_checks: tuple[str, ...] | None = None) -> None:
        """Resolve the open incident (phase ``resolved`` and ``incident_resolved`` naming the
        checks still open), then call ``then`` on the event loop (the app offers the report).

        ``open_checks``: what the operator was told is open and chose to resolve anyway (the
        checklist asks first; None: not asked). A check that became open since — an automatic
        one that failed meanwhile — is not resolved over: the operator is told and asked again."""
        from cockpit.checklist import open_rows
        from cockpit.runbook import DEFAULT_CHECKLIST

        if not self.incident.is_open:
            self.host.notify("no incident is open: nothing to resolve", severity="warning")
            return
        st, items, session = self.data.state, self.data.checklist_items or DEFAULT_CHECKLIST, self.incident.session
        left = tuple(r.id for r in open_rows(items, st, self.data.auto_results))
        unseen = [i for i in left if open_checks is not None and i not in open_checks]
        if unseen:
            titles = ", ".join(next((it.title for it in items if it.id == i), i) for i in unseen)
            self.host.notify(f"not resolved: {titles} became open since you were asked; press R again",
                             severity="warning", timeout=8)
            return
        summary = (f"resolved from the cockpit with {len(left)} check{'s' if len(left) != 1 else ''} open"
                   if left else "resolved from the cockpit, every check verified")

        def write() -> None:
            if st.resolved:
                return
            session.record("phase", phase="resolved")
            session.record("incident_resolved", summary=summary, open_checks=list(left))
            self.host.call_from_thread(then)

        self.host.run_in_thread(write)
