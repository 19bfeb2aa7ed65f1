"""The live verdict and the automatic rollback of the target on screen.

Two sections, kept in one module because the second acts on the first's triggers:

1. **The live verdict** — metrics sources → decision engine → verdict. The metrics poll calls
   :meth:`LiveController.sample` in a thread (sources are built on the first call: httpx and
   the engine are imported after the first frame) and :meth:`LiveController.deliver` on the
   event loop, which fills the plots, the stale marks and the evidence the checklist reads
   (:attr:`probes`, :attr:`points`, :attr:`version`).
2. **The automatic rollback** — the one policy :mod:`cockpit.autorollback` shares with
   ``cockpit watch``: an armed trigger opens the incident of the target on screen, reads it
   (once per incident, across restarts), picks the revision last seen healthy (by template
   hash; else the previous one) and journals the trigger with that revision, why and the
   countdown; the operator can abort the countdown (journaled); then the one rollback
   (:mod:`cockpit.rollback`) runs with that revision and why.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cockpit.errors import CockpitError, ConflictError
from cockpit.model import Target


class LiveController:
    def __init__(self, host: Any, data: Any, *, build: Callable[[Target], tuple[Any, list, str]],
                 window_s: float = 60.0, countdown_s: float = 10.0,
                 roll_back: Callable[[Target, int, tuple[str, ...]], None] | None = None,
                 record_if_open: Callable[..., None] | None = None,
                 incident: Callable[[Target], Any] | None = None,
                 history: Callable[[Target], list] | None = None, journal_samples_s: float = 10.0,
                 note: Callable[[Target], dict | None] | None = None) -> None:
        """``build(target) → (engine, sources, note)`` (the composition root's); ``roll_back``
        starts a rollback (``revision`` 0: the previous one); ``record_if_open(type, **data)``
        journals into an incident that is already open; ``incident(target)`` (thread) opens the
        incident for ``target`` (or returns the open one's journal) when an armed trigger fires."""
        from cockpit.autorollback import Countdown

        self.host, self.data, self.build, self.window_s = host, data, build, window_s
        self.roll_back = roll_back or (lambda target, revision, images: None)
        self.record_if_open = record_if_open or (lambda type, **data: None)
        self.engine: Any = None
        self.sources: list = []
        self.probes: list = []
        self.points: list = []
        self.version: str | None = None
        self._stabilize = False
        self.auto = Countdown(countdown_s=countdown_s)
        self.incident = incident
        self.history = history or (lambda target: [])
        self.note = note or (lambda target: None)
        """*Thread.* The cockpit's note of its last rollback on the deployment (None: none)."""
        self.cluster_ok: bool | None = None
        """Did this session's last call to the Kubernetes API answer (the snapshot poll)?"""
        self.healthy_revisions: set[int] = set()
        self.plan: Any = None
        self._verdict_seen: str | None = None
        self._verdict_event: Any = None
        """The verdict on screen as the journal would record it (written when an incident opens)."""
        self.journal_samples_s = journal_samples_s
        self.backfill: list = []
        """The window's history read when the sources were built, for the next delivery."""
        self.thinner: Any = None
        """:class:`cockpit.sampling.SampleThinner` of the target on screen (built on its first sample)."""

    # ================================================================== 1. the live verdict

    def reset(self) -> None:
        """A new target: forget the engine, its sources and the evidence (event loop)."""
        self.data.error_rate.points.clear()
        self.data.p95.points.clear()
        self.engine, self.sources, self.probes, self.points, self.version = None, [], [], [], None
        self.backfill = []
        self.thinner, self._verdict_event, self._verdict_seen = None, None, None
        self.data.stale.clear()
        if self.auto.deadline is None:  # the last target's automatic rollback (used or refused) is not this one's
            self.auto.done, self.plan = False, None

    def stabilize_next(self) -> None:
        """The rollback finished: the next sample restarts the engine's stabilization window
        and the sources' rates, so only what came after the rollback is judged."""
        self._stabilize = True

    def sample(self, target: Target) -> tuple[float, list, Any]:
        """*Thread* (the metrics poll): build the sources once, read them, tick the engine."""
        if self.engine is None:
            self.engine, self.sources, note = self.build(target)
            self.data.metrics_note = note
            self.backfill = self.read_history(time.time())
        now = time.time()
        if self._stabilize:
            self._stabilize = False
            self.engine.stabilize(now, "the rollback")
            for source in self.sources:
                getattr(source, "reset", lambda: None)()
        readings = [s.sample(self.window_s, now) for s in self.sources]
        # health checks count as failures only while the Kubernetes API answers (decision.py)
        decision = self.engine.tick(readings, now, cluster_ok=self.cluster_ok) if self.sources else None
        return now, readings, decision

    def read_history(self, now: float) -> list:
        """*Thread.* The window's history from the first source that keeps one (Prometheus), so
        the panes start with what happened before the cockpit opened; [] when none can."""
        from cockpit.ports import HasHistory

        for source in self.sources:
            if isinstance(source, HasHistory):
                try:
                    return source.history(self.data.error_rate.keep_s, now, rate_window_s=self.window_s)
                except CockpitError:
                    return []  # the live checks report the source's trouble
        return []

    def deliver(self, result: tuple[float, list, Any]) -> None:
        """The poll's result on the event loop: stale marks, plots, evidence, the trigger."""
        from cockpit.checklist import MetricPoint, Probe

        now, readings, decision = result
        for at, error_rate, p95 in self.backfill:  # the panes start with the window's history
            self.data.error_rate.add(at, error_rate)
            self.data.p95.add(at, p95)
        self.backfill = []
        for r in readings:
            if not r.ok:
                self.data.stale.setdefault(r.source, now)
                self.data.errors[r.source] = r.error
            else:
                self.fresh(r.source)
            if r.health_ok is not None:
                self.probes.append(Probe(r.at, bool(r.health_ok)))
                del self.probes[:-200]
            if r.version:
                self.version = r.version
        self.data.decision = decision
        if decision is not None:
            s = decision.sample
            self.data.error_rate.add(now, s.error_rate)
            self.data.p95.add(now, s.p95_ms)
            self.points.append(MetricPoint(now, s.error_rate, s.p95_ms))
            del self.points[:-2000]
            self._journal_sample(now, s)
            self._journal_verdict(decision)
            if decision.trigger is not None:
                self.on_trigger(decision.trigger)
        self.host.mark("metrics")

    def source_failed(self, name: str, exc: BaseException) -> None:
        """A poll of source ``name`` failed: stale since the first failure, with its error."""
        if name == "kubernetes":
            self.cluster_ok = False
        text = f"{exc.title}: {exc}" if isinstance(exc, CockpitError) else f"{type(exc).__name__}: {exc}"
        if name not in self.data.stale:
            self.data.stale[name] = time.time()
        self.data.errors[name] = text
        self.host.mark("metrics")

    def fresh(self, name: str) -> None:
        """Source ``name`` answered: no longer stale."""
        if name == "kubernetes":
            self.cluster_ok = True
        if name in self.data.stale:
            self.data.stale.pop(name, None)
            self.data.errors.pop(name, None)
            self.host.mark("metrics")

    def close(self) -> None:
        for s in self.sources:
            close = getattr(s, "close", None)
            if close:
                try:
                    close()
                except Exception:  # noqa: BLE001 — closing must never fail the exit
                    pass

    # ================================================================== 2. the automatic rollback

    def _live_revision(self) -> Any:
        snap = getattr(self.data, "snapshot", None)
        dep = getattr(snap, "deployment", None)
        return getattr(dep, "revision", None)

    def _journal_sample(self, now: float, sample: Any) -> None:
        """Thinned to one record per ``journal_samples_s`` (each interval's peaks), journaled
        into an open incident; kept in :attr:`thinner` for the incident that opens later."""
        from cockpit.sampling import SampleThinner

        if self.data.target is None or self.data.readonly:
            return
        if self.thinner is None:
            self.thinner = SampleThinner(str(self.data.target), every_s=self.journal_samples_s)
        rec = self.thinner.add(now, sample.error_rate, sample.p95_ms, sample.request_rate)
        if rec is not None:
            self.record_if_open(rec.type, **rec.to_record())

    def opened(self, journal: Any, target: Target) -> None:
        """*Thread.* An incident was just opened on ``target``: journal what made the operator act
        — the thinned samples from before (the report's peaks) and the verdict on screen."""
        if target != self.data.target:
            return
        thinner, verdict = self.thinner, self._verdict_event
        for rec in thinner.backlog() if thinner is not None else ():
            journal.write(rec)
        if verdict is not None:
            journal.write(verdict)

    def _journal_verdict(self, decision: Any) -> None:
        """Verdict changes go into an open incident, as ``cockpit watch`` journals them (with
        the live revision, so the policy knows which templates were seen healthy)."""
        from cockpit.decision import Verdict

        live = self._live_revision()
        if decision.verdict is Verdict.OK and not decision.stabilizing and isinstance(live, int):
            self.healthy_revisions.add(live)
        if decision.verdict.value == self._verdict_seen:
            return
        from cockpit.events import VerdictChanged

        self._verdict_seen = decision.verdict.value
        history = [r for r in (getattr(self.data, "history", None) or []) if r.live]
        self._verdict_event = e = VerdictChanged(
            value=decision.verdict.value, reasons=tuple(r.text for r in decision.reasons),
            details=tuple(r.as_dict() for r in decision.reasons), target=str(self.data.target or ""),
            revision=live if isinstance(live, int) else None, template_hash=history[0].template_hash if history else "",
            error_rate=decision.sample.error_rate, p95_ms=decision.sample.p95_ms)
        self.record_if_open(e.type, **e.to_record())

    def on_trigger(self, trigger: Any) -> None:
        """The engine fired (event loop). Armed: open the incident, apply the policy and journal
        the trigger in a thread, then count down. Not armed: journaled if an incident is open."""
        target = self.data.target
        if target is None or self.data.readonly:
            return
        if not self.auto.armed:
            from cockpit.autorollback import trigger_event

            ev = trigger_event(target, trigger, None, armed=False, readonly=False, countdown_s=None)
            self.record_if_open("trigger", **ev.to_record())
            return
        if self.auto.deadline is not None or self.auto.done or self.plan is not None:
            return
        self.plan = "pending"
        self.host.run_in_thread(lambda: self._decide(target, trigger))

    def _decide(self, target: Target, trigger: Any) -> None:
        """*Thread.* The shared policy: once per incident, which revision and why; journaled."""
        from cockpit import autorollback
        from cockpit.state import replay

        try:
            if self.incident is None:
                raise CockpitError("automatic rollback is not wired in this session", title="No incident")
            journal = self.incident(target)
            state = replay(journal.read())
            if autorollback.already_used(state, target):
                self.host.call_from_thread(lambda: self.host.notify(
                    "automatic rollback already used for this incident; not again", severity="warning"))
                self.auto.done = True
                return
            history = self.history(target)
            seen = {r.template_hash for r in history if r.number in self.healthy_revisions and r.template_hash}
            try:
                plan = autorollback.plan(history, seen, state, target, note=self.note(target))
            except ConflictError as exc:  # it would undo the cockpit's own rollback: a person decides
                for e in autorollback.refused_events(target, trigger, exc):
                    journal.write(e)
                self.auto.done = True
                self.plan = None
                self.host.call_from_thread(lambda: self.host.notify(
                    f"automatic rollback NOT sent: {exc.message}", severity="warning"))
                return
            journal.write(autorollback.trigger_event(target, trigger, plan, armed=True, readonly=False,
                                                     countdown_s=self.auto.countdown_s))
        except BaseException:
            self.plan = None
            raise
        self.plan = plan
        reason = getattr(getattr(trigger, "reason", None), "text", "") or str(trigger)
        self.host.call_from_thread(self._start_countdown, reason)

    def _start_countdown(self, reason: str) -> None:
        if self.auto.fire(time.time(), reason):
            self.countdown()
        else:
            self.plan = None

    def toggle_arm(self) -> None:
        """Arm or disarm (disarming aborts a running countdown); journaled if an incident is open."""
        self.auto.armed = not self.auto.armed
        if not self.auto.armed:
            self.abort()
        self.data.auto_armed = self.auto.armed
        if self.data.target is not None:
            self.record_if_open("auto_rollback", target=str(self.data.target), armed=self.auto.armed)
        self.host.mark("auto")

    def abort(self) -> None:
        """The operator's abort of a running countdown (nothing changes; journaled)."""
        if self.data.readonly:
            return
        if self.auto.abort():
            self.plan = None
            self.data.auto_remaining = None
            self.host.notify("automatic rollback aborted", severity="warning")
            self.record_if_open("trigger_aborted", target=str(self.data.target or ""),
                                reason=f"aborted by the operator during the countdown ({self.auto.reason})")
            self.host.mark("auto")

    def countdown(self) -> None:
        """One tick of the countdown (every second while it runs); rolls back when it is due."""
        now = time.time()
        self.data.auto_remaining = self.auto.remaining(now)
        self.data.auto_reason = self.auto.reason
        self.host.mark("auto")
        if self.auto.due(now):
            plan = self.plan
            self.data.auto_remaining = None
            if self.data.target is not None and plan is not None and plan != "pending":
                self.host.notify(f"automatic rollback: rolling back to revision {plan.to_revision} ({plan.why})",
                                 severity="error")
                self.roll_back(self.data.target, plan.to_revision, plan.images, why=plan.why,
                               reason=f"automatic rollback: {self.auto.reason}")
            return
        if self.auto.deadline is not None:
            self.host.set_timer(1.0, self.countdown)
