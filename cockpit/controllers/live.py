"""The live verdict and the automatic rollback of the target on screen.

Two sections, kept in one module because the second acts on the first's triggers:

1. **The live verdict** — metrics sources → decision engine → verdict. The metrics poll calls
   :meth:`LiveController.sample` in a thread (sources are built on the first call: httpx and
   the engine are imported after the first frame) and :meth:`LiveController.deliver` on the
   event loop, which fills the plots, the stale marks and the evidence the checklist reads
   (:attr:`probes`, :attr:`points`, :attr:`version`).
2. **The automatic rollback** — armed by the operator; a trigger starts a countdown the
   operator can abort; when it runs out the rollback is started (once). The countdown is
   :class:`cockpit.session.AutoRollback`; this section drives it with the host's timer.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cockpit.errors import CockpitError
from cockpit.model import Target


class LiveController:
    def __init__(self, host: Any, data: Any, *, build: Callable[[Target], tuple[Any, list, str]],
                 window_s: float = 60.0, countdown_s: float = 10.0,
                 roll_back: Callable[[Target, int, tuple[str, ...]], None] | None = None,
                 record_if_open: Callable[..., None] | None = None) -> None:
        """``build(target) → (engine, sources, note)`` (the composition root's); ``roll_back``
        starts a rollback (``revision`` 0: the previous one); ``record_if_open(type, **data)``
        journals into an incident that is already open."""
        from cockpit.session import AutoRollback

        self.host, self.data, self.build, self.window_s = host, data, build, window_s
        self.roll_back = roll_back or (lambda target, revision, images: None)
        self.record_if_open = record_if_open or (lambda type, **data: None)
        self.engine: Any = None
        self.sources: list = []
        self.probes: list = []
        self.points: list = []
        self.version: str | None = None
        self._stabilize = False
        self.auto = AutoRollback(countdown_s=countdown_s)

    # ================================================================== 1. the live verdict

    def reset(self) -> None:
        """A new target: forget the engine, its sources and the evidence (event loop)."""
        self.data.error_rate.points.clear()
        self.data.p95.points.clear()
        self.engine, self.sources, self.probes, self.points, self.version = None, [], [], [], None
        self.data.stale.clear()

    def stabilize_next(self) -> None:
        """The rollback finished: the next sample restarts the engine's stabilization window
        and the sources' rates, so only what came after the rollback is judged."""
        self._stabilize = True

    def sample(self, target: Target) -> tuple[float, list, Any]:
        """*Thread* (the metrics poll): build the sources once, read them, tick the engine."""
        if self.engine is None:
            self.engine, self.sources, note = self.build(target)
            self.data.metrics_note = note
        now = time.time()
        if self._stabilize:
            self._stabilize = False
            self.engine.stabilize(now, "the rollback")
            for source in self.sources:
                getattr(source, "reset", lambda: None)()
        readings = [s.sample(self.window_s, now) for s in self.sources]
        decision = self.engine.tick(readings, now) if self.sources else None
        return now, readings, decision

    def deliver(self, result: tuple[float, list, Any]) -> None:
        """The poll's result on the event loop: stale marks, plots, evidence, the trigger."""
        from cockpit.checklist import MetricPoint, Probe

        now, readings, decision = result
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
            if decision.trigger is not None and self.auto.fire(now, decision.trigger.reason.text):
                self.countdown()
        self.host.mark("metrics")

    def source_failed(self, name: str, exc: BaseException) -> None:
        """A poll of source ``name`` failed: stale since the first failure, with its error."""
        text = f"{exc.title}: {exc}" if isinstance(exc, CockpitError) else f"{type(exc).__name__}: {exc}"
        if name not in self.data.stale:
            self.data.stale[name] = time.time()
        self.data.errors[name] = text
        self.host.mark("metrics")

    def fresh(self, name: str) -> None:
        """Source ``name`` answered: no longer stale."""
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

    def toggle_arm(self) -> None:
        """Arm or disarm (disarming aborts a running countdown); journaled if an incident is open."""
        self.auto.armed = not self.auto.armed
        if not self.auto.armed:
            self.auto.abort()
        self.data.auto_armed = self.auto.armed
        self.record_if_open("auto_rollback", armed=self.auto.armed)
        self.host.mark("auto")

    def abort(self) -> None:
        """The operator's abort of a running countdown (nothing changes; journaled if open)."""
        if self.data.readonly:
            return
        if self.auto.abort():
            self.data.auto_remaining = None
            self.host.notify("automatic rollback aborted", severity="warning")
            self.record_if_open("auto_rollback", aborted=True, reason=self.auto.reason)
            self.host.mark("auto")

    def countdown(self) -> None:
        """One tick of the countdown (every second while it runs); rolls back when it is due."""
        now = time.time()
        self.data.auto_remaining = self.auto.remaining(now)
        self.data.auto_reason = self.auto.reason
        self.host.mark("auto")
        if self.auto.due(now):
            self.data.auto_remaining = None
            self.host.notify("automatic rollback: rolling back to the previous revision", severity="error")
            self.record_if_open("auto_rollback", fired=True, reason=self.auto.reason)
            if self.data.target is not None:
                self.roll_back(self.data.target, 0, ())
            return
        if self.auto.deadline is not None:
            self.host.set_timer(1.0, self.countdown)
