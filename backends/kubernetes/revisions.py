"""Pure functions over Deployment / ReplicaSet / Pod JSON: kubectl's rollout semantics.

These mirror what ``kubectl rollout history|undo|status`` compute client-side, so that a
rollback by the cockpit is indistinguishable from ``kubectl rollout undo``:

* the ReplicaSets of a deployment are those in its namespace whose controller owner
  reference points at the deployment's UID;
* a revision is the ``deployment.kubernetes.io/revision`` annotation of a ReplicaSet;
* ``to_revision=0`` means the *second highest* revision number (not "the one before the
  live one");
* a rollback is skipped when the chosen template already equals the deployment's template
  ignoring the ``pod-template-hash`` label, refused on a paused deployment, and otherwise is
  one JSON patch replacing ``/spec/template`` (hash label removed) and
  ``/metadata/annotations`` (the ReplicaSet's annotations, minus the controller's own
  bookkeeping, plus the deployment's values of those);
* rollout status follows kubectl's ``DeploymentStatusViewer``.
"""
from __future__ import annotations

import copy
import difflib
from datetime import datetime
from typing import Any

from cockpit.errors import ConflictError, NotFoundError
from cockpit.model import EventInfo, PodInfo, Revision, RolloutProgress
from cockpit.text import sanitize

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
DEPRECATED_ROLLBACK_TO = "deprecated.deployment.rollback.to"
HASH_LABEL = "pod-template-hash"
COCKPIT_ROLLBACK = "cockpit.io/last-rollback"
"""Where the cockpit notes its last rollback of a deployment (JSON: by, at, from/to revision and
template hash), so a retry without the journal notices it (see :func:`last_rollback`)."""
TIMED_OUT = "ProgressDeadlineExceeded"

