"""Runbook step kinds ``lambda.rollback`` and ``lambda.shift``.

.. code-block:: yaml

    - kind: lambda.rollback
      params: {function: checkout, alias: live}            # to_version: "41" to choose
    - kind: lambda.shift
      params: {function: checkout, alias: live, steps: "90,70,50,25,0", hold: 60s}

Both take ``region``, ``profile`` and ``endpoint_url`` (else boto3's chain and
``AWS_ENDPOINT_URL``). ``prepare`` resolves the version (see :mod:`backends.aws_lambda.plan`)
and reads the alias before the fsynced intent, which carries both; after a crash,
``reconcile`` reads the alias: pointing wholly at the intent's version means the write took
effect, so it is not sent again. ``lambda.shift`` is the shared shift of
:mod:`cockpit.traffic` over the alias's routing weights (each weight change its own
intent/outcome); run again after a crash, it continues after its last confirmed step.
"""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, field_validator

from backends.aws_lambda.client import AliasTraffic, LambdaBackend
from backends.aws_lambda import plan as lp
from cockpit.durations import parse_duration
from cockpit.errors import Aborted, ConfigError, RolloutFailed
from cockpit.steps import Step, StepContext, StepParams, step_kind
from cockpit.traffic import fmt_split, make_plan, parse_steps, plan_from_intent, run_shift

Hold = Annotated[float, BeforeValidator(lambda v: parse_duration(v, allow_zero=True))]


class LambdaParams(StepParams):
    function: str
    alias: str
    to_version: str | None = None
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None

    @field_validator("to_version", mode="before")
    @classmethod
    def _version(cls, v: Any) -> Any:
        return None if v is None else str(v)


class LambdaShiftParams(LambdaParams):
    steps: tuple[int, ...] = (90, 70, 50, 25, 0)
    hold: Hold = 60.0

    @field_validator("steps", mode="before")
    @classmethod
    def _steps(cls, v: Any) -> tuple[int, ...]:
        return parse_steps(v if isinstance(v, str) else [int(x) for x in v])


def backend_for(ctx: StepContext, params: LambdaParams) -> LambdaBackend:
    return LambdaBackend(region=params.region, endpoint_url=params.endpoint_url, profile=params.profile,
                         readonly=ctx.readonly)


def resolve(ctx: StepContext, backend: LambdaBackend, params: LambdaParams) -> tuple[Any, lp.Choice]:
    alias = backend.alias(params.function, params.alias)
    versions = backend.versions(params.function)
    records = ctx.journal.read() if ctx.journal is not None else []
    return alias, lp.choose_target(backend, params.function, alias, versions, records, params.to_version)


@step_kind
class LambdaRollback(Step):
    kind = lp.ROLLBACK
    mutating = True
    Params = LambdaParams

    def describe(self, params: LambdaParams) -> str:
        to = f"version {params.to_version}" if params.to_version else "the previous version"
        return f"point alias {params.alias} of Lambda {params.function} at {to}"

    def prepare(self, ctx: StepContext, params: LambdaParams) -> dict[str, Any]:
        backend = backend_for(ctx, params)
        alias, choice = resolve(ctx, backend, params)
        ctx.log(f"{params.function}:{params.alias} → {choice.why}")
        return {**lp.intent_data(params.function, alias, choice), "already": choice.already}

    def run(self, ctx: StepContext, params: LambdaParams) -> dict[str, Any]:
        p = ctx.prepared
        if p.get("already"):
            ctx.log(f"{p['why']} — nothing to do")
            return {"function": p["function"], "alias": p["alias"], "to_version": p["to_version"], "sent": False}
        backend = backend_for(ctx, params)
        now = backend.set_alias(p["function"], p["alias"], p["to_version"], {})
        ctx.log(f"alias {now.name} of {p['function']}: {p['from_version']} → {now.version}")
        return {"function": p["function"], "alias": now.name, "from_version": p["from_version"],
                "to_version": now.version, "sent": True}

    def reconcile(self, ctx: StepContext, params: LambdaParams, intent: dict[str, Any]) -> dict[str, Any] | None:
        return lp.took_effect(backend_for(ctx, params), intent)


