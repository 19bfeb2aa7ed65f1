"""The headless watch loop: sources → engine → verdict lines, journal, and (armed) auto-rollback.

Core logic over ports: metrics sources (:class:`cockpit.ports.MetricsSource`), a rollout backend
(:class:`cockpit.ports.RolloutBackend`, and :class:`~cockpit.ports.CanRollback` to act), an
optional journal and an optional runbook runner are injected; the clock, sleep and output
are parameters, so the loop is testable without a cluster or a terminal.

Auto-rollback, when armed: a fired trigger is journaled (``trigger``, with its reason), a
countdown is announced (``watch.countdown_s``) during which SIGINT aborts (nothing is
changed, exit 130), then the deployment is rolled back to the *last stable revision* — the
newest revision whose pod template this watch or the journal saw ``OK``, else the previous
revision — with an fsynced ``intent`` before the call and an ``outcome`` after; or the
``--runbook`` is run instead. The loop then stabilizes and keeps watching until the verdict
is OK (``verified``) or ``watch.verify_timeout_s`` passes. A trigger fires at most once per
incident (also across a restart: the journal is checked), never on inconclusive data, and in
readonly the loop only says what it would do.

One operator per target. Before it acts, the armed watch takes the target's lock (the Lease
``cockpit-incident-<deployment>`` every cockpit honours, through ``target_lock``); while
an operator holds it the watch does not roll back, says so once, and acts at a later check
only if the lock is free and the trigger still stands.

Replicas (``leadership``, :class:`Leadership`; the in-cluster watcher's leader election).
Every replica samples and judges — a standby is a hot standby, its windows and counters warm —
but only the leader journals, evaluates its triggers into an action and acts. A trigger that
fired while a replica stood by stays *pending* as long as it still stands (the engine still
calls for it), so a replica that becomes the leader acts on it at its next check instead of
counting from zero. One rollback per incident across replicas: the incident (target, bad
revision and template hash) is recorded on the leader's Lease as ``acting`` before the
rollback is sent and ``done`` after; a leader that finds it ``done`` does nothing, and one that
finds it ``acting`` (the last leader died) acts only if the bad template is still live. Just
before the write the leader checks it still leads; if not, nothing is sent.

:class:`Fleet` (``cockpit watch -l SELECTOR``) runs one :class:`Watcher` per matching
deployment, each judged on its own: only those whose verdict triggers are rolled back.
"""
from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from cockpit.decision import (
    Comparison,
    Decision,
    Engine,
    Policy,
    Reading,
    Sample,
    Verdict,
    WindowStats,
    clock,
    compare,
    ms,
    pct,
    window_stats,
)
from cockpit import autorollback
from cockpit import events as ev
from cockpit.autorollback import choose_revision
from cockpit.errors import Aborted, CockpitError, ConfigError, ConflictError, LockedError, NotFoundError, RolloutFailed
from cockpit.model import Revision, Target
from cockpit.ports import MetricsSource
from cockpit.sampling import SampleThinner
from cockpit.state import replay

__all__ = ["Fleet", "Leadership", "MetricsSource", "Watcher", "choose_revision", "use_color"]  # re-exports


class Leadership(Protocol):
    """Who among the watcher's replicas acts, and what the leaders did (the in-cluster
    watcher's leader election: ``backends/kubernetes/leader.py``)."""

    identity: str

    def is_leader(self) -> bool: ...

    def holder(self) -> str: ...

    def incident(self, target: str) -> dict[str, Any] | None:
        """The last incident recorded for ``target`` (``incident``, ``state``, ``by``, ``at``...)."""

    def record_incident(self, target: str, entry: dict[str, Any]) -> None:
        """Record ``entry`` as the leader (LockedError if this replica does not lead)."""


COLORS = {Verdict.ROLLBACK_NOW: "\x1b[1;31m", Verdict.CONSIDER: "\x1b[33m", Verdict.MONITOR: "\x1b[36m",
          Verdict.OK: "\x1b[32m", Verdict.INCONCLUSIVE: "\x1b[35m"}


