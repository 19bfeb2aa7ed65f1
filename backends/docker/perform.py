"""One entry point for "roll this container back": Compose-aware, journaled, resumable.

For a container of a Compose project (``com.docker.compose.*`` labels) the service's image
is first set in the compose file (journaled ``docker.compose_file`` with the old value),
then applied with ``docker compose up -d --no-deps SERVICE`` when the plugin is present,
else by the container-level rollback. When the rollback fails, the file is put back too.
Everything else goes straight to :func:`backends.docker.rollback.rollback`.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from backends.docker import compose as cmp
from backends.docker import rollback as rb
from backends.docker.client import DockerBackend
from backends.docker.model import DockerRollbackOutcome
from cockpit.errors import CockpitError, NotFoundError, RolloutFailed
from cockpit.text import sanitize


def perform_rollback(
    backend: DockerBackend,
    container: str,
    *,
    to_tag: str | None = None,
    image: str | None = None,
    journal: Any = None,
    log: rb.Log = print,
    cancel: threading.Event | None = None,
    health_budget: float = 60.0,
    probe_url: str | None = None,
    pull: bool | None = None,
    compose: str = "auto",
    docker_cli: str = "docker",
) -> DockerRollbackOutcome:
    """``compose``: ``auto`` (file + plugin or container fallback), ``container`` (file +
    container-level rollback), ``never`` (leave compose files alone)."""
    journal = journal or rb._NullJournal()
    kw = dict(journal=journal, log=log, cancel=cancel, health_budget=health_budget, probe_url=probe_url, pull=pull)
    if rb.pending_plans(journal.read(), container):
        return rb.rollback(backend, container, to_tag=to_tag, image=image, **kw)
    attrs = backend.inspect(container)
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    project, service, workdir, files = cmp.project_files(labels)
    if compose == "never" or not (project and service):
        return rb.rollback(backend, container, to_tag=to_tag, image=image, **kw)

    backend._guard(f"roll back {sanitize(container)}")
    plan = rb.plan_rollback(backend, container, to_tag=to_tag, image=image, pull=pull, log=log)
    if plan["previous_image_id"] == plan["to_image_id"]:
        return rb.rollback(backend, container, to_tag=to_tag, image=image, **kw)
    path: Path | None = None
    try:
        path = cmp.find_image_file(files, service)
    except NotFoundError as exc:
        log(f"compose project {sanitize(project)}: {exc}; rolling back the container only")
    old_ref = None
    if path is not None:
        with journal_action(journal, "docker.compose_file", path=str(path), service=service,
                            container=plan["container"], to_image=plan["to_image"]) as result:
            log(f"set services.{sanitize(service)}.image to {sanitize(plan['to_image'])} in {sanitize(str(path))}")
            old_ref = cmp.rewrite_file(path, service, plan["to_image"])
            result["previous_image"] = old_ref

    def revert_file() -> None:
        if path is not None and old_ref is not None:
            with journal_action(journal, "docker.compose_file", path=str(path), service=service,
                                container=plan["container"], to_image=old_ref, revert=True):
                log(f"put services.{sanitize(service)}.image back to {sanitize(old_ref)} in {sanitize(str(path))}")
                cmp.rewrite_file(path, service, old_ref)

    use_plugin = compose == "auto" and path is not None and cmp.compose_plugin(docker_cli, backend.host)
    if not use_plugin:
        if compose == "auto":
            log("docker compose plugin not available: rolling back the container itself (labels kept)")
        try:
            return rb.rollback(backend, container, to_tag=to_tag, image=image, **kw)
        except RolloutFailed:
            revert_file()
            raise
    return _via_plugin(backend, plan, project, service, files, workdir, path, old_ref, journal, log, cancel,
                       health_budget, probe_url, docker_cli, revert_file)


def _via_plugin(backend, plan, project, service, files, workdir, path, old_ref, journal, log, cancel,  # noqa: ANN001, ANN202
                health_budget, probe_url, docker_cli, revert_file):
    name = plan["container"]
    pid = journal.intent("docker.compose_up", project=project, service=service, **plan)
    try:
        cmp.compose_up(project, service, files, workdir, host=backend.host, log=log, docker_cli=docker_cli)
        new = backend.inspect(name)
        ok, reason = rb.wait_healthy(backend, new["Id"], budget=health_budget, probe_url=probe_url, cancel=cancel, log=log)
    except CockpitError as exc:
        ok, reason = False, str(exc)
    if ok:
        journal.outcome(pid, True, new_id=new["Id"], message=reason)
        return DockerRollbackOutcome(
            container=name, from_image=plan["previous_image"], from_image_id=plan["previous_image_id"],
            to_image=plan["to_image"], to_image_id=plan["to_image_id"], new_id=new["Id"], via="compose", message=reason,
        )
    log(f"the new {name} failed: {reason}; putting the compose file back and re-applying it")
    revert_file()
    cmp.compose_up(project, service, files, workdir, host=backend.host, log=log, docker_cli=docker_cli)
    journal.outcome(pid, False, restored=True, error=sanitize(reason, max_len=500))
    raise RolloutFailed(f"{name} on {sanitize(plan['to_image'])} did not become healthy: {reason}; "
                        f"the compose service is back on {sanitize(old_ref)}")


class journal_action:  # noqa: N801 — used like the journal's own context manager
    """Intent on enter, outcome on exit (ok, or the error on an Exception); the block can
    put result data in the yielded dict. Works with the null journal too."""

    def __init__(self, journal: Any, action: str, **data: Any) -> None:
        self.journal, self.action, self.data = journal, action, data
        self.result: dict[str, Any] = {}

    def __enter__(self) -> dict[str, Any]:
        self.id = self.journal.intent(self.action, **self.data)
        return self.result

    def __exit__(self, et, exc, tb) -> bool:  # noqa: ANN001
        if et is None:
            self.journal.outcome(self.id, True, **self.result)
        elif issubclass(et, Exception):
            self.journal.outcome(self.id, False, error=sanitize(str(exc), max_len=500))
        return False