def earlier_shift(records: list[dict], step: int | None, function: str, alias: str) -> dict | None:
    """This step's latest shift that did not finish (interrupted, superseded or paused)."""
    outcomes = {r.get("id"): r for r in records if r.get("type") == "outcome"}
    for r in reversed(records):
        if (r.get("type") == "intent" and r.get("action") == lp.SHIFT and r.get("step") == step
                and r.get("function") == function and r.get("alias") == alias):
            out = outcomes.get(r.get("id"))
            if out is None or (not out.get("ok") and (out.get("superseded") or out.get("error_title") == "Paused")):
                return r
            return None
    return None


def shift_plan(backend: LambdaBackend, function: str, alias: Any, choice: lp.Choice, steps: tuple[int, ...],
               hold_s: float) -> dict[str, Any]:
    """The shift's plan as intent data (checked against the alias before anything is sent)."""
    start = alias.split()
    if len([v for v, w in start.items() if w > 0 and v != choice.to_version]) > 1:
        raise ConfigError(f"alias {alias.name} already routes to {len(start)} versions; Lambda allows one "
                          f"additional version, so a gradual shift to {choice.to_version} cannot start from it",
                          hint="roll back without --steps")
    port = AliasTraffic(backend, function, include=[choice.to_version])
    plan = make_plan(port, alias.name, choice.to_version, steps, hold_s)
    return {**plan.intent_data(), **lp.intent_data(function, alias, choice)}


def shift_result(result: Any) -> dict[str, Any]:
    return {"status": result.status, "alias": result.plan.route, "to_version": result.plan.to,
            "weights": result.weights, "writes": result.writes,
            "steps": [{"index": s.index, "others_pct": s.others_pct, "weights": s.weights, "resumed": s.resumed}
                      for s in result.steps], "reason": result.reason}


@step_kind
class LambdaShift(Step):
    kind = lp.SHIFT
    mutating = True
    Params = LambdaShiftParams

    def describe(self, params: LambdaShiftParams) -> str:
        to = f"version {params.to_version}" if params.to_version else "the previous version"
        return (f"shift alias {params.alias} of Lambda {params.function} to {to} in steps "
                f"{','.join(map(str, params.steps))} holding {params.hold:g}s")

    def prepare(self, ctx: StepContext, params: LambdaShiftParams) -> dict[str, Any]:
        records = ctx.journal.read() if ctx.journal is not None else []
        earlier = earlier_shift(records, ctx.step_index, params.function, params.alias)
        keys = ("function", "alias", "from_version", "from_weights", "to_version", "why")
        if earlier is not None:
            data = {**plan_from_intent(earlier).intent_data(), **{k: earlier.get(k) for k in keys},
                    "continues": earlier["id"]}
            ctx.log(f"continuing the shift of {params.function}:{params.alias} started from {fmt_split(data['start'])}")
            return data
        backend = backend_for(ctx, params)
        alias, choice = resolve(ctx, backend, params)
        ctx.log(f"{params.function}:{params.alias} → {choice.why}")
        return shift_plan(backend, params.function, alias, choice, params.steps, params.hold)

    def run(self, ctx: StepContext, params: LambdaShiftParams) -> dict[str, Any]:
        backend = backend_for(ctx, params)
        plan = plan_from_intent(ctx.prepared)
        port = AliasTraffic(backend, params.function, include=[*plan.start, plan.to])
        result = run_shift(port, plan, ctx.journal, cancel=ctx.cancel, log=ctx.log,
                           resume="continues" in ctx.prepared, own_intent=False)
        if result.status == "aborted":
            raise Aborted(f"{result.reason}; alias put back to {fmt_split(result.weights)}")
        if result.status == "paused":
            raise RolloutFailed(f"{result.reason}; alias left at {fmt_split(result.weights)}", title="Paused")
        return {**shift_result(result), "function": params.function}

    def reconcile(self, ctx: StepContext, params: LambdaShiftParams, intent: dict[str, Any]) -> dict[str, Any] | None:
        # all the traffic on the target already: done; otherwise run again and continue the shift
        return lp.took_effect(backend_for(ctx, params), intent)
