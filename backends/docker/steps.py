"""The ``docker.rollback`` step kind (runbooks: "stop the container, run the previous tag").

Params: ``container``; ``to_tag`` (of the container's repository) or ``image``;
``health_budget`` seconds; optional ``probe_url``; ``pull`` (default: only when the
repository names a registry); ``compose`` (auto | container | never). Needs the
``docker`` backend (:class:`backends.docker.client.DockerBackend`).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from backends.docker import rollback as rb
from cockpit.steps import Step, StepContext, StepParams, step_kind


class DockerRollbackParams(StepParams):
    container: str
    to_tag: str | None = None
    image: str | None = None
    health_budget: float = 60.0
    probe_url: str | None = None
    pull: bool | None = None
    compose: Literal["auto", "container", "never"] = "auto"

    @model_validator(mode="after")
    def _one_target(self) -> DockerRollbackParams:
        if bool(self.to_tag) == bool(self.image):
            raise ValueError("give exactly one of to_tag or image")
        return self


@step_kind
class DockerRollback(Step):
    kind = "docker.rollback"
    mutating = True
    Params = DockerRollbackParams

    def describe(self, params: Any) -> str:
        return f"roll back container {params.container} to {params.to_tag or params.image}"

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        from backends.docker.perform import perform_rollback
        from cockpit.output import jsonable

        out = perform_rollback(
            ctx.backend("docker"), params.container, to_tag=params.to_tag, image=params.image,
            journal=ctx.journal, log=ctx.log, cancel=ctx.cancel, health_budget=params.health_budget,
            probe_url=params.probe_url, pull=params.pull, compose=params.compose,
        )
        return jsonable(out)

    def reconcile(self, ctx: StepContext, params: Any, intent: dict[str, Any]) -> dict[str, Any] | None:
        """Done if the container already runs the target and no plan of ours is pending;
        otherwise None: ``run`` resumes the pending plan from where the daemon is."""
        records = ctx.journal.read() if ctx.journal is not None else []
        if rb.pending_plans(records, params.container):
            return None
        backend = ctx.backend("docker")
        attrs = backend.find(params.container)
        if attrs is None:
            return None
        ref = params.image or f"{backend.repository_of(attrs)}:{params.to_tag}"
        img = backend.image(ref)
        state = attrs.get("State") or {}
        healthy = (state.get("Health") or {}).get("Status", "healthy") == "healthy"
        if img is not None and attrs.get("Image") == img["Id"] and state.get("Running") and healthy:
            return {"container": params.container, "to_image": ref, "to_image_id": img["Id"],
                    "new_id": attrs["Id"], "message": "already running the target (reconciled)"}
        return None
