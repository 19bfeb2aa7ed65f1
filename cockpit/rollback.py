"""The one rollback use case, for every front end: headless ``cockpit rollback``, the armed
watcher, the full-screen cockpit and runbooks.

``RollbackRun(request, journal, ctx).run()``:

1. **Reconcile first.** The incident journal is folded; if it already holds a rollback of
   this target that took effect (to the revision asked for, or "the previous one"), nothing
   is sent: "already rolled back at 06:41 to revision 2 — nothing to do". If a run was
   interrupted (an intent without outcome, or a run without its end), the recorded runbook is
   *resumed* through :meth:`cockpit.executor.Executor.resume`, which reconciles the pending
   write against the cluster instead of sending it again.
2. Otherwise the incident is opened for this target (a journal belongs to one target), and a
   one-step runbook — ``kubernetes.rollback`` — is recorded and run through the executor:
   plan → evidence → revision chosen (with why) → intent → patch → outcome → wait.

The lock ("one operator per target") is taken by the caller before this runs, from the
composition root (a Lease in the target's namespace; see :mod:`cockpit.locks`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from cockpit import events as ev
from cockpit.errors import CockpitError, ConflictError
from cockpit.executor import ExecutionResult, Executor
from cockpit.journal import Journal
from cockpit.model import Target
from cockpit.runbook import parse_runbook
from cockpit.state import IncidentState, RolledBack, replay
from cockpit.steps import StepContext

STEP_KIND = "kubernetes.rollback"


@dataclass(frozen=True)
class RollbackRequest:
    target: Target
    to_revision: int = 0
    """0: the previous revision (kubectl's meaning)."""
    force: bool = False
    """Roll back to "the previous revision" even right after a rollback (which would undo it)."""
    evidence: bool = True
    wait: bool = True
    timeout: float = 600.0
    reason: str = ""
    """Why roll back at all (the incident's reason: a trigger, a verdict, the operator)."""
    why: str = ""
    """Why this revision (e.g. "revision 2 was last seen healthy")."""
    source: str = "cli"
    """Which front end: ``cli``, ``tui``, ``watch``."""
    drill: bool = False


@dataclass(frozen=True)
class RollbackResult:
    status: str
    """``ok``, ``failed``, ``cancelled``, or ``already`` (nothing sent: the journal holds it)."""
    done: RolledBack | None = None
    execution: ExecutionResult | None = None
    resumed: bool = False

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "already")

    @property
    def error(self) -> CockpitError | None:
        return self.execution.error if self.execution else None


def runbook_yaml(req: RollbackRequest) -> str:
    """The one-step runbook every rollback runs (recorded in the journal, resumed from it)."""
    to = f"revision {req.to_revision}" if req.to_revision else "the previous revision"
    params: dict[str, Any] = {"to_revision": req.to_revision, "evidence": req.evidence, "wait": req.wait,
                              "timeout": req.timeout}
    if req.force:
        params["force"] = True
    if req.why:
        params["why"] = req.why
    return yaml.safe_dump({
        "name": f"roll back {req.target} to {to}",
        "target": {"kind": "deployment", "namespace": req.target.namespace, "name": req.target.name},
        "steps": [{"kind": STEP_KIND, "name": f"Roll back {req.target.name} to {to}", "budget": "5m",
                   "params": params}],
    }, sort_keys=False)


def already_done(state: IncidentState, req: RollbackRequest) -> RolledBack | None:
    """The rollback of ``req.target`` this journal says took effect, if it answers ``req``."""
    rb = state.rolled_back
    if rb is None or state.target != str(req.target):
        return None
    if req.to_revision and rb.to_revision is not None and req.to_revision != rb.to_revision:
        return None  # another revision, asked for explicitly: a new decision
    return rb


def interrupted(state: IncidentState) -> bool:
    """A run this journal records did not finish (resume must reconcile it)."""
    return state.runbook_yaml is not None and (bool(state.pending) or state.run_status == "running")


def describe_done(rb: RolledBack) -> str:
    when = rb.at.astimezone().strftime("%H:%M:%S") if rb.at else "?"
    images = f" ({', '.join(rb.images)})" if rb.images else ""
    return f"already rolled back at {when} to revision {rb.to_revision}{images} — nothing to do"


class RollbackRun:
    """One rollback of ``req.target`` journaled in ``journal``, run with ``ctx``'s backends."""

    def __init__(self, req: RollbackRequest, journal: Journal, ctx: StepContext, *, log_rate: float = 100.0) -> None:
        self.req, self.journal, self.ctx, self.log_rate = req, journal, ctx, log_rate

    def state(self) -> IncidentState:
        return replay(self.journal.read())

    def run(self) -> RollbackResult:
        req = self.req
        state = self.state()
        if state.target is not None and state.target != str(req.target):
            raise ConflictError(
                f"the journal {self.journal.path} belongs to the incident on {state.target}, not {req.target}",
                title="Wrong incident", hint="use the journal of this target's incident, or a new one")
        done = already_done(state, req)
        if done is not None:
            self.ctx.log(f"{req.target}: {describe_done(done)}")
            return RollbackResult("already", done)
        if interrupted(state):
            self.ctx.log(f"{req.target}: an interrupted rollback is in the journal; reconciling it with the cluster")
            return self._execute(state.runbook_yaml or "", resume=True)
        if state.target is None:
            self.journal.write(ev.IncidentOpened(target=str(req.target), kind=req.target.kind, reason=req.reason,
                                                 who=self.journal.actor, drill=req.drill, source=req.source))
            self.journal.write(ev.Phase("declare"))
        text = runbook_yaml(req)
        self.journal.write(ev.RunbookRecorded(yaml=text, revision=req.to_revision or None))
        if state.phase != "execute":
            self.journal.write(ev.Phase("execute"))
        return self._execute(text, resume=False)

    def _execute(self, text: str, *, resume: bool) -> RollbackResult:
        runbook = parse_runbook(text, source="<rollback>")
        executor = Executor(runbook, self.journal, self.ctx, log_rate=self.log_rate)
        result = executor.resume() if resume else executor.run()
        state = self.state()
        if result.ok and state.phase == "execute":
            self.journal.write(ev.Phase("verify"))
        return RollbackResult(result.status, state.rolled_back, result, resumed=resume)
