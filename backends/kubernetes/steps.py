"""Runbook step kinds for Kubernetes: rollback, scale, set-image, switch-selector, pause, resume.

Each is idempotent on resume: ``reconcile`` looks at the cluster and says whether the write
an unfinished intent announced already took effect, so a crash never makes the cockpit
issue it twice. ``kubernetes.rollback`` resolves the revision (``0`` = previous, as kubectl)
*before* it patches and journals the choice (``revision_chosen``, fsynced), because after a
rollback "the previous revision" means another one: resume compares the live template's
hash with the one chosen, never re-resolves.
"""
from __future__ import annotations

from typing import Any

from pydantic import Field

from cockpit.model import RollbackResult, Target
from cockpit.steps import Step, StepContext, StepParams, step_kind

from backends.kubernetes import revisions as rv


class _TargetParams(StepParams):
    deployment: str | None = Field(None, description="deployment name (default: the runbook's target)")
    namespace: str | None = Field(None, description="namespace (default: the runbook's target's)")


def _target(ctx: StepContext, params: _TargetParams) -> Target:
    from cockpit.errors import ConfigError

    default = getattr(ctx, "target", None)
    name = params.deployment or (default.name if default else None)
    if not name:
        raise ConfigError("this step needs params.deployment (or a runbook target of kind deployment)")
    namespace = params.namespace or (default.namespace if default else None) or ctx.namespace
    return Target(name, namespace)


def _chosen(ctx: StepContext, intent: dict[str, Any]) -> dict[str, Any] | None:
    if ctx.journal is None:
        return None
    for rec in ctx.journal.read():
        if rec.get("type") == "revision_chosen" and rec.get("step") == intent.get("step") and rec.get("seq", 0) > intent.get("seq", 0):
            return rec
    return None


@step_kind
class RollbackStep(Step):
    kind = "kubernetes.rollback"

    class Params(_TargetParams):
        to_revision: int = Field(0, ge=0, description="0 = the previous revision (kubectl semantics)")
        evidence: bool = Field(True, description="capture pod logs, events and history before rolling back")
        wait: bool = True
        timeout: float = Field(600.0, gt=0)

    def describe(self, params: Any) -> str:
        to = f"revision {params.to_revision}" if params.to_revision else "the previous revision"
        return f"roll back {params.deployment or 'the target'} to {to}"

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        kube = ctx.backend("kubernetes")
        target = _target(ctx, params)
        d = kube.get_deployment(target)
        rs = rv.replicaset_for_revision(d, kube._replicasets(d), params.to_revision)
        number, hash_ = rv.revision_of(rs), (rs["metadata"].get("labels") or {}).get(rv.HASH_LABEL, "")
        if params.evidence and ctx.journal is not None:
            from backends.kubernetes.logs import capture_before_rollback

            ev = capture_before_rollback(kube, target, ctx.journal, ctx.evidence_dir)
            ctx.log(f"evidence: {len(ev.files)} files in {ev.dir}" + (f" ({len(ev.errors)} sources failed)" if ev.errors else ""))
        if ctx.journal is not None:
            ctx.journal.append("revision_chosen", step=getattr(ctx, "step_index", None), target=str(target),
                               revision=number, template_hash=hash_, images=list(rv.images_of(rs["spec"]["template"])))
        ctx.log(f"rolling back {target} to revision {number} ({', '.join(rv.images_of(rs['spec']['template']))})")
        outcome = kube.rollback(target, number)
        ctx.log(f"deployment.apps/{target.name} {outcome.message}")
        result = {"result": outcome.result.value, "from_revision": outcome.from_revision,
                  "to_revision": number, "template_hash": hash_}
        if params.wait and outcome.result is RollbackResult.ROLLED_BACK:
            result["progress"] = self._wait(ctx, kube, target, params.timeout)
        return result

    @staticmethod
    def _wait(ctx: StepContext, kube: Any, target: Target, timeout: float) -> dict[str, Any]:
        from cockpit.errors import RolloutFailed

        last = None
        for p in kube.watch_progress(target, cancel=ctx.cancel, timeout=timeout):
            last = p
            ctx.log(p.message)
        if last is None or not last.complete:
            raise RolloutFailed(last.message if last else f"rollout of {target} was cancelled",
                                hint="check the pods and events; roll forward or pick another revision")
        return {"updated": last.updated, "ready": last.ready, "available": last.available, "desired": last.desired}

    def reconcile(self, ctx: StepContext, params: Any, intent: dict[str, Any]) -> dict[str, Any] | None:
        chosen = _chosen(ctx, intent)
        if chosen is None:
            return None  # crashed before the patch could be sent
        kube = ctx.backend("kubernetes")
        target = _target(ctx, params)
        d = kube.get_deployment(target)
        live = rv.live_replicaset(d, rv.owned_replicasets(d, kube._replicasets(d)))
        live_hash = ((live or {}).get("metadata", {}).get("labels") or {}).get(rv.HASH_LABEL)
        if live_hash != chosen.get("template_hash"):
            return None
        ctx.log(f"the rollback of {target} to revision {chosen.get('revision')} had taken effect before the crash")
        result = {"result": "rolled-back", "to_revision": chosen.get("revision"), "template_hash": live_hash}
        if params.wait:
            result["progress"] = self._wait(ctx, kube, target, params.timeout)
        return result


