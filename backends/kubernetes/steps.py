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

from cockpit.events import RevisionChosen
from cockpit.journal import now_ts
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


def _prior_choice(ctx: StepContext) -> dict[str, Any] | None:
    """The revision an earlier attempt of this step chose (journaled before its intent)."""
    if ctx.journal is None:
        return None
    from cockpit.state import replay

    state = replay(ctx.journal.read())
    for chosen in reversed(state.chosen):
        if chosen.step == ctx.step_index and chosen.template_hash:
            return chosen.to_record()
    return None


def refuse_bringing_back(target: Target, plan: Any) -> None:
    """A bare "previous revision" right after the cockpit's own rollback would bring back the
    revision it rolled away from: refuse (the note is on the deployment, so this holds
    without the journal, from any bastion)."""
    from cockpit.errors import ConflictError

    from cockpit.autorollback import undoes

    note = plan.last_rollback
    live = plan.live
    if live is None or not undoes(note, live.template_hash, plan.template_hash):
        return
    images = ", ".join(note.get("from_images") or plan.images)
    from cockpit.locks import format_since, parse_time

    at = parse_time(note.get("at"))
    raise ConflictError(
        f"{target} was rolled back by {note.get('by', '?')} at {format_since(at) if at else '?'} from revision "
        f"{note.get('from_revision', '?')} to revision {note.get('to_revision', '?')}; \"the previous revision\" now "
        f"is the one rolled back from ({images}), so this would undo that rollback",
        title="Already rolled back",
        hint="nothing was changed; to roll forward to it on purpose pass --to-revision "
             f"{plan.to_revision} (or --force); `cockpit history {target.name} -n {target.namespace}` shows the revisions",
    )


