"""The container rollback: one careful, journaled, resumable sequence.

Forward, each stage journaled (fsynced intent before, outcome after) and streamed to the log:

1. ``plan``            intent ``docker.rollback`` with everything resume needs: the
                       container's id, the image it runs (``previous_image``/``_id``: the
                       journal keeps it even after a tag moves), the target, the backup name
                       and the original restart policy.
2. ``disable_restart`` the old container's restart policy -> ``no`` (a daemon restart must
                       not bring the backup back up on the service's port)
3. ``stop``            the old container
4. ``rename``          old -> ``NAME-cockpit-backup-<UTC time>``
5. ``create``          the new container under NAME, configuration preserved (see
                       :mod:`backends.docker.spec`), other networks connected
6. ``start``           only once the old one is verified stopped
7. ``health``          Docker health check and/or an HTTP probe within the budget

If the new one fails, ``restore``: remove the new container, rename the backup back,
restore its restart policy and start it (``remove_new``, ``rename_back``,
``restore_restart``, ``start_old``), then :class:`RolloutFailed`.

Every stage looks at the world before acting, so the same code both runs and resumes: after
a crash, :func:`resume` finds the plan without an outcome in the journal and converges
from wherever the daemon is (a stage whose effect is already there is skipped). The old
and the new container never run at the same time, so they never claim one port together.
"""
from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, NoReturn

from backends.docker.client import DockerBackend, split_reference
from backends.docker.model import DockerRollbackOutcome
from backends.docker.spec import replacement_spec
from cockpit.errors import CockpitError, ConflictError, RolloutFailed
from cockpit.text import sanitize

PLAN = "docker.rollback"
STAGE = "docker.stage"
Log = Callable[[str], None]


class _Unhealthy(CockpitError):
    title = "Unhealthy"


class _NullJournal:
    """Used when no journal is given (tests of pure mechanics); records nothing."""

    def intent(self, action: str, **data: Any) -> str:
        return "-"

    def outcome(self, intent_id: str, ok: bool, **data: Any) -> dict:
        return {}

    def append(self, type: str, /, **data: Any) -> dict:
        return {}

    def read(self) -> list[dict]:
        return []


def _stage(journal: Any, log: Log, plan_id: str, stage: str, text: str, fn: Callable[[], Any], **data: Any) -> Any:
    """One journaled stage. On an Exception the outcome is ``ok=False``; on a crash (a
    BaseException, or the process dying) there is no outcome and resume reconciles."""
    log(text)
    sid = journal.intent(STAGE, plan=plan_id, stage=stage, **data)
    try:
        result = fn()
    except Exception as exc:
        journal.outcome(sid, False, plan=plan_id, stage=stage, error=sanitize(str(exc), max_len=500))
        raise
    journal.outcome(sid, True, plan=plan_id, stage=stage, **({"result": result} if isinstance(result, dict) else {}))
    return result