@dataclass
class Watcher:
    target: Target
    sources: list[Any]
    backend: Any
    policy: Policy = field(default_factory=Policy)
    journal: Any = None
    """A :class:`cockpit.journal.Journal`, or a callable returning one (opened on first need)."""
    out: Callable[[str], None] = lambda line: print(line, flush=True)
    auto_rollback: bool = False
    readonly: bool = False
    runbook_runner: Callable[[Any], Any] | None = None
    """Called with the journal (or None) when a trigger fires; returns the executor's result."""
    color: bool = False
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    """The countdown's clock (inject it with ``sleep`` in tests; wall-clock jumps must not shorten it)."""
    cancel: threading.Event = field(default_factory=threading.Event)
    evidence: bool = True
    """Capture pod logs, events and history before an automatic rollback (as every rollback)."""
    leadership: Leadership | None = None
    """Replicas: only the leader journals and acts (see the module docstring)."""
    target_lock: Callable[[Target], Any] | None = None
    """Takes the target's lock (a :class:`cockpit.locks.TargetLock`) before acting; LockedError
    while an operator holds it."""
    stop_reason: str = ""
    """Why ``cancel`` was set (``SIGTERM``), for the journal when it aborts a countdown."""

    def __post_init__(self) -> None:
        self.engine = Engine(self.policy)
        self.healthy: set[str] = set()
        self.live: Revision | None = None
        self.triggered = False
        self.rolled_back_to: int | None = None
        self.rolled_back_at: float | None = None
        self.bad_release_at: float | None = None
        """When the revision the trigger rolled away from was created (the end of the before window)."""
        self.comparison: Comparison | None = None
        self.verified: bool | None = None
        self.history: list[tuple[Sample, str]] = []
        self.last: Decision | None = None
        self.thinner = SampleThinner(str(self.target), every_s=self.policy.watch.journal_samples_s)
        """Metric samples for the journal, one per ``journal_samples_s`` (the report's peaks)."""
        self._rollout_done = False
        self._acting = False
        self._recorded_acting: set[str] = set()
        """Incidents this process recorded as ``acting`` on the Lease (its identity may be reused
        by a restarted pod, so ``by`` cannot tell a retry of its own from another leader's try)."""
        self._was_leading = False
        self._pending: Any = None
        """A trigger that fired and still stands, not acted on yet (standby, or the target locked)."""
        self._refused = ""
        self.ticked_at: float | None = None
        """When the last tick ended (``monotonic``): the liveness probe's evidence."""
        self._journal_obj = None if callable(self.journal) and not hasattr(self.journal, "append") else self.journal
        self._journal_factory = self.journal if self._journal_obj is None else None

    # ------------------------------------------------------------------ journal

    def open_journal(self, force: bool = False) -> Any:
        """The incident journal (opened from the factory on first need when ``force``), or None
        (readonly, or nothing worth an incident yet)."""
        if self.readonly:
            return None
        if self._journal_obj is None and self._journal_factory is not None and force:
            self._journal_obj = self._journal_factory()
            if replay(self._journal_obj.read()).target is None:
                self._journal_obj.write(ev.IncidentOpened(
                    target=str(self.target), kind=self.target.kind, source="watch",
                    reason="cockpit watch: verdict " + (self.last.verdict.value if self.last else "?"),
                    who=getattr(self._journal_obj, "actor", "")))
                for rec in self.thinner.backlog():  # what made the watch open it: the peaks before
                    self._journal_obj.write(rec)
        return self._journal_obj

    @property
    def journal_obj(self) -> Any:
        """The journal if one is open (never opens one)."""
        return self._journal_obj

    def _state(self) -> Any:
        j = self._journal_obj
        if j is None:
            return None
        try:
            return replay(j.read())
        except OSError:  # a journal we cannot read does not block a decision
            return None

    # ------------------------------------------------------------------ output

    def _say(self, text: str) -> None:
        self.out(f"{clock(self.clock())} {text}")

    def _verdict_line(self, d: Decision) -> str:
        word = d.verdict.value
        if self.color:
            word = f"{COLORS[d.verdict]}{word}\x1b[0m"
        reasons = "; ".join(r.text for r in d.reasons)
        return f"{word} {self.target}" + (f" — {reasons}" if reasons else "")

    # ------------------------------------------------------------------ rollout

    def _check_rollout(self, now: float) -> None:
        info = self.backend.deployment(self.target)
        if self.live is not None and info.revision == self.live.number:
            return
        history = self.backend.history(self.target)
        live = next((r for r in history if r.live), None)
        first = self.live is None
        prev, self.live = self.live, live
        if live is None:
            return
        if first:
            created = live.created.timestamp() if live.created else None
            if created is not None and now - created < self.policy.watch.stabilization_s:
                self.engine.stabilize(created, f"deploy of revision {live.number}")
            return
        if self.rolled_back_at is not None and prev is not None and now - self.rolled_back_at < 30:
            return  # our own rollback (already stabilizing)
        self._say(f"revision changed: {prev.number if prev else '?'} → {live.number} ({', '.join(live.images)})")
        self.engine.stabilize(now, f"deploy of revision {live.number}")
        self._reset_sources()

    def _reset_sources(self) -> None:
        for s in self.sources:
            reset = getattr(s, "reset", None)
            if callable(reset):
                reset()

    # ------------------------------------------------------------------ one tick

    def _sample_all(self, now: float) -> list[Reading]:
        out = []
        for s in self.sources:
            try:
                out.append(s.sample(self.policy.watch.window_s, now))
            except ConfigError:
                raise
            except CockpitError as exc:
                out.append(Reading(s.name, at=now, ok=False, error=f"{exc.title}: {exc}"))
        return out

    def leading(self) -> bool:
        """Whether this replica may journal and act (always, without replicas)."""
        return self.leadership is None or self.leadership.is_leader()

    def tick(self) -> Decision:
        now = self.clock()
        leading = self.leading()
        cluster_ok, cluster_error = True, ""
        try:
            self._check_rollout(now)
        except ConfigError:
            raise
        except CockpitError as exc:
            cluster_ok, cluster_error = False, f"{exc.title}: {exc}"
            self._say(f"rollout status unavailable: {cluster_error}")
        readings = self._sample_all(now)
        # health checks count as failures only while the Kubernetes API answers (decision.py)
        d = self.engine.tick(readings, now, cluster_ok=cluster_ok, cluster_error=cluster_error)
        self.last = d
        rec = self.thinner.add(now, d.sample.error_rate, d.sample.p95_ms, d.sample.request_rate)
        if rec is not None and self._journal_obj is not None and not self.readonly and leading:
            self._journal_obj.write(rec)
        live_hash = self.live.template_hash if self.live else ""
        self.history.append((d.sample, live_hash))
        if len(self.history) > 10_000:
            del self.history[:1000]
        for alert in d.alerts:
            self._say(f"ALERT {alert}")
        if d.changed:
            self._say(("" if leading else "(standby) ") + self._verdict_line(d))
            j = self.open_journal(force=d.verdict in (Verdict.CONSIDER, Verdict.ROLLBACK_NOW)) if leading else None
            if j is not None:
                j.write(ev.VerdictChanged(
                    value=d.verdict.value, reasons=tuple(r.text for r in d.reasons),
                    details=tuple(r.as_dict() for r in d.reasons), target=str(self.target),
                    revision=self.live.number if self.live else None, template_hash=live_hash,
                    error_rate=d.sample.error_rate, p95_ms=d.sample.p95_ms))
        if d.verdict is Verdict.OK and not d.stabilizing and live_hash:
            self.healthy.add(live_hash)
        self._triggers(d, leading)
        if self.rolled_back_at is not None and self.verified is None:
            self._follow_verification(d, now)
        self.ticked_at = self.monotonic()
        return d

    def _triggers(self, d: Decision, leading: bool) -> None:
        """A fired trigger becomes pending; the leader acts on a pending trigger that still
        stands (at once when it fires, else at its next check); a standby only says so."""
        fresh = leading and not self._was_leading  # just became the leader: act on what stands now
        self._was_leading = leading
        standing = d.trigger is not None or any(r.metric.startswith("trigger:") for r in d.reasons)
        if d.trigger is not None:
            self._pending = d.trigger
        if not standing:
            self._pending, self._refused = None, ""
            return
        if self._pending is None:
            return
        if not leading:
            if d.trigger is not None:
                holder = self.leadership.holder() if self.leadership is not None else ""
                self._say(f"(standby) TRIGGER {d.trigger.reason.text} — "
                          + (f"{holder} leads and acts" if holder else "no leader yet: the next leader acts"))
            return
        if d.trigger is None and not d.checked and not fresh:
            return  # a deferred trigger is retried once per check
        if self._on_trigger(d, self._pending):
            self._pending = None

    # ------------------------------------------------------------------ triggers

    def _on_trigger(self, d: Decision, trig: Any = None) -> bool:
        """The shared policy (:mod:`cockpit.autorollback`): journal the trigger with the revision
        and why, count down (abortable), then the one rollback (:mod:`cockpit.rollback`).
        Returns False when the trigger is deferred (the target locked by an operator, the
        cluster not answering, the leadership lost before the write): it stays pending."""
        trig = trig or d.trigger
        assert trig is not None
        countdown = self.policy.watch.countdown_s
        if not self.auto_rollback:
            j = self.open_journal(force=True)
            self._say(f"TRIGGER {trig.reason.text} (auto-rollback is not armed: roll back with "
                      f"`cockpit rollback {self.target.name} -n {self.target.namespace}`)")
            if j is not None:
                j.write(autorollback.trigger_event(self.target, trig, None, armed=False, readonly=False,
                                                   countdown_s=None))
            return True
        state = self._state()
        if self.triggered or autorollback.already_used(state, self.target):
            self._say(f"TRIGGER {trig.reason.text} — auto-rollback already used for this incident; not again")
            return True
        try:
            history = self.backend.history(self.target)
            note = self._rollback_note()
        except ConfigError:
            raise
        except CockpitError as exc:
            self._say_once("unreachable", f"TRIGGER {trig.reason.text} — cannot act now ({exc.title}: {exc}); "
                           "trying again at the next check")
            return False
        bad = next((r for r in history if r.live), self.live)
        try:  # a runbook's own kubernetes.rollback step guards itself (it may not roll back at all)
            auto = autorollback.plan(history, self.healthy, state, self.target,
                                     note=None if self.runbook_runner else note)
        except ConflictError as exc:  # it would undo the cockpit's own rollback: a person decides
            self.triggered = True
            j = self.open_journal(force=True)
            if j is not None:
                for e in autorollback.refused_events(self.target, trig, exc):
                    j.write(e)
            self._say(f"TRIGGER {trig.reason.text} — auto-rollback NOT sent: {exc.message}; {exc.hint}")
            return True
        incident = incident_id(self.target, bad)
        if self.leadership is not None and not self._leader_may_act(trig, incident, bad):
            return True
        lock = None
        if self.target_lock is not None and not self.readonly:
            try:
                lock = self.target_lock(self.target)
            except LockedError as exc:
                self._say_once("locked", f"TRIGGER {trig.reason.text} — not rolling back: {exc.message}; the watch "
                               "acts only once the lock is free and the trigger still stands")
                return False
        try:
            return self._act(trig, auto, bad, incident, countdown, lock)
        finally:
            if lock is not None:
                lock.release()

    def _say_once(self, key: str, text: str) -> None:
        """Say why a pending trigger waits, once per reason until the trigger clears."""
        if key != self._refused:
            self._refused = key
            self._say(text)

    def _leader_may_act(self, trig: Any, incident: str, bad: Revision | None) -> bool:
        """What the leaders recorded for this incident on the Lease: done → never again."""
        assert self.leadership is not None
        rec = self.leadership.incident(str(self.target)) or {}
        if rec.get("incident") != incident:
            return True
        by, at = rec.get("by", "?"), rec.get("at", "?")
        if rec.get("state") == "done":
            self.triggered = True
            self._say(f"TRIGGER {trig.reason.text} — {by} already rolled back this incident at {at} "
                      f"(to revision {rec.get('to_revision', '?')}); not again")
            return False
        # "acting": the last leader stopped between its record and the outcome; the bad
        # template is still live (it was just read), so its rollback did not take effect.
        if incident in self._recorded_acting:
            return True  # this process's own earlier try, deferred before anything was sent
        tries = _attempt(rec)
        if tries >= MAX_ATTEMPTS:
            self.triggered = True
            self._say(f"TRIGGER {trig.reason.text} — {tries} leaders started the rollback of this incident and "
                      f"stopped before it took effect (the last: {by} at {at}); not again — a person decides "
                      f"(`cockpit rollback {self.target.name} -n {self.target.namespace}`)")
            return False
        self._say(f"{by} started the rollback of this incident at {at} and stopped; revision "
                  f"{bad.number if bad else '?'} is still live, so this leader takes it over")
        return True

    def _rollback_note(self) -> dict | None:
        """The cockpit's note of its last rollback on the deployment, where the backend keeps one."""
        read = getattr(self.backend, "rollback_note", None)
        return read(self.target) if callable(read) else None

    def _act(self, trig: Any, auto: autorollback.AutoPlan, bad: Revision | None, incident: str, countdown: float,
             lock: Any) -> bool:
        self.triggered = True
        if bad is not None and bad.created is not None:
            self.bad_release_at = bad.created.timestamp()
        j = self.open_journal(force=True)
        images = ", ".join(auto.images)
        what = "the runbook" if self.runbook_runner else f"rollback of {self.target} to revision {auto.to_revision} ({images})"
        if j is not None:
            j.write(autorollback.trigger_event(self.target, trig, auto, armed=True, readonly=self.readonly,
                                               countdown_s=countdown))
        if self.readonly:
            self._say(f"TRIGGER {trig.reason.text} — readonly: would start {what}; {auto.why}. Nothing was sent.")
            return True
        self._say(f"TRIGGER {trig.reason.text}")
        self._countdown(what, auto.why, j)
        why_not = self._why_not_now(lock, incident, bad, auto)
        if why_not:
            self.triggered = False
            if j is not None:
                j.write(ev.TriggerAborted(target=str(self.target), reason=why_not))
            self._say(f"auto-rollback NOT sent: {why_not}; nothing was changed")
            return False
        self._acting = True  # a Ctrl-C from here on interrupts a change being sent (see run)
        if self.runbook_runner is not None:
            if j is not None:
                j.write(ev.Phase("execute"))
            result = self.runbook_runner(j)
            ok = bool(getattr(result, "ok", True))
            self._say(f"runbook finished: {'ok' if ok else 'FAILED'}")
            if not ok:
                raise RolloutFailed("the runbook run by auto-rollback failed; see the journal")
        else:
            self._rollback(j, auto, trig)
        self._acting = False
        self._record(incident, "done", bad, auto)
        now = self.clock()
        self.rolled_back_to = auto.to_revision
        self.rolled_back_at = now
        self.engine.stabilize(now, f"rollback to revision {auto.to_revision}")
        self._reset_sources()
        self.live = None  # re-read (the rollback renumbers revisions)
        try:
            self._check_rollout(now)
        except CockpitError:
            pass
        if j is not None and self.runbook_runner is not None:  # RollbackRun journals its own
            j.write(ev.Phase("verify"))
        return True

    def _why_not_now(self, lock: Any, incident: str, bad: Revision | None, auto: autorollback.AutoPlan) -> str:
        """The last checks before the write: still the leader (and the incident recorded on
        its Lease as ``acting``), still holding the target's lock. "" when all hold."""
        if self.leadership is not None:
            if not self.leadership.is_leader():
                return f"this replica stopped leading during the countdown ({self.leadership.holder() or 'no'} leader now)"
            try:
                self._record(incident, "acting", bad, auto, strict=True)
            except LockedError as exc:
                return f"this replica stopped leading ({exc.message})"
        if lock is not None:
            try:
                lock.ensure_held()
            except LockedError as exc:
                return exc.message
        return ""

    def _record(self, incident: str, state: str, bad: Revision | None, auto: autorollback.AutoPlan,
                strict: bool = False) -> None:
        if self.leadership is None:
            return
        entry = {"incident": incident, "state": state, "at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "from_revision": bad.number if bad else None, "to_revision": auto.to_revision}
        # the how-manieth leader starts this rollback (capped: MAX_ATTEMPTS); "done" keeps the count
        rec = self.leadership.incident(str(self.target)) or {}
        same = rec.get("incident") == incident and rec.get("state") == "acting"
        again = state == "acting" and incident not in self._recorded_acting  # not this process's own retry
        entry["attempt"] = (_attempt(rec) + again) if same else 1
        try:
            self.leadership.record_incident(str(self.target), entry)
            if state == "acting":
                self._recorded_acting.add(incident)
        except LockedError as exc:
            if strict:
                raise
            self._say(f"could not record the incident as {state} on the Lease ({exc.message}); the next leader "
                      "reads the live revision instead")

    def _rollback(self, j: Any, auto: autorollback.AutoPlan, trig: Any) -> None:
        from cockpit.rollback import RollbackRequest, RollbackRun
        from cockpit.steps import StepContext

        if j is None:
            raise CockpitError("an automatic rollback needs an incident journal (write-ahead)", title="No journal")
        req = RollbackRequest(self.target, to_revision=auto.to_revision, why=auto.why, source="watch",
                              reason=f"automatic rollback: {trig.reason.text}", evidence=self.evidence,
                              timeout=self.policy.watch.verify_timeout_s + self.policy.watch.stabilization_s)
        ctx = StepContext(backends={"kubernetes": self.backend}, log=lambda line: self.out(f"  {line}"),
                          cancel=self.cancel, readonly=self.readonly, namespace=self.target.namespace,
                          target=self.target)
        result = RollbackRun(req, j, ctx).run()
        if not result.ok:
            err = result.error or RolloutFailed(f"the automatic rollback of {self.target} {result.status}")
            self._say(f"rollback FAILED: {err.title}: {err}")
            raise err
        done = result.done
        if done is not None:
            self._say(f"rolled back {self.target}: revision {done.from_revision} → {done.to_revision} "
                      f"({', '.join(done.images)}); {'already done' if result.status == 'already' else 'rolled-back'}")
        else:
            self._say(f"rollback of {self.target} skipped: revision {auto.to_revision} already runs")

    def _countdown(self, what: str, why: str, j: Any) -> None:
        n = self.policy.watch.countdown_s
        try:  # the announcement is inside: a SIGINT right after it still aborts (and is journaled)
            end = self.monotonic() + n
            self._say(f"AUTO-ROLLBACK in {n:g}s: {what}; {why}. Press Ctrl-C to abort.")
            while True:
                if self.cancel.is_set():
                    raise KeyboardInterrupt
                left = end - self.monotonic()
                if left <= 0:
                    break
                self.sleep(min(1.0, left))
                if end - self.monotonic() > 0.5:
                    self.out(f"  … {end - self.monotonic():.0f}s")
        except KeyboardInterrupt:
            if j is not None:
                j.write(ev.TriggerAborted(target=str(self.target), reason=f"{self.stop_reason or 'SIGINT'} during the countdown"))
            by = f"by {self.stop_reason}" if self.stop_reason else "by the operator"
            self._say(f"auto-rollback ABORTED {by}; nothing was changed")
            raise Aborted("auto-rollback aborted during the countdown; nothing was changed") from None

    def _follow_verification(self, d: Decision, now: float) -> None:
        if not self._rollout_done:
            try:
                if self.backend.progress(self.target).complete:
                    self._rollout_done = True
                    self._say(f"rollout of {self.target} complete")
            except CockpitError:
                pass
        if d.verdict is Verdict.OK and not d.stabilizing:
            self.verified = True
            took = now - (self.rolled_back_at or now)
            self._say(f"VERIFIED {self.target}: OK {took:.0f}s after the rollback to revision {self.rolled_back_to}")
            self._compare(now)
            j = self.open_journal()
            if j is not None:
                j.write(ev.Phase("monitor"))
            return
        limit = self.policy.watch.stabilization_s + self.policy.watch.verify_timeout_s
        if now - (self.rolled_back_at or now) > limit:
            self.verified = False
            self._say(f"NOT VERIFIED {self.target}: still {d.verdict.value} {limit:.0f}s after the rollback")

    def _compare(self, now: float) -> None:
        after_from = (self.rolled_back_at or now) + self.policy.watch.stabilization_s
        c, before_from = self.before_after(self.bad_release_at, after_from, now)
        self.comparison = c
        if c is None:
            self._say("before/after: no baseline (no source keeps history and the watch did not see the service "
                      "healthy before the release)")
            return
        for line in comparison_lines(c, before_from, self.policy.decision.compare_ratio_above):
            self._say(line)
        j = self.open_journal()
        if j is not None:
            j.write(ev.Comparison(target=str(self.target), before_from=before_from, ok=c.ok, warnings=tuple(c.warnings),
                     error_ratio=c.error_ratio, latency_ratio=c.latency_ratio, throughput_ratio=c.throughput_ratio,
                     before={"start": c.before.start, "end": c.before.end, "error_rate": c.before.error_rate,
                             "p95_ms": c.before.p95_ms, "request_rate": c.before.request_rate},
                     after={"start": c.after.start, "end": c.after.end, "error_rate": c.after.error_rate,
                            "p95_ms": c.after.p95_ms, "request_rate": c.after.request_rate}))

    def before_after(self, release_at: float | None, after_from: float, now: float) -> tuple[Comparison | None, str]:
        """Runbook 001's comparison: the window before the bad release against the one after the
        rollback (samples this watch took from ``after_from`` to ``now``).

        The *before* window ends at ``release_at`` (the bad revision's creation time from the
        rollout history). A source that keeps history (``window_stats(start, end)``, i.e.
        Prometheus) is asked for it, so there is a baseline even when the watch started after
        the release; otherwise the samples this watch saw healthy before the rollback are used.
        Returns the comparison (None without any baseline) and where the baseline came from.
        """
        after_samples = [s for s, _ in self.history if after_from <= s.at <= now]
        after = window_stats(after_samples)
        span = max(self.policy.watch.window_s, after.end - after.start if after_samples else 0.0)
        ratio = self.policy.decision.compare_ratio_above
        if release_at is not None:
            for src in self.sources:
                stats = getattr(src, "window_stats", None)
                if not callable(stats):
                    continue
                try:
                    before = stats(release_at - span, release_at)
                except ConfigError:
                    raise
                except CockpitError as exc:
                    self._say(f"before/after: {src.name} could not give the window before the release: "
                              f"{exc.title}: {exc}")
                    continue
                if before.error_rate is not None or before.p95_ms is not None:
                    return compare(before, after, ratio), src.name
        cutoff = self.rolled_back_at if self.rolled_back_at is not None else now
        if release_at is not None:
            cutoff = min(cutoff, release_at)
        before_samples = [s for s, h in self.history if h and h in self.healthy and s.at < cutoff]
        if not before_samples:
            return None, ""
        return compare(window_stats(before_samples[-60:]), after, ratio), "this watch"

    # ------------------------------------------------------------------ the loop

    def run(self, *, duration: float | None = None, exit_when_verified: bool = False) -> int:
        """Watch until ``duration`` passes, the rollback is verified (``exit_when_verified``),
        or Ctrl-C. Returns 0; raises RolloutFailed (exit 7) when a rollback was not verified."""
        start = self.clock()
        names = ", ".join(getattr(s, "describe", lambda s=s: s.name)() for s in self.sources)
        w = self.policy.watch
        armed = ("auto-rollback ARMED (readonly: report only)" if self.readonly else "auto-rollback ARMED") \
            if self.auto_rollback else "auto-rollback off"
        self._say(f"watching {self.target} every {w.interval_s:g}s over {w.window_s:g}s windows via {names}; {armed}")
        try:
            while not self.cancel.is_set():
                t0 = self.clock()
                self.tick()
                if self.verified is False:
                    raise RolloutFailed(f"{self.target} not verified after the rollback")
                if exit_when_verified and self.verified:
                    return 0
                if duration is not None and self.clock() - start >= duration:
                    return 0
                pause = w.interval_s - (self.clock() - t0)
                if pause > 0:
                    self.sleep(pause)
            if self.stop_reason:
                self._say(f"stopped ({self.stop_reason})")
        except KeyboardInterrupt:
            if self._acting:  # not a quiet stop: the change may or may not have taken effect
                self._say("INTERRUPTED while the rollback was being sent; check the live revision "
                          f"(`cockpit history {self.target.name} -n {self.target.namespace}`)")
                raise Aborted("interrupted while the rollback was being sent; it may or may not have taken effect",
                              hint="check the live revision; the journal's intent has no outcome") from None
            self._say("stopped")
            return 0
        return 0


MAX_ATTEMPTS = 3
"""Leaders that may start one incident's rollback: a rollback that stopped (its leader died
or it failed) before taking effect this many times is left to a person."""


def _attempt(rec: dict) -> int:
    """How many leaders started the incident's rollback, per its record on the Lease (cluster
    data: anything but a positive number counts as one)."""
    n = rec.get("attempt")
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1


def incident_id(target: Target, bad: Revision | None) -> str:
    """An automatic rollback's incident: the target and the bad revision it rolls away from, by
    number and template hash (a later redeploy of the same template is a new revision number,
    so a new incident)."""
    if bad is None:
        return f"{target}@?"
    return f"{target}@{bad.number}:{bad.template_hash}"


@dataclass
class Fleet:
    """``cockpit watch -l SELECTOR``: one :class:`Watcher` per matching target, each in its own
    thread with its own sources, engine and journal, so a countdown or a rollout wait on one
    never delays the others; only those whose own verdict triggers are rolled back.
    ``discover`` is asked again every ``rediscover_s`` for targets that appeared (a target that
    stops matching keeps its watcher until the end). Errors of one target are its own line;
    the exit code is the first failure's."""

    discover: Callable[[], list[Target]]
    make: Callable[[Target], Watcher]
    out: Callable[[str], None] = lambda line: print(line, flush=True)
    cancel: threading.Event = field(default_factory=threading.Event)
    rediscover_s: float = 30.0
    clock: Callable[[], float] = time.time
    stop_reason: str = ""

    def __post_init__(self) -> None:
        self.watchers: dict[str, Watcher] = {}
        self.threads: dict[str, threading.Thread] = {}
        self.errors: dict[str, CockpitError] = {}
        self._mutex = threading.Lock()

    def _start(self, targets: Sequence[Target], duration: float | None, started_at: float) -> None:
        for t in targets:
            key = str(t)
            if key in self.watchers:
                continue
            w = self.make(t)
            w.cancel = self.cancel
            self.watchers[key] = w
            left = None if duration is None else max(0.0, duration - (self.clock() - started_at))
            th = threading.Thread(target=self._run_one, args=(key, w, left), name=f"watch {key}", daemon=True)
            self.threads[key] = th
            th.start()

    def _run_one(self, key: str, w: Watcher, duration: float | None) -> None:
        try:
            w.run(duration=duration)
        except CockpitError as exc:
            with self._mutex:
                self.errors[key] = exc
            self.out(f"{clock(self.clock())} {key}: {exc.title}: {exc}")
        except Exception as exc:  # noqa: BLE001 - one target's bug must not take the fleet down silently
            with self._mutex:
                self.errors[key] = CockpitError(f"{type(exc).__name__}: {exc}", title="internal error")
            self.out(f"{clock(self.clock())} {key}: internal error: {type(exc).__name__}: {exc}")

    def run(self, *, duration: float | None = None) -> int:
        start = self.clock()
        targets = self.discover()
        if not targets:
            raise NotFoundError("no deployment matches")  # discover raises the precise one
        self.out(f"{clock(start)} watching {len(targets)} deployments: {', '.join(str(t) for t in targets)}")
        self._start(targets, duration, start)
        next_discovery = start + self.rediscover_s
        try:
            while not self.cancel.is_set():
                if duration is not None and self.clock() - start >= duration:
                    break
                if not any(th.is_alive() for th in self.threads.values()):
                    break
                if self.clock() >= next_discovery:
                    next_discovery = self.clock() + self.rediscover_s
                    try:
                        new = [t for t in self.discover() if str(t) not in self.watchers]
                    except CockpitError as exc:  # the API is away: keep the targets there are
                        new = []
                        self.out(f"{clock(self.clock())} could not list the deployments again ({exc.title}: {exc})")
                    if new:
                        self.out(f"{clock(self.clock())} now also watching {', '.join(str(t) for t in new)}")
                        self._start(new, duration, start)
                self.cancel.wait(0.2)
        except KeyboardInterrupt:
            self.stop_reason = self.stop_reason or "SIGINT"
        finally:
            for w in self.watchers.values():
                w.stop_reason = w.stop_reason or self.stop_reason
            self.cancel.set()
            for th in self.threads.values():
                th.join()
        errs = list(self.errors.values())
        return errs[0].exit_code if errs else 0


def comparison_lines(c: Comparison, before_from: str, ratio_above: float) -> list[str]:
    """The before/after comparison as lines for a log (pure): the two windows, then warnings."""
    def fmt(st: WindowStats) -> str:
        parts = [f"error rate {pct(st.error_rate)}" if st.error_rate is not None else "error rate ?",
                 f"p95 {ms(st.p95_ms)}" if st.p95_ms is not None else "p95 ?"]
        if st.request_rate is not None:
            parts.append(f"{st.request_rate:.1f} req/s")
        return ", ".join(parts)

    span = max(0.0, c.before.end - c.before.start)
    lines = [f"before/after: before the release ({before_from}, {span:.0f}s until {clock(c.before.end)}): {fmt(c.before)}"
             f" → after the rollback ({c.after.samples} checks): {fmt(c.after)}"]
    if c.error_ratio is not None:
        verdict = f"> {ratio_above:g}" if c.error_ratio > ratio_above else f"≤ {ratio_above:g}"
        lines[0] += f"; error ratio after/before {c.error_ratio:.2f} ({verdict})"
    lines += [f"WARNING {w}" for w in c.warnings]
    return lines


def use_color(stream: Any = None) -> bool:
    import os

    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ
