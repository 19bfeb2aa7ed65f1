"""Runbook step kinds ``flag.disable`` (the quick disable) and ``flag.enable`` (its undo).

.. code-block:: yaml

    - kind: flag.disable
      params: {feature: new-checkout, project: default, environment: production}
      # provider: unleash (default); url: defaults to $UNLEASH_URL; token: $UNLEASH_API_TOKEN

``prepare`` reads the flag (an unknown flag fails the step before any intent, listing the
project's flags) and puts its state before into the intent; ``run`` switches it and reads it
back (before and after in the outcome; a flag already in the target state is left alone);
after a crash ``reconcile`` reads the flag: already in the target state → the write took
effect, nothing is sent again.
"""
from __future__ import annotations

from typing import Any

from pydantic import Field

from cockpit.flags import FlagRef, intent_data, onoff, read_state, reconcile_flag, set_flag
from cockpit.steps import Step, StepContext, StepParams, step_kind


class FlagParams(StepParams):
    feature: str = Field(min_length=1, description="the flag's name")
    environment: str = Field(min_length=1, description="the environment, e.g. production")
    project: str = Field(default="default", min_length=1, description="the flag's project")
    provider: str = Field(default="unleash", description="the flag service")
    url: str | None = Field(default=None, description="the service's URL (default: $UNLEASH_URL)")


class _FlagStep(Step):
    mutating = True
    Params = FlagParams
    enabled: bool = False

    def describe(self, params: Any) -> str:
        return f"switch flag {params.feature} {onoff(self.enabled)} in {params.project}/{params.environment}"

    @staticmethod
    def _ref(params: Any) -> FlagRef:
        return FlagRef(params.feature, params.project, params.environment)

    def _service(self, ctx: StepContext, params: Any) -> Any:
        from backends.flags import open_service

        return open_service(params.provider, url=params.url, readonly=ctx.readonly)

    def prepare(self, ctx: StepContext, params: Any) -> dict[str, Any] | None:
        with self._service(ctx, params) as svc:
            before = read_state(svc, self._ref(params))
            return intent_data(svc, self._ref(params), self.enabled, before.enabled)

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        ref = self._ref(params)
        with self._service(ctx, params) as svc:
            change = set_flag(svc, ref, self.enabled)
        if change.sent:
            ctx.log(f"flag {ref.describe()}: {onoff(change.before)} → {onoff(change.after)} ({change.provider})")
        else:
            ctx.log(f"flag {ref.describe()} was already {onoff(change.after)}: nothing sent")
        return change.as_dict()

    def reconcile(self, ctx: StepContext, params: Any, intent: dict[str, Any]) -> dict[str, Any] | None:
        with self._service(ctx, params) as svc:
            out = reconcile_flag(svc, self._ref(params), self.enabled)
        if out is not None:
            out["before"] = intent.get("before")
        return out


@step_kind
class FlagDisable(_FlagStep):
    kind = "flag.disable"
    enabled = False


@step_kind
class FlagEnable(_FlagStep):
    kind = "flag.enable"
    enabled = True
