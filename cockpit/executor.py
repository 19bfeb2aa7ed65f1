"""Run a runbook's steps, journaling every move so a crash can be resumed safely.

For each step the executor journals ``step_started``; for a mutating call (see
:meth:`cockpit.steps.Step.is_mutating`) it calls :meth:`~cockpit.steps.Step.prepare` (reads
and choices, journaled), then an fsynced ``intent`` carrying what was prepared *before*
``run``, and an ``outcome`` after; every line the step logs becomes a ``log`` event; ``step_finished``
carries status, elapsed seconds and ``over_budget``. The run stops at the first failure
(the CockpitError's title and message are journaled) and when ``ctx.cancel`` is set.

Resume (:meth:`Executor.resume`) replays the journal: steps that finished ok are skipped;
for the latest intent of a step without an outcome it asks ``step.reconcile`` whether the
write already took effect — if so the outcome is journaled with ``resumed: true`` and the
run continues, so a write that took effect is never issued twice; otherwise the dangling
intent is closed (``ok: false, superseded: true``) and the step runs again.

Exceptions that are not :class:`~cockpit.errors.CockpitError` but are ``Exception``s fail
the step ("Step crashed"); ``KeyboardInterrupt`` / ``SystemExit`` propagate without an
outcome (the process is going away; resume reconciles).
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cockpit.errors import Aborted, CockpitError, JournalError, ReadonlyError
from cockpit.journal import Journal, error_data
from cockpit.runbook import Runbook, RunbookStep
from cockpit.state import replay
from cockpit.steps import StepContext
from cockpit.text import sanitize


@dataclass
class StepResult:
    index: int
    kind: str
    name: str
    status: str
    """``ok``, ``failed``, ``cancelled``, ``skipped`` (before ``from_step`` or done earlier)."""
    data: dict = field(default_factory=dict)
    error: CockpitError | None = None
    elapsed: float = 0.0
    over_budget: bool = False
    resumed: bool = False


@dataclass
class ExecutionResult:
    status: str
    """``ok``, ``failed`` or ``cancelled``."""
    steps: list[StepResult] = field(default_factory=list)
    failed_step: int | None = None
    error: CockpitError | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class LogPump:
    """Journal every line a step logs; forward to the UI sink at a bounded rate.

    Each line is sanitized and journaled as a ``log`` event. At most ``rate`` lines per
    second reach ``sink``; beyond that, lines are counted and a "… N more lines (in the
    journal)" note is sent when the rate allows again (and on :meth:`flush`).
    """

    def __init__(
        self, journal: Journal, step: int, sink: Callable[[str], None], *, rate: float = 100.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.journal, self.step, self.sink, self.rate, self.clock = journal, step, sink, rate, clock
        self._allowance = rate
        self._last = clock()
        self._suppressed = 0
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        for part in str(line).splitlines() or [""]:
            text = sanitize(part)
            self.journal.append("log", step=self.step, line=text)
            self._forward(text)

    def _forward(self, text: str) -> None:
        with self._lock:
            now = self.clock()
            self._allowance = min(self.rate, self._allowance + (now - self._last) * self.rate)
            self._last = now
            if self._allowance < 1.0:
                self._suppressed += 1
                return
            self._allowance -= 1.0
            note, self._suppressed = self._suppressed, 0
        if note:
            self.sink(f"… {note} more lines (in the journal)")
        self.sink(text)

    def flush(self) -> None:
        with self._lock:
            note, self._suppressed = self._suppressed, 0
        if note:
            self.sink(f"… {note} more lines (in the journal)")


class Executor:
    """``Executor(runbook, journal, ctx).run()``; after a crash, ``.resume()``."""

    def __init__(
        self,
        runbook: Runbook,
        journal: Journal,
        ctx: StepContext,
        *,
        clock: Callable[[], float] = time.monotonic,
        log_rate: float = 100.0,
    ) -> None:
        self.runbook = runbook
        self.journal = journal
        self.ctx = ctx
        self.clock = clock
        self.log_rate = log_rate

    # ---- public

    def run(self, from_step: int | None = None) -> ExecutionResult:
        """Run the steps from index ``from_step`` (default 0) until one fails or all pass."""
        start = from_step or 0
        self.journal.append("run_started", runbook=self.runbook.name, from_step=start, resume=False)
        result = ExecutionResult("ok")
        for step in self.runbook.steps:
            if step.index < start:
                result.steps.append(StepResult(step.index, step.kind, step.name, "skipped"))
                continue
            if not self._do(step, result, self._execute(step)):
                break
        return self._finish(result)

    def resume(self) -> ExecutionResult:
        """Continue the run this journal records, never re-issuing a write that took effect."""
        state = replay(self.journal.read())
        self.journal.append("run_started", runbook=self.runbook.name, from_step=None, resume=True)
        result = ExecutionResult("ok")
        for step in self.runbook.steps:
            done = state.steps.get(step.index)
            if done is not None and done.status == "ok":
                result.steps.append(StepResult(step.index, step.kind, step.name, "skipped"))
                continue
            act = state.step_intent(step.index)
            if act is not None and act.status == "pending":
                outcome = self._reconcile(step, act.id, act.intent)
                if outcome is not None:
                    if not self._do(step, result, outcome):
                        break
                    continue
            if not self._do(step, result, self._execute(step)):
                break
        return self._finish(result)

    # ---- internals

    def _do(self, step: RunbookStep, result: ExecutionResult, res: StepResult) -> bool:
        result.steps.append(res)
        if res.status == "ok":
            if self.ctx.cancel.is_set():
                result.status = "cancelled"
                return False
            return True
        result.status = res.status
        result.failed_step = step.index
        result.error = res.error
        return False

    def _finish(self, result: ExecutionResult) -> ExecutionResult:
        self.journal.append("run_finished", ok=result.ok, status=result.status, failed_step=result.failed_step)
        return result

    def _step_ctx(self, step: RunbookStep) -> tuple[StepContext, LogPump]:
        pump = LogPump(self.journal, step.index, self.ctx.log, rate=self.log_rate)
        target = self.ctx.target if self.ctx.target is not None else self.runbook.target.to_target()
        return dataclasses.replace(self.ctx, log=pump, journal=self.journal, step_index=step.index, target=target), pump

    def _execute(self, step: RunbookStep) -> StepResult:
        """Run one step: step_started, [intent], run, [outcome], step_finished."""
        impl = step.step()
        mutating = impl.is_mutating(step.params)
        self._started(step, mutating)
        t0 = self.clock()
        if self.ctx.cancel.is_set():
            return self._finished(step, t0, None, Aborted("cancelled before the step started"))
        if mutating and self.ctx.readonly:
            err = ReadonlyError(f"step {step.index + 1} ({step.kind}) would change the world; nothing was sent")
            return self._finished(step, t0, None, err)
        intent_id = None
        ctx, pump = self._step_ctx(step)
        try:
            if mutating:
                prepared = impl.prepare(ctx, step.params) or {}
                intent_id = self.journal.intent(
                    step.kind, step=step.index, name=step.name, params=step.params.model_dump(mode="json"), **prepared
                )
                ctx = dataclasses.replace(ctx, prepared=prepared)
            data = impl.run(ctx, step.params) or {}
        except JournalError:
            raise
        except Exception as exc:
            pump.flush()
            err = exc if isinstance(exc, CockpitError) else CockpitError(
                f"{type(exc).__name__}: {exc}", title="Step crashed"
            )
            if intent_id is not None:
                self.journal.outcome(intent_id, False, step=step.index, **error_data(err))
            return self._finished(step, t0, None, err)
        pump.flush()
        if intent_id is not None:
            self.journal.outcome(intent_id, True, step=step.index, result=data)
        return self._finished(step, t0, data, None)

    def _reconcile(self, step: RunbookStep, intent_id: str, intent: dict) -> StepResult | None:
        """For a pending intent: the resumed result if the write took effect, else None."""
        impl = step.step()
        ctx, pump = self._step_ctx(step)
        t0 = self.clock()
        try:
            data = impl.reconcile(ctx, step.params, intent)
        except JournalError:
            raise
        except Exception as exc:
            pump.flush()
            err = exc if isinstance(exc, CockpitError) else CockpitError(
                f"{type(exc).__name__}: {exc}", title="Reconcile failed"
            )
            self._started(step, True, resumed=True)
            return self._finished(step, t0, None, err)
        pump.flush()
        if data is None:
            self.journal.outcome(
                intent_id, False, step=step.index, resumed=True, superseded=True,
                error_title="Not applied", error_message="the write had not taken effect; running the step again",
            )
            return None
        self._started(step, True, resumed=True)
        self.journal.outcome(intent_id, True, step=step.index, resumed=True, result=data)
        return self._finished(step, t0, data, None, resumed=True)

    def _started(self, step: RunbookStep, mutating: bool, *, resumed: bool = False) -> None:
        extra = {"resumed": True} if resumed else {}
        self.journal.append(
            "step_started", index=step.index, kind=step.kind, name=step.name,
            budget=step.budget, mutating=mutating, **extra,
        )

    def _finished(
        self, step: RunbookStep, t0: float, data: dict | None, err: CockpitError | None, *, resumed: bool = False
    ) -> StepResult:
        elapsed = round(self.clock() - t0, 3)
        over = step.budget is not None and elapsed > step.budget
        if err is None:
            status = "ok"
        elif isinstance(err, Aborted) or self.ctx.cancel.is_set():
            status = "cancelled"
        else:
            status = "failed"
        extra: dict[str, Any] = error_data(err) if err is not None else {}
        if resumed:
            extra["resumed"] = True
        self.journal.append(
            "step_finished", index=step.index, kind=step.kind, ok=err is None, status=status,
            elapsed=elapsed, over_budget=over, **extra,
        )
        return StepResult(step.index, step.kind, step.name, status, data or {}, err, elapsed, over, resumed)