# Annotations that belong to the deployment controller, not to a revision (kubectl's list).
SKIPPED_ANNOTATIONS = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, DEPRECATED_ROLLBACK_TO})


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def revision_of(rs: dict[str, Any]) -> int | None:
    value = (_meta(rs).get("annotations") or {}).get(REVISION)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def owned_replicasets(deployment: dict[str, Any], replicasets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ReplicaSets whose controller is this deployment (kubectl's GetAllReplicaSets)."""
    uid = _meta(deployment).get("uid")
    owned = []
    for rs in replicasets:
        for ref in _meta(rs).get("ownerReferences") or []:
            if ref.get("controller") and ref.get("uid") == uid:
                owned.append(rs)
                break
    return owned


def _without_hash(template: dict[str, Any]) -> dict[str, Any]:
    t = copy.deepcopy(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return t


def equal_ignore_hash(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return _without_hash(a) == _without_hash(b)


def live_replicaset(deployment: dict[str, Any], owned: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ReplicaSet running the deployment's template (oldest first, as the controller picks)."""
    template = (deployment.get("spec") or {}).get("template") or {}
    candidates = [rs for rs in owned if equal_ignore_hash((rs.get("spec") or {}).get("template") or {}, template)]
    candidates.sort(key=lambda rs: (_meta(rs).get("creationTimestamp") or "", _meta(rs).get("name") or ""))
    return candidates[0] if candidates else None


def images_of(template: dict[str, Any]) -> tuple[str, ...]:
    containers = ((template or {}).get("spec") or {}).get("containers") or []
    return tuple(sanitize(c.get("image", ""), max_len=300) for c in containers)


def history(deployment: dict[str, Any], replicasets: list[dict[str, Any]]) -> list[Revision]:
    """Revisions of the deployment, oldest first, the live one marked."""
    owned = owned_replicasets(deployment, replicasets)
    live = live_replicaset(deployment, owned)
    live_name = _meta(live).get("name") if live else None
    revisions = []
    for rs in owned:
        number = revision_of(rs)
        if number is None:
            continue
        meta = _meta(rs)
        template = (rs.get("spec") or {}).get("template") or {}
        revisions.append(
            Revision(
                number=number,
                images=images_of(template),
                change_cause=sanitize((meta.get("annotations") or {}).get(CHANGE_CAUSE, ""), max_len=500),
                created=parse_time(meta.get("creationTimestamp")),
                replicaset=sanitize(meta.get("name", ""), max_len=253),
                template_hash=sanitize((meta.get("labels") or {}).get(HASH_LABEL, ""), max_len=64),
                live=meta.get("name") == live_name,
            )
        )
    revisions.sort(key=lambda r: r.number)
    return revisions


def replicaset_for_revision(deployment: dict[str, Any], replicasets: list[dict[str, Any]], to_revision: int) -> dict[str, Any]:
    """kubectl's deploymentRevision: exact match, or for 0 the second-highest revision."""
    name = sanitize(_meta(deployment).get("name", ""))
    if to_revision < 0:
        raise NotFoundError(f"revision {to_revision} is not a revision number")
    owned = owned_replicasets(deployment, replicasets)
    numbered = sorted(((revision_of(rs), rs) for rs in owned if revision_of(rs) is not None), key=lambda p: p[0])
    if to_revision > 0:
        for number, rs in numbered:
            if number == to_revision:
                return rs
        existing = ", ".join(str(n) for n, _ in numbered) or "none"
        raise NotFoundError(
            f"deployment {name} has no revision {to_revision}; revisions that exist: {existing}",
            hint="see `cockpit history`",
        )
    if len(numbered) < 2:
        raise NotFoundError(f"no rollout history found for deployment {name}: there is no previous revision to roll back to")
    return numbered[-2][1]


def rollback_patch(deployment: dict[str, Any], rs: dict[str, Any],
                   note: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The JSON patch kubectl sends for ``rollout undo`` (plus, with ``note``, the cockpit's
    :data:`COCKPIT_ROLLBACK` annotation). Raises on a paused deployment."""
    if (deployment.get("spec") or {}).get("paused"):
        raise ConflictError(
            f"deployment {sanitize(_meta(deployment).get('name'))} is paused; you cannot roll back a paused deployment",
            title="Paused",
            hint="resume it first (cockpit: the resume action; kubectl rollout resume) and try again",
        )
    template = _without_hash((rs.get("spec") or {}).get("template") or {})
    current = _meta(deployment).get("annotations") or {}
    annotations = {k: v for k, v in current.items() if k in SKIPPED_ANNOTATIONS}
    annotations.update({k: v for k, v in (_meta(rs).get("annotations") or {}).items() if k not in SKIPPED_ANNOTATIONS})
    if note is not None:
        import json

        annotations[COCKPIT_ROLLBACK] = json.dumps(note, sort_keys=True, separators=(",", ":"))
    return [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]


def template_hash(rs: dict[str, Any] | None) -> str:
    """A ReplicaSet's ``pod-template-hash`` label ("" when missing)."""
    return str(((rs or {}).get("metadata", {}).get("labels") or {}).get(HASH_LABEL, ""))


def last_rollback(deployment: dict[str, Any]) -> dict[str, Any] | None:
    """The cockpit's note of its last rollback of this deployment, or None (absent or garbled).

    Values come from the cluster: text is sanitized, numbers must be numbers."""
    import json

    raw = (_meta(deployment).get("annotations") or {}).get(COCKPIT_ROLLBACK)
    if not isinstance(raw, str):
        return None
    try:
        note = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(note, dict):
        return None
    out: dict[str, Any] = {}
    for key in ("by", "at", "from_template_hash", "to_template_hash", "incident"):
        if isinstance(note.get(key), str):
            out[key] = sanitize(note[key], max_len=200)
    for key in ("from_revision", "to_revision"):
        if isinstance(note.get(key), int) and not isinstance(note.get(key), bool):
            out[key] = note[key]
    if isinstance(note.get("from_images"), list):
        out["from_images"] = [sanitize(str(i), max_len=300) for i in note["from_images"][:20]]
    return out


def _dump(template: dict[str, Any]) -> list[str]:
    import yaml  # imported here: only diffs need it

    text = yaml.safe_dump(_without_hash(template), sort_keys=True, default_flow_style=False, width=120)
    return [sanitize(line, max_len=500) for line in text.splitlines()]


def template_diff(old: dict[str, Any], new: dict[str, Any], old_label: str, new_label: str) -> tuple[str, ...]:
    """Unified diff of two pod templates (hash label ignored), as plain lines."""
    return tuple(
        line.rstrip("\n")
        for line in difflib.unified_diff(_dump(old), _dump(new), fromfile=old_label, tofile=new_label, lineterm="", n=3)
    )


def judge_progress(deployment: dict[str, Any]) -> RolloutProgress:
    """One observation, judged exactly as ``kubectl rollout status`` judges it."""
    meta, spec, status = _meta(deployment), deployment.get("spec") or {}, deployment.get("status") or {}
    name = sanitize(meta.get("name", ""))
    desired = spec.get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    total = status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    ready = status.get("readyReplicas", 0)
    base = dict(desired=desired, updated=updated, ready=ready, available=available, total=total)
    if meta.get("generation", 0) > status.get("observedGeneration", 0):
        return RolloutProgress(observed=False, message="Waiting for deployment spec update to be observed...", **base)
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == TIMED_OUT:
            return RolloutProgress(observed=True, failed=True, message=f'deployment "{name}" exceeded its progress deadline', **base)
    if updated < desired:
        msg = f'Waiting for deployment "{name}" rollout to finish: {updated} out of {desired} new replicas have been updated...'
    elif total > updated:
        msg = f'Waiting for deployment "{name}" rollout to finish: {total - updated} old replicas are pending termination...'
    elif available < updated:
        msg = f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated replicas are available...'
    else:
        return RolloutProgress(observed=True, complete=True, message=f'deployment "{name}" successfully rolled out', **base)
    return RolloutProgress(observed=True, message=msg, **base)


def pod_info(pod: dict[str, Any]) -> PodInfo:
    meta, spec, status = _meta(pod), pod.get("spec") or {}, pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    reason = ""
    last_restart = None
    for cs in statuses:
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
        terminated = (cs.get("lastState") or {}).get("terminated") or {}
        finished = parse_time(terminated.get("finishedAt"))
        if finished and (last_restart is None or finished > last_restart):
            last_restart = finished
    containers = spec.get("containers") or []
    return PodInfo(
        name=sanitize(meta.get("name", ""), max_len=253),
        phase=sanitize(reason or status.get("phase", "Unknown"), max_len=64),
        ready=ready,
        restarts=sum(int(cs.get("restartCount", 0)) for cs in statuses),
        reason=sanitize(reason, max_len=64),
        image=sanitize(containers[0].get("image", "") if containers else "", max_len=300),
        node=sanitize(spec.get("nodeName", ""), max_len=253),
        created=parse_time(meta.get("creationTimestamp")),
        last_restart=last_restart,
    )


def event_info(ev: dict[str, Any]) -> EventInfo:
    obj = ev.get("involvedObject") or {}
    last = ev.get("lastTimestamp") or ev.get("eventTime") or _meta(ev).get("creationTimestamp")
    return EventInfo(
        type=sanitize(ev.get("type", ""), max_len=32),
        reason=sanitize(ev.get("reason", ""), max_len=128),
        object=sanitize(f"{(obj.get('kind') or '').lower()}/{obj.get('name', '')}", max_len=300),
        message=sanitize(ev.get("message", ""), max_len=1000),
        count=int(ev.get("count") or 1),
        last_seen=parse_time(last),
    )


def _pod_of(name: str, replicaset_names: set[str]) -> bool:
    """``name`` is a pod a ReplicaSet of these would create (``<rs>-<suffix>``, no further dash)."""
    return any(name.startswith(rs + "-") and name[len(rs) + 1:] and "-" not in name[len(rs) + 1:]
               for rs in replicaset_names)


def related_events(deployment: dict[str, Any], replicasets: list[dict[str, Any]], pods: list[dict[str, Any]],
                   events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events about this deployment, the ReplicaSets it controls and their pods.

    Matched by involved object — its uid, else its kind and exact name — never by a name
    prefix: the events of ``hg04`` and its pods are not those of ``hg0``. A pod gone since
    (replaced during a rollout) still counts when its name is one a ReplicaSet of this
    deployment gives its pods (``<replicaset>-<suffix>``); an event of an earlier deployment
    with the same name (another uid) does not.
    """
    meta = _meta(deployment)
    ns = meta.get("namespace")
    owned = owned_replicasets(deployment, replicasets)
    rs_uids = {_meta(rs).get("uid") for rs in owned} - {None, ""}
    rs_names = {_meta(rs).get("name") or "" for rs in owned} - {""}
    mine = [p for p in pods
            if any(ref.get("controller") and ref.get("uid") in rs_uids for ref in _meta(p).get("ownerReferences") or [])]
    uids = ({meta.get("uid")} | rs_uids | {_meta(p).get("uid") for p in mine}) - {None, ""}
    names = {("Deployment", meta.get("name"))} | {("ReplicaSet", n) for n in rs_names} | {
        ("Pod", _meta(p).get("name")) for p in mine}

    def about_us(event: dict[str, Any]) -> bool:
        obj = event.get("involvedObject") or {}
        if obj.get("namespace") not in (None, "", ns):
            return False
        kind, name, uid = obj.get("kind"), obj.get("name") or "", obj.get("uid")
        if uid and uid in uids:
            return True
        if kind == "Pod" and _pod_of(name, rs_names):
            return True
        return not uid and (kind, name) in names

    return [e for e in events if about_us(e)]