def backup_name(name: str, backend: DockerBackend, when: datetime | None = None) -> str:
    stamp = (when or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    base = f"{name}-cockpit-backup-{stamp}"
    candidate, n = base, 1
    while backend.find(candidate) is not None:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


# --------------------------------------------------------------------------- journal queries


def pending_plans(records: list[dict], container: str | None = None) -> list[dict]:
    """``docker.rollback`` plan intents without an outcome (oldest first)."""
    done = {r.get("id") for r in records if r.get("type") == "outcome"}
    return [
        r for r in records
        if r.get("type") == "intent" and r.get("action") == PLAN and r.get("id") not in done
        and (container is None or r.get("container") == container)
    ]


def previous_image(records: list[dict], container: str) -> dict | None:
    """What ``container`` ran before the cockpit last changed it (successfully): the
    ``previous_image``/``previous_image_id`` of the last plan whose outcome is ok."""
    ok = {r.get("id") for r in records if r.get("type") == "outcome" and r.get("ok")}
    for r in reversed(records):
        if (r.get("type") == "intent" and r.get("action") in (PLAN, "docker.compose_up")
                and r.get("container") == container and r.get("id") in ok):
            return {"image": r.get("previous_image"), "image_id": r.get("previous_image_id")}
    return None


def _restoring(records: list[dict], plan_id: str) -> bool:
    return any(
        r.get("type") == "intent" and r.get("action") == STAGE and r.get("plan") == plan_id
        and r.get("stage") in ("remove_new", "rename_back", "restore_restart", "start_old")
        for r in records
    )


# --------------------------------------------------------------------------- health


def wait_healthy(
    backend: DockerBackend,
    container: str,
    *,
    budget: float,
    probe_url: str | None = None,
    settle: float = 2.0,
    cancel: threading.Event | None = None,
    log: Log = print,
) -> tuple[bool, str]:
    """Wait until ``container`` is healthy: its Docker health check says ``healthy`` (if it
    has one), ``probe_url`` answers 2xx (if given), or without either it stays running for
    ``settle`` seconds. Returns (ok, reason)."""
    cancel = cancel or threading.Event()
    start = time.monotonic()
    deadline = start + budget
    last_health = None
    probe_ok = probe_url is None
    while True:
        attrs = backend.inspect(container)
        st = attrs.get("State") or {}
        status = st.get("Status", "")
        health = st.get("Health")
        if status in ("exited", "dead") or (status == "restarting" and st.get("RestartCount", 0) > 0):
            return False, f"the new container {status} (exit code {st.get('ExitCode')}){_last_logs(backend, container)}"
        if health is not None and health.get("Status") != last_health:
            last_health = health.get("Status")
            log(f"health: {sanitize(last_health)}")
        if health is not None and health.get("Status") == "unhealthy":
            out = (health.get("Log") or [{}])[-1].get("Output", "")
            return False, f"its health check reports unhealthy ({sanitize(out, max_len=200).strip() or 'no output'})"
        if not probe_ok and status == "running":
            probe_ok = _probe(probe_url)
            if probe_ok:
                log(f"probe {sanitize(probe_url)}: ok")
        health_ok = health is None or health.get("Status") == "healthy"
        settled = health is not None or probe_url is not None or time.monotonic() - start >= min(settle, budget)
        if status == "running" and health_ok and probe_ok and settled:
            return True, "healthy" if health is not None else ("probe ok" if probe_url else "running")
        if time.monotonic() >= deadline:
            what = f"health {last_health}" if health is not None else f"status {status}"
            if not probe_ok:
                what += f", probe {sanitize(probe_url)} failing"
            return False, f"not healthy within {budget:g}s ({what})"
        if cancel.wait(0.25):
            return False, "cancelled by the operator"


def _probe(url: str | None) -> bool:
    try:
        req = urllib.request.Request(url or "", headers={"User-Agent": "rollback-cockpit"})
        with urllib.request.urlopen(req, timeout=2) as r:
            return 200 <= r.status < 300
    except (OSError, ValueError):
        return False


def _last_logs(backend: DockerBackend, container: str) -> str:
    try:
        lines = list(backend.logs(container, tail=3))
    except CockpitError:
        return ""
    return (": " + " | ".join(lines)) if lines else ""


# --------------------------------------------------------------------------- the sequence


def plan_rollback(
    backend: DockerBackend,
    container: str,
    *,
    to_tag: str | None = None,
    image: str | None = None,
    pull: bool | None = None,
    log: Log = print,
) -> dict[str, Any]:
    """Everything the sequence needs, resolved and checked (reads only)."""
    attrs = backend.inspect(container)
    name = attrs["Name"].lstrip("/")
    if image is None:
        if not to_tag:
            raise CockpitError("give a tag (--to-tag) or an image to roll back to", title="Usage")
        repo = backend.repository_of(attrs)
        ref, image_id = backend.resolve_tag(repo, to_tag, pull=pull, log=log)
    else:
        repo, tag = split_reference(image)
        ref, image_id = backend.resolve_tag(repo, tag, pull=pull, log=log)
    policy = (attrs.get("HostConfig") or {}).get("RestartPolicy") or {"Name": "no"}
    return {
        "container": name,
        "container_id": attrs["Id"],
        "previous_image": (attrs.get("Config") or {}).get("Image", ""),
        "previous_image_id": attrs.get("Image", ""),
        "to_image": ref,
        "to_image_id": image_id,
        "restart_policy": {"Name": policy.get("Name") or "no", "MaximumRetryCount": policy.get("MaximumRetryCount", 0)},
    }


def rollback(
    backend: DockerBackend,
    container: str,
    *,
    to_tag: str | None = None,
    image: str | None = None,
    journal: Any = None,
    log: Log = print,
    cancel: threading.Event | None = None,
    health_budget: float = 60.0,
    probe_url: str | None = None,
    pull: bool | None = None,
    stop_timeout: int | None = None,
) -> DockerRollbackOutcome:
    """Roll ``container`` back to ``to_tag`` of its repository (or ``image``), or resume a
    rollback of it that a crash interrupted (a pending plan in ``journal``)."""
    journal = journal or _NullJournal()
    pending = pending_plans(journal.read(), container)
    if pending:
        plan = pending[-1]
        if (to_tag or image) and not _same_target(plan, to_tag, image):
            raise ConflictError(
                f"an interrupted rollback of {sanitize(container)} to {sanitize(plan['to_image'])} is pending in this "
                f"journal; finish it first (rerun with --to-tag {sanitize(split_reference(plan['to_image'])[1])})"
            )
        return resume(backend, plan, journal=journal, log=log, cancel=cancel)
    backend._guard(f"roll back {sanitize(container)}")
    data = plan_rollback(backend, container, to_tag=to_tag, image=image, pull=pull, log=log)
    if data["previous_image_id"] == data["to_image_id"]:
        log(f"{data['container']} already runs {sanitize(data['to_image'])} ({data['to_image_id'][7:19]}); nothing to do")
        return DockerRollbackOutcome(
            container=data["container"], from_image=data["previous_image"], from_image_id=data["previous_image_id"],
            to_image=data["to_image"], to_image_id=data["to_image_id"], new_id=data["container_id"],
            message="already running that image",
        )
    data["backup"] = backup_name(data["container"], backend)
    data["health_budget"] = health_budget
    data["probe_url"] = probe_url
    data["stop_timeout"] = stop_timeout
    log(
        f"rolling back {data['container']} from {sanitize(data['previous_image'])} ({data['previous_image_id'][7:19]}) "
        f"to {sanitize(data['to_image'])} ({data['to_image_id'][7:19]}); the old container is kept as {data['backup']}"
    )
    plan_id = journal.intent(PLAN, **data)
    plan = {"id": plan_id, **data}
    return _converge(backend, plan, journal=journal, log=log, cancel=cancel, resumed=False)


def _same_target(plan: dict, to_tag: str | None, image: str | None) -> bool:
    if image:
        return image == plan["to_image"]
    return split_reference(plan["to_image"])[1] == to_tag


def resume(
    backend: DockerBackend, plan: dict, *, journal: Any, log: Log = print, cancel: threading.Event | None = None
) -> DockerRollbackOutcome:
    """Finish an interrupted plan (a ``docker.rollback`` intent record without outcome)."""
    backend._guard(f"resume the rollback of {sanitize(plan['container'])}")
    log(f"resuming the interrupted rollback of {plan['container']} to {sanitize(plan['to_image'])}")
    if _restoring(journal.read(), plan["id"]):
        _restore_and_fail(backend, plan, journal, log, "the restore was interrupted", resumed=True)
    return _converge(backend, plan, journal=journal, log=log, cancel=cancel, resumed=True)


def _outcome(plan: dict, **kw: Any) -> DockerRollbackOutcome:
    return DockerRollbackOutcome(
        container=plan["container"], from_image=plan["previous_image"], from_image_id=plan["previous_image_id"],
        to_image=plan["to_image"], to_image_id=plan["to_image_id"], backup=plan["backup"], **kw,
    )


def _converge(
    backend: DockerBackend, plan: dict, *, journal: Any, log: Log, cancel: threading.Event | None, resumed: bool
) -> DockerRollbackOutcome:
    pid, name, old_id, backup = plan["id"], plan["container"], plan["container_id"], plan["backup"]
    old = backend.find(old_id)
    current = backend.find(name)
    new = current if current is not None and current["Id"] != old_id else None
    if old is None and new is None:
        journal.outcome(pid, False, error="both the old and the new container are gone")
        raise ConflictError(f"{name}: the old container {old_id[:12]} and its replacement are both gone; nothing to resume")
    try:
        if old is not None and new is None:
            if ((old.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") not in ("", "no"):
                _stage(journal, log, pid, "disable_restart", f"disable the restart policy of {name} (kept in the journal)",
                       lambda: backend.set_restart_policy(old_id, {"Name": "no", "MaximumRetryCount": 0}))
            if (old.get("State") or {}).get("Running"):
                _stage(journal, log, pid, "stop", f"stop {name} ({old_id[:12]})",
                       lambda: backend.stop(old_id, timeout=plan.get("stop_timeout")))
            if old["Name"].lstrip("/") != backup:
                _stage(journal, log, pid, "rename", f"rename {name} to {backup}", lambda: backend.rename(old_id, backup))
        if new is None:
            old = backend.inspect(old_id)
            new_id = _stage(journal, log, pid, "create", f"create {name} on {sanitize(plan['to_image'])}",
                            lambda: {"id": _create(backend, old, plan)})["id"]
            new = backend.inspect(new_id)
        new_id = new["Id"]
        _connect_missing(backend, new, old, plan, journal, log)
        if not (new.get("State") or {}).get("Running"):
            if old is not None and (backend.inspect(old_id).get("State") or {}).get("Running"):
                # never two on one port: the old one must be down first
                _stage(journal, log, pid, "stop", f"stop {backup} ({old_id[:12]}) before starting the new one",
                       lambda: backend.stop(old_id, timeout=plan.get("stop_timeout")))
            _stage(journal, log, pid, "start", f"start {name} ({new_id[:12]})", lambda: backend.start(new_id))
        budget = float(plan.get("health_budget") or 60.0)

        def health() -> dict:
            ok, why = wait_healthy(backend, new_id, budget=budget, probe_url=plan.get("probe_url"), cancel=cancel, log=log)
            if not ok:
                raise _Unhealthy(why)
            return {"reason": why}

        reason = _stage(journal, log, pid, "health", f"wait up to {budget:g}s for {name} to become healthy", health)["reason"]
    except CockpitError as exc:
        _restore_and_fail(backend, plan, journal, log, str(exc), resumed=resumed)
    log(f"{name} runs {sanitize(plan['to_image'])} and is {reason}; the old container stays stopped as {backup}")
    result = _outcome(plan, new_id=new_id, resumed=resumed, message=reason)
    journal.outcome(pid, True, new_id=new_id, backup=backup, resumed=resumed, message=reason)
    return result


def _create(backend: DockerBackend, old: dict, plan: dict) -> str:
    old_image = backend.image(old.get("Image", ""))
    spec = replacement_spec(old, (old_image or {}).get("Config"), plan["to_image"], plan["to_image_id"])
    spec.body.setdefault("HostConfig", {})["RestartPolicy"] = plan["restart_policy"]
    new_id = backend.create(spec.body, plan["container"])
    for net, endpoint in spec.extra_networks:
        backend.connect(new_id, net, endpoint)
    return new_id


def _connect_missing(backend: DockerBackend, new: dict, old: dict | None, plan: dict, journal: Any, log: Log) -> None:
    """After a crash between create and connect: connect the networks still missing."""
    if old is None:
        return
    spec = replacement_spec(old, None, plan["to_image"])
    have = set(((new.get("NetworkSettings") or {}).get("Networks") or {}))
    for net, endpoint in spec.extra_networks:
        if net not in have:
            _stage(journal, log, plan["id"], "connect", f"connect {plan['container']} to {sanitize(net)}",
                   lambda net=net, endpoint=endpoint: backend.connect(new["Id"], net, endpoint))


def _restore_and_fail(
    backend: DockerBackend, plan: dict, journal: Any, log: Log, reason: str, *, resumed: bool
) -> NoReturn:
    pid, name, old_id, backup = plan["id"], plan["container"], plan["container_id"], plan["backup"]
    log(f"the new {name} failed: {reason}; restoring the old container")
    try:
        current = backend.find(name)
        if current is not None and current["Id"] != old_id:
            _stage(journal, log, pid, "remove_new", f"remove the failed {name} ({current['Id'][:12]})",
                   lambda: backend.remove(current["Id"], force=True))
        old = backend.inspect(old_id)
        if old["Name"].lstrip("/") != name:
            _stage(journal, log, pid, "rename_back", f"rename {backup} back to {name}", lambda: backend.rename(old_id, name))
        policy = plan["restart_policy"]
        if policy.get("Name") not in ("", "no") and ((old.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") != policy["Name"]:
            _stage(journal, log, pid, "restore_restart", f"restore the restart policy {policy['Name']} of {name}",
                   lambda: backend.set_restart_policy(old_id, policy))
        if not (old.get("State") or {}).get("Running"):
            _stage(journal, log, pid, "start_old", f"start the old {name} ({old_id[:12]})", lambda: backend.start(old_id))
    except CockpitError as exc:
        journal.outcome(pid, False, restored=False, error=sanitize(reason, max_len=500), restore_error=str(exc))
        raise RolloutFailed(
            f"rollback of {name} failed ({reason}) AND restoring the old container failed: {exc}",
            hint=f"the old container is {old_id[:12]} (maybe named {backup}); start it by hand",
        ) from None
    journal.outcome(pid, False, restored=True, resumed=resumed, error=sanitize(reason, max_len=500))
    raise RolloutFailed(
        f"{name} on {sanitize(plan['to_image'])} did not become healthy: {reason}; "
        f"the old container is back on {sanitize(plan['previous_image'])}",
    )
