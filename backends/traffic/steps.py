"""The ``traffic.shift`` step kind: move traffic onto one backend in steps, holding and
judging after each (see :mod:`cockpit.traffic`).

.. code-block:: yaml

    - kind: traffic.shift
      params: {provider: haproxy, socket: /run/haproxy/admin.sock, route: app, to: old,
               steps: "90,70,50,25,0", hold: 60s, stop_when_healthy: true, on_worse: pause}
    - kind: traffic.shift
      params: {provider: gateway, namespace: shop, route: checkout, to: checkout-v1,
               steps: [90, 70, 50, 25, 0], hold: 1m}

``provider: gateway`` uses the runbook's ``kubernetes`` backend. ``prepare`` reads the route
and plans every step's split before the intent (which carries the plan and the split it
starts from); the weights of each step are their own intent/outcome pairs. The verdict for
``to`` comes from the balancer's own counts (HAProxy's ``show stat``, the Services'
``/metrics``); after each hold every backend's error rate is journaled too. When the verdict
gets worse, ``on_worse``: ``pause`` fails the step with the shift left where it is
("Paused"), ``abort`` puts the split back, ``continue`` goes on, ``ask`` waits at the split
and asks the operator through ``ctx.ask`` (the TUI's modal: continue or abort; ``pause``
where there is no one to ask). A paused or
interrupted shift is continued by ``cockpit run --resume``: ``prepare`` finds this step's
earlier shift and carries on after its last confirmed step, from the same starting split.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, field_validator, model_validator

from cockpit.errors import Aborted, RolloutFailed
from cockpit.durations import parse_duration
from cockpit.steps import Step, StepContext, StepParams, step_kind
from cockpit.traffic import (SHIFT, CountsJudge, HasErrorCounts, Judgement, ShiftPlan, ShiftResult, StepReport,
                             fmt_split, make_plan, parse_steps, plan_from_intent, run_shift)


Hold = Annotated[float, BeforeValidator(lambda v: parse_duration(v, allow_zero=True))]


class TrafficShiftParams(StepParams):
    provider: Literal["haproxy", "gateway"] = "gateway"
    socket: str | None = None
    """HAProxy's admin socket (a path, or HOST:PORT)."""
    namespace: str | None = None
    """The HTTPRoute's namespace (default: the runbook target's)."""
    route: str
    to: str
    steps: tuple[int, ...] = (90, 70, 50, 25, 0)
    hold: Hold = 60.0
    stop_when_healthy: bool = False
    on_worse: Literal["ask", "pause", "abort", "continue"] = "pause"
    """``ask``: the operator answers in the TUI (``ctx.ask``), ``pause`` where nobody can."""

    @field_validator("steps", mode="before")
    @classmethod
    def _steps(cls, v: Any) -> tuple[int, ...]:
        return parse_steps(v if isinstance(v, str) else [int(x) for x in v])

    @model_validator(mode="after")
    def _socket(self) -> TrafficShiftParams:
        if self.provider == "haproxy" and not self.socket:
            raise ValueError("provider haproxy needs socket (HAProxy's admin socket)")
        return self


def traffic_port(ctx: StepContext, params: TrafficShiftParams) -> Any:
    if params.provider == "haproxy":
        from backends.traffic.haproxy import HAProxyTraffic

        return HAProxyTraffic(params.socket or "", readonly=ctx.readonly)
    from backends.traffic.gateway import GatewayTraffic

    kube = ctx.backend("kubernetes")
    return GatewayTraffic(kube.t, params.namespace or ctx.namespace, readonly=ctx.readonly or kube.t.readonly)


def earlier_shift(records: list[dict], step: int | None, route: str) -> dict | None:
    """This step's latest shift that did not finish (interrupted, superseded or paused)."""
    outcomes = {r.get("id"): r for r in records if r.get("type") == "outcome"}
    for r in reversed(records):
        if r.get("type") == "intent" and r.get("action") == SHIFT and r.get("step") == step and r.get("route") == route:
            out = outcomes.get(r.get("id"))
            if out is None or (not out.get("ok") and (out.get("superseded") or out.get("error_title") == "Paused")):
                return r
            return None
    return None


ANSWERS = ("continue", "abort")


def worse_question(plan: ShiftPlan, step: StepReport, now: Judgement, before: Judgement) -> str:
    """What the operator is asked when the verdict gets worse (answers: ``continue``/``abort``)."""
    return (f"The verdict for {plan.to} got worse after step {step.index + 1} of {len(plan.steps)} "
            f"({fmt_split(step.weights)}): {before.verdict.value} → {now.verdict.value} ({now.text}).\n"
            f"The shift of {plan.route} is paused at this split.\n\n"
            f"continue: go on to the next step · abort: put the split back to {fmt_split(plan.start)}")