@step_kind
class RollbackStep(Step):
    """The one rollback: plan → evidence → revision chosen → intent → patch → outcome → wait.

    ``prepare`` (before the executor's intent) resolves the revision — or, on a retry, finds
    the one an earlier attempt chose by its template hash — captures the evidence and
    journals ``revision_chosen`` with why; ``run`` sends exactly that plan with the cockpit's
    note on the deployment; ``reconcile`` compares the live template hash with the intent's.
    """

    kind = "kubernetes.rollback"

    class Params(_TargetParams):
        to_revision: int = Field(0, ge=0, description="0 = the previous revision (kubectl semantics)")
        force: bool = Field(False, description="roll back to the previous revision even right after a rollback")
        why: str = Field("", description="why this revision (journaled with the choice)")
        evidence: bool = Field(True, description="capture pod logs, events and history before rolling back")
        wait: bool = True
        timeout: float = Field(600.0, gt=0)

    def describe(self, params: Any) -> str:
        to = f"revision {params.to_revision}" if params.to_revision else "the previous revision"
        return f"roll back {params.deployment or 'the target'} to {to}"

    def prepare(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        kube = ctx.backend("kubernetes")
        target = _target(ctx, params)
        prior = _prior_choice(ctx)
        why = params.why
        if prior is not None:  # a retry: the choice was made before the crash; never re-resolve
            number = next((r.number for r in kube.history(target) if r.template_hash == prior["template_hash"]), None)
            if number is None:
                from cockpit.errors import NotFoundError

                raise NotFoundError(f"the revision chosen before the interruption ({prior.get('revision')}, template "
                                    f"{prior['template_hash']}) is no longer in the history of {target}")
            plan = kube.plan_rollback(target, number)
            why = prior.get("why") or why
        else:
            plan = kube.plan_rollback(target, params.to_revision)
            if not params.to_revision and not params.force:
                refuse_bringing_back(target, plan)
            if not why:
                why = (f"revision {plan.to_revision} was asked for" if params.to_revision
                       else f"revision {plan.to_revision} is the previous one")
        self.plan = plan
        live = plan.live
        if params.evidence and ctx.journal is not None and not plan.skipped and prior is None:
            from backends.kubernetes.logs import capture_before_rollback

            ev = capture_before_rollback(kube, target, ctx.journal, ctx.evidence_dir)
            ctx.log(f"evidence: {len(ev.files)} files in {ev.dir}" + (f" ({len(ev.errors)} sources failed)" if ev.errors else ""))
        chosen = RevisionChosen(
            revision=plan.to_revision, target=str(target), template_hash=plan.template_hash, images=tuple(plan.images),
            from_revision=live.number if live else None, from_images=tuple(live.images) if live else (),
            from_template_hash=live.template_hash if live else "", why=why, step=ctx.step_index)
        if ctx.journal is not None and prior is None:
            ctx.journal.write(chosen)
        return {"target": str(target), "to_revision": plan.to_revision, "template_hash": plan.template_hash,
                "from_revision": chosen.from_revision, "images": list(plan.images)}

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        kube = ctx.backend("kubernetes")
        target = _target(ctx, params)
        plan = getattr(self, "plan", None) or kube.plan_rollback(target, params.to_revision)
        live = plan.live
        ctx.log(f"rolling back {target} to revision {plan.to_revision} ({', '.join(plan.images)})")
        note = {"by": getattr(ctx.journal, "actor", "") or "", "at": now_ts(),
                "from_revision": live.number if live else None, "from_template_hash": live.template_hash if live else "",
                "from_images": list(live.images) if live else [], "to_revision": plan.to_revision,
                "to_template_hash": plan.template_hash}
        outcome = send_rollback(ctx, kube, target, plan, note)
        ctx.log(f"deployment.apps/{target.name} {outcome.message}")
        result = {"result": outcome.result.value, "from_revision": outcome.from_revision,
                  "to_revision": plan.to_revision, "template_hash": plan.template_hash, "images": list(plan.images)}
        if params.wait and outcome.result is RollbackResult.ROLLED_BACK:
            result["progress"] = self._wait(ctx, kube, target, params.timeout)
        return result

    @staticmethod
    def _wait(ctx: StepContext, kube: Any, target: Target, timeout: float) -> dict[str, Any]:
        from cockpit.errors import RolloutFailed, UnreachableError

        last = None
        try:
            for p in kube.watch_progress(target, cancel=ctx.cancel, timeout=timeout):
                if last is None or p.message != last.message:
                    ctx.log(p.message)
                last = p
        except UnreachableError as exc:  # the rollback is in; only following it failed
            raise UnreachableError(f"the rollback of {target} took effect, but its rollout could not be followed: "
                                   f"{exc.message}", title="Rollout not followed",
                                   hint=f"nothing needs sending again; follow it with `cockpit status {target.name} "
                                        f"-n {target.namespace} --wait` once the API answers") from None
        if last is None or not last.complete:
            raise RolloutFailed(last.message if last else f"rollout of {target} was cancelled",
                                hint="check the pods and events; roll forward or pick another revision")
        return {"updated": last.updated, "ready": last.ready, "available": last.available, "desired": last.desired}

    def reconcile(self, ctx: StepContext, params: Any, intent: dict[str, Any]) -> dict[str, Any] | None:
        chosen_hash = intent.get("template_hash")
        if not chosen_hash:  # an intent from before the choice was carried in it
            prior = _prior_choice(ctx)
            chosen_hash = prior.get("template_hash") if prior else None
        if not chosen_hash:
            return None
        kube = ctx.backend("kubernetes")
        target = _target(ctx, params)
        d = kube.get_deployment(target)
        live = rv.live_replicaset(d, rv.owned_replicasets(d, kube.replicasets(d)))
        if rv.template_hash(live) != chosen_hash:
            return None
        ctx.log(f"the rollback of {target} to revision {intent.get('to_revision')} had taken effect before the interruption")
        result = {"result": "rolled-back", "to_revision": intent.get("to_revision"), "template_hash": chosen_hash,
                  "from_revision": intent.get("from_revision"), "images": intent.get("images") or []}
        if params.wait:
            result["progress"] = self._wait(ctx, kube, target, params.timeout)
        return result


PATCH_ATTEMPTS = 3
"""The rollback PATCH is sent at most this many times — each time again only after the
deployment was read back and shown not to run the chosen template."""
MAX_PATCH_WAIT = 10.0
"""A ``Retry-After`` longer than this on the rollback PATCH is not waited for."""


def send_rollback(ctx: StepContext, kube: Any, target: Target, plan: Any, note: dict[str, Any]) -> Any:
    """Send the rollback PATCH; when its answer is lost, read the deployment back before
    anything is sent again. Every move is a line in the journal.

    - An answer: done. A refusal (4xx) of the first PATCH is raised as it is.
    - No usable answer (5xx, 429, a reset, a timeout): read back. The live template is the
      chosen one → the rollback took effect and is not sent again. It is still the one
      rolled back from → not applied: sent again, at most :data:`PATCH_ATTEMPTS` times in
      all, after what ``Retry-After`` asks, and only if the template is still the one read
      back (a JSON-patch ``test``), so a first PATCH that lands late is never applied twice.
      It is something else → someone changed it meanwhile: ConflictError, nothing more sent.
    - The read-back fails too → "Rollback outcome unknown": nothing more is sent.
    """
    from cockpit.errors import Aborted, CockpitError, ConflictError, UnreachableError
    from cockpit.model import RollbackOutcome

    chosen = plan.replicaset["spec"]["template"]
    before = plan.deployment["spec"]["template"]
    guard: dict[str, Any] | None = None
    for attempt in range(1, PATCH_ATTEMPTS + 1):
        try:
            return kube.rollback(target, plan.to_revision, plan=plan, note=note, only_if_template=guard)
        except UnreachableError as exc:
            problem = exc
            ctx.log(f"the rollback PATCH got no usable answer ({exc.title}: {exc.message}); "
                    f"reading {target} back before anything is sent again")
        except CockpitError as exc:
            if guard is None:
                raise  # the first PATCH was refused outright: nothing was applied
            problem = exc
            ctx.log(f"the PATCH sent again was refused ({exc.title}: {exc.message}); reading {target} back")
        live = _read_back(kube, target, problem)
        template = (live.get("spec") or {}).get("template") or {}
        if rv.equal_ignore_hash(template, chosen):
            ctx.log(f"read back: {target} runs revision {plan.to_revision}'s template ({', '.join(plan.images)}): "
                    "the rollback took effect; it is not sent again")
            current = int((plan.deployment["metadata"].get("annotations") or {}).get(rv.REVISION, 0) or 0)
            return RollbackOutcome(RollbackResult.ROLLED_BACK, current, plan.to_revision, plan.images,
                                   "rolled back (its answer was lost; read back, it had taken effect)")
        if not rv.equal_ignore_hash(template, before):
            raise ConflictError(
                f"while the rollback's answer was lost, the pod template of {target} changed to something else "
                f"({', '.join(rv.images_of(template))}): neither what it ran before nor revision {plan.to_revision}",
                title="Changed under us", hint="nothing more was sent; someone else is changing this deployment — "
                f"see `cockpit history {target.name} -n {target.namespace}` and decide again")
        wait = getattr(problem, "retry_after", None)
        sent = f"sent {attempt} time{'s' if attempt > 1 else ''}"
        if not isinstance(problem, UnreachableError) or attempt == PATCH_ATTEMPTS or (wait or 0) > MAX_PATCH_WAIT:
            raise UnreachableError(
                f"the rollback of {target} to revision {plan.to_revision} was not applied ({sent}; read back each "
                f"time, it still runs its template from before): {problem.message}",
                title="Rollback not applied",
                hint=f"nothing changed on {target}; run the same command again once the API server answers — it "
                     "reads the deployment back before it sends anything")
        wait = 0.5 * attempt if wait is None else wait
        ctx.log(f"read back: {target} still runs its template from before: the PATCH did not take effect; sending "
                f"it again in {wait:g}s (attempt {attempt + 1} of {PATCH_ATTEMPTS}), only if that is still so")
        if ctx.cancel.wait(wait):
            raise Aborted(f"cancelled before the rollback of {target} was sent again; nothing changed")
        guard = template
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _read_back(kube: Any, target: Target, problem: Exception) -> dict[str, Any]:
    from cockpit.errors import CockpitError, UnreachableError

    try:
        return kube.get_deployment(target)
    except CockpitError as again:
        raise UnreachableError(
            f"the rollback PATCH of {target} got no usable answer ({getattr(problem, 'message', problem)}) and "
            f"reading it back failed too ({again.message}): whether the rollback took effect is unknown",
            title="Rollback outcome unknown",
            hint="nothing more was sent; run the same command again once the API answers — it reads the deployment "
                 "back before it sends anything") from None


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