@step_kind
class ScaleStep(Step):
    kind = "kubernetes.scale"

    class Params(_TargetParams):
        replicas: int = Field(ge=0)

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        target = _target(ctx, params)
        ctx.log(f"scaling {target} to {params.replicas} replicas")
        ctx.backend("kubernetes").scale(target, params.replicas)
        return {"replicas": params.replicas}

    def reconcile(self, ctx: StepContext, params: Any, intent: dict[str, Any]) -> dict[str, Any] | None:
        info = ctx.backend("kubernetes").deployment(_target(ctx, params))
        return {"replicas": info.replicas} if info.replicas == params.replicas else None


@step_kind
class SetImageStep(Step):
    kind = "kubernetes.set_image"

    class Params(_TargetParams):
        container: str
        image: str

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        target = _target(ctx, params)
        ctx.log(f"setting {params.container}={params.image} on {target}")
        ctx.backend("kubernetes").set_image(target, params.container, params.image)
        return {"container": params.container, "image": params.image}

    def reconcile(self, ctx: StepContext, params: Any, intent: dict[str, Any]) -> dict[str, Any] | None:
        d = ctx.backend("kubernetes").get_deployment(_target(ctx, params))
        for c in d["spec"]["template"]["spec"].get("containers") or []:
            if c.get("name") == params.container and c.get("image") == params.image:
                return {"container": params.container, "image": params.image}
        return None


@step_kind
class PauseStep(Step):
    kind = "kubernetes.pause"
    Params = _TargetParams

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        target = _target(ctx, params)
        ctx.log(f"pausing the rollout of {target}")
        ctx.backend("kubernetes").pause(target)
        return {"paused": True}

    def reconcile(self, ctx: StepContext, params: Any, intent: dict[str, Any]) -> dict[str, Any] | None:
        return {"paused": True} if ctx.backend("kubernetes").deployment(_target(ctx, params)).paused else None


@step_kind
class ResumeStep(Step):
    kind = "kubernetes.resume"
    Params = _TargetParams

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        target = _target(ctx, params)
        ctx.log(f"resuming the rollout of {target}")
        ctx.backend("kubernetes").resume(target)
        return {"paused": False}

    def reconcile(self, ctx: StepContext, params: Any, intent: dict[str, Any]) -> dict[str, Any] | None:
        return {"paused": False} if not ctx.backend("kubernetes").deployment(_target(ctx, params)).paused else None


@step_kind
class SwitchSelectorStep(Step):
    """Blue-green: point a Service at the other colour's pods."""

    kind = "kubernetes.switch_selector"

    class Params(StepParams):
        service: str
        namespace: str | None = None
        selector: dict[str, str]

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        default = getattr(ctx, "target", None)
        ns = params.namespace or (default.namespace if default else ctx.namespace)
        ctx.log(f"switching service {ns}/{params.service} to selector {params.selector}")
        previous = ctx.backend("kubernetes").switch_selector(ns, params.service, params.selector)
        return {"previous": previous, "selector": params.selector}

    def reconcile(self, ctx: StepContext, params: Any, intent: dict[str, Any]) -> dict[str, Any] | None:
        default = getattr(ctx, "target", None)
        ns = params.namespace or (default.namespace if default else ctx.namespace)
        svc = ctx.backend("kubernetes").t.request("GET", f"/api/v1/namespaces/{ns}/services/{params.service}")
        return {"selector": params.selector} if (svc.get("spec") or {}).get("selector") == params.selector else None