def on_worse(ctx: StepContext, params: TrafficShiftParams, plan: ShiftPlan) -> Callable[..., str]:
    """``on_worse`` for :func:`run_shift`: the param, or with ``ask`` the operator's answer
    through ``ctx.ask`` (the shift waits at its split meanwhile); ``pause`` when there is no
    one to ask, the question fails, or the answer is neither ``continue`` nor ``abort``."""
    def decide(step: StepReport, now: Judgement, before: Judgement) -> str:
        if params.on_worse != "ask":
            return params.on_worse
        if ctx.ask is None:
            ctx.log("verdict got worse and no one can be asked here: pausing the shift")
            return "pause"
        try:
            answer = str(ctx.ask(worse_question(plan, step, now, before)) or "").strip().lower()
        except Exception as exc:  # noqa: BLE001 — a failed question pauses; it never fails the shift's safety
            ctx.log(f"could not ask the operator ({exc}): pausing the shift")
            return "pause"
        choice = answer if answer in ANSWERS else "pause"
        ctx.log(f"operator answered {answer or 'nothing'!r}: {choice}")
        return choice
    return decide


def report(result: ShiftResult) -> dict[str, Any]:
    return {"status": result.status, "route": result.plan.route, "to": result.plan.to, "weights": result.weights,
            "steps": [{"index": s.index, "others_pct": s.others_pct, "weights": s.weights,
                       "verdict": s.judgement.verdict.value if s.judgement else None,
                       "text": s.judgement.text if s.judgement else None, "resumed": s.resumed}
                      for s in result.steps],
            "writes": result.writes, "reason": result.reason}


@step_kind
class TrafficShift(Step):
    kind = "traffic.shift"
    mutating = True
    Params = TrafficShiftParams

    def describe(self, params: TrafficShiftParams) -> str:
        return (f"shift traffic of {params.route} to {params.to} in steps "
                f"{','.join(map(str, params.steps))} holding {params.hold:g}s")

    def prepare(self, ctx: StepContext, params: TrafficShiftParams) -> dict[str, Any]:
        records = ctx.journal.read() if ctx.journal is not None else []
        earlier = earlier_shift(records, ctx.step_index, params.route)
        if earlier is not None:
            data = plan_from_intent(earlier).intent_data()
            data["continues"] = earlier["id"]
            ctx.log(f"continuing the shift of {params.route} started from {fmt_split(data['start'])}")
            return data
        port = traffic_port(ctx, params)
        return make_plan(port, params.route, params.to, params.steps, params.hold,
                         stop_when_healthy=params.stop_when_healthy).intent_data()

    def run(self, ctx: StepContext, params: TrafficShiftParams) -> dict[str, Any]:
        port = traffic_port(ctx, params)
        plan = plan_from_intent(ctx.prepared)
        judge = CountsJudge(port, plan.route, plan.to) if isinstance(port, HasErrorCounts) else None
        result = run_shift(port, plan, ctx.journal, judge=judge, on_worse=on_worse(ctx, params, plan),
                           cancel=ctx.cancel, log=ctx.log, resume="continues" in ctx.prepared, own_intent=False)
        if result.status == "paused":
            raise RolloutFailed(f"{result.reason}; traffic left at {fmt_split(result.weights)}",
                                title="Paused", hint="`cockpit run --resume` continues the shift")
        if result.status == "aborted":
            raise Aborted(f"{result.reason}; split put back to {fmt_split(result.weights)}")
        return report(result)

    def reconcile(self, ctx: StepContext, params: TrafficShiftParams, intent: dict[str, Any]) -> dict[str, Any] | None:
        return None  # run again: prepare finds this shift and continues after its last confirmed step


class TrafficDrainParams(StepParams):
    socket: str
    """HAProxy's admin socket (a path, or HOST:PORT)."""
    route: str
    """The HAProxy backend."""
    server: str
    state: Literal["drain", "maint", "ready"] = "drain"


@step_kind
class TrafficDrain(Step):
    """Take a bad instance out of the load balancer (``drain``: no new traffic, ``maint``: none)
    or put it back (``ready``) through HAProxy's runtime API. Resume reads the server's state."""

    kind = "traffic.drain"
    mutating = True
    Params = TrafficDrainParams

    def describe(self, params: TrafficDrainParams) -> str:
        return f"set HAProxy server {params.route}/{params.server} to {params.state}"

    def _port(self, ctx: StepContext, params: TrafficDrainParams) -> Any:
        from backends.traffic.haproxy import HAProxyTraffic

        return HAProxyTraffic(params.socket, readonly=ctx.readonly)

    def run(self, ctx: StepContext, params: TrafficDrainParams) -> dict[str, Any]:
        port = self._port(ctx, params)
        port.set_state(params.route, params.server, params.state)
        ctx.log(f"{params.route}/{params.server} is now {port.states(params.route)[params.server]}")
        return {"route": params.route, "server": params.server, "state": params.state}

    def reconcile(self, ctx: StepContext, params: TrafficDrainParams, intent: dict[str, Any]) -> dict[str, Any] | None:
        if self._port(ctx, params).states(params.route).get(params.server) == params.state:
            return {"route": params.route, "server": params.server, "state": params.state, "already": True}
        return None
