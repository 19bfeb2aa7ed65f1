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
"""
from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

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
from cockpit.errors import Aborted, CockpitError, ConfigError, RolloutFailed
from cockpit.model import Revision, Target
from cockpit.ports import MetricsSource

__all__ = ["MetricsSource", "Watcher", "choose_revision", "use_color"]  # MetricsSource: re-export (moved to ports)


COLORS = {Verdict.ROLLBACK_NOW: "\x1b[1;31m", Verdict.CONSIDER: "\x1b[33m", Verdict.MONITOR: "\x1b[36m",
          Verdict.OK: "\x1b[32m", Verdict.INCONCLUSIVE: "\x1b[35m"}


def choose_revision(history: Sequence[Revision], healthy: set[str]) -> tuple[int, str]:
    """The last stable revision: newest non-live revision whose template was seen healthy,
    else the one before the live one. Returns (number, why)."""
    live = next((r for r in history if r.live), history[-1] if history else None)
    older = [r for r in history if live is None or (r.number < live.number and r.template_hash != live.template_hash)]
    for r in sorted(older, key=lambda r: -r.number):
        if r.template_hash and r.template_hash in healthy:
            return r.number, f"revision {r.number} was last seen healthy"
    if not older:
        raise RolloutFailed("no earlier revision to roll back to", hint="the deployment has a single revision")
    prev = max(older, key=lambda r: r.number)
    return prev.number, f"revision {prev.number} is the previous one (no revision was seen healthy)"


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
        self._rollout_done = False
        self._acting = False
        self._journal_obj = None if callable(self.journal) and not hasattr(self.journal, "append") else self.journal
        self._journal_factory = self.journal if self._journal_obj is None else None

    # ------------------------------------------------------------------ journal

    def _j(self, force: bool = False) -> Any:
        if self.readonly:
            return None
        if self._journal_obj is None and self._journal_factory is not None and force:
            self._journal_obj = self._journal_factory()
            self._journal_obj.append("incident_opened", target=str(self.target), kind=self.target.kind,
                                     reason="cockpit watch: verdict " + (self.last.verdict.value if self.last else "?"),
                                     who=getattr(self._journal_obj, "actor", ""))
        return self._journal_obj

    def _already_triggered(self) -> bool:
        j = self._journal_obj
        if j is None:
            return False
        try:
            return any(r.get("type") == "trigger" and r.get("target") == str(self.target) and r.get("auto")
                       for r in j.read())
        except Exception:  # noqa: BLE001 — a journal we cannot read does not block a decision
            return False

    def _healthy_from_journal(self) -> None:
        j = self._journal_obj
        if j is None:
            return
        for r in j.read():
            if r.get("target") not in (None, str(self.target)):
                continue
            if r.get("type") == "verdict" and r.get("value") == "OK" and r.get("template_hash"):
                self.healthy.add(str(r["template_hash"]))

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

    def tick(self) -> Decision:
        now = self.clock()
        try:
            self._check_rollout(now)
        except ConfigError:
            raise
        except CockpitError as exc:
            self._say(f"rollout status unavailable: {exc.title}: {exc}")
        readings = self._sample_all(now)
        d = self.engine.tick(readings, now)
        self.last = d
        live_hash = self.live.template_hash if self.live else ""
        self.history.append((d.sample, live_hash))
        if len(self.history) > 10_000:
            del self.history[:1000]
        for alert in d.alerts:
            self._say(f"ALERT {alert}")
        if d.changed:
            self._say(self._verdict_line(d))
            j = self._j(force=d.verdict in (Verdict.CONSIDER, Verdict.ROLLBACK_NOW))
            if j is not None:
                j.append("verdict", value=d.verdict.value, reasons=[r.text for r in d.reasons],
                         details=[r.as_dict() for r in d.reasons], target=str(self.target),
                         revision=self.live.number if self.live else None, template_hash=live_hash)
        if d.verdict is Verdict.OK and not d.stabilizing and live_hash:
            self.healthy.add(live_hash)
        if d.trigger is not None:
            self._on_trigger(d)
        if self.rolled_back_at is not None and self.verified is None:
            self._follow_verification(d, now)
        return d

    # ------------------------------------------------------------------ triggers

    def _on_trigger(self, d: Decision) -> None:
        trig = d.trigger
        assert trig is not None
        if not self.auto_rollback:
            self._say(f"TRIGGER {trig.reason.text} (auto-rollback is not armed: roll back with "
                      f"`cockpit rollback {self.target.name} -n {self.target.namespace}`)")
            j = self._j(force=True)
            if j is not None:
                j.append("trigger", name=trig.name, reason=trig.reason.text, count=trig.count,
                         target=str(self.target), auto=False)
            return
        j = self._j(force=True)
        if self.triggered or self._already_triggered():
            self._say(f"TRIGGER {trig.reason.text} — auto-rollback already used for this incident; not again")
            return
        self.triggered = True
        history = self.backend.history(self.target)
        bad = next((r for r in history if r.live), self.live)
        if bad is not None and bad.created is not None:
            self.bad_release_at = bad.created.timestamp()
        if self._journal_obj is not None:
            self._healthy_from_journal()
        to_rev, why = choose_revision(history, self.healthy)
        chosen = next((r for r in history if r.number == to_rev), None)
        images = ", ".join(chosen.images) if chosen else ""
        what = "the runbook" if self.runbook_runner else f"rollback of {self.target} to revision {to_rev} ({images})"
        if j is not None:
            j.append("trigger", name=trig.name, reason=trig.reason.text, count=trig.count, target=str(self.target),
                     auto=True, to_revision=to_rev, why=why, readonly=self.readonly)
        if self.readonly:
            self._say(f"TRIGGER {trig.reason.text} — readonly: would start {what}; {why}. Nothing was sent.")
            return
        self._say(f"TRIGGER {trig.reason.text}")
        self._countdown(what, why, j)
        self._acting = True  # a Ctrl-C from here on interrupts a change being sent (see run)
        if j is not None:
            j.append("phase", phase="execute")
        if self.runbook_runner is not None:
            result = self.runbook_runner(j)
            ok = bool(getattr(result, "ok", True))
            self._say(f"runbook finished: {'ok' if ok else 'FAILED'}")
            if not ok:
                raise RolloutFailed("the runbook run by auto-rollback failed; see the journal")
        else:
            if j is not None:
                j.append("revision_chosen", revision=to_rev, images=list(chosen.images) if chosen else [], why=why)
            intent = j.intent("rollback", target=str(self.target), to_revision=to_rev, auto=True,
                              trigger=trig.name, from_revision=self.live.number if self.live else None) if j else None
            try:
                outcome = self.backend.rollback(self.target, to_rev)
            except CockpitError as exc:
                if j is not None:
                    from cockpit.journal import error_data

                    j.outcome(intent, False, **error_data(exc))
                self._say(f"rollback FAILED: {exc.title}: {exc}")
                raise
            if j is not None:
                j.outcome(intent, True, result={"result": outcome.result.value, "from_revision": outcome.from_revision,
                                                "to_revision": outcome.to_revision, "images": list(outcome.images)})
            self._say(f"rolled back {self.target}: revision {outcome.from_revision} → {outcome.to_revision} "
                      f"({', '.join(outcome.images)}); {outcome.result.value}")
        self._acting = False
        now = self.clock()
        self.rolled_back_to = to_rev
        self.rolled_back_at = now
        self.engine.stabilize(now, f"rollback to revision {to_rev}")
        self._reset_sources()
        self.live = None  # re-read (the rollback renumbers revisions)
        try:
            self._check_rollout(now)
        except CockpitError:
            pass
        if j is not None:
            j.append("phase", phase="verify")

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
                j.append("trigger_aborted", target=str(self.target), reason="SIGINT during the countdown")
            self._say("auto-rollback ABORTED by the operator; nothing was changed")
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
            j = self._j()
            if j is not None:
                j.append("phase", phase="monitor")
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
        j = self._j()
        if j is not None:
            j.append("comparison", target=str(self.target), before_from=before_from, ok=c.ok, warnings=list(c.warnings),
                     error_ratio=c.error_ratio, latency_ratio=c.latency_ratio, throughput_ratio=c.throughput_ratio,
                     before={"start": c.before.start, "end": c.before.end, "error_rate": c.before.error_rate,
                             "p95_ms": c.before.p95_ms, "request_rate": c.before.request_rate},
                     after={"start": c.after.start, "end": c.after.end, "error_rate": c.after.error_rate,
                            "p95_ms": c.after.p95_ms, "request_rate": c.after.request_rate})

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
        except KeyboardInterrupt:
            if self._acting:  # not a quiet stop: the change may or may not have taken effect
                self._say("INTERRUPTED while the rollback was being sent; check the live revision "
                          f"(`cockpit history {self.target.name} -n {self.target.namespace}`)")
                raise Aborted("interrupted while the rollback was being sent; it may or may not have taken effect",
                              hint="check the live revision; the journal's intent has no outcome") from None
            self._say("stopped")
            return 0
        return 0


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
