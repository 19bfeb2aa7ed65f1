"""The Kubernetes backend: :class:`cockpit.ports.RolloutBackend` and its capabilities.

All semantics live in :mod:`backends.kubernetes.revisions` (pure); this class fetches, calls
them, and sends writes. Readonly is enforced twice below the UI: each mutating method refuses
up front with a clear message, and the transport refuses any non-GET request regardless.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from cockpit.errors import CockpitError, ConfigError, NotFoundError, ReadonlyError, RolloutFailed, UnreachableError
from cockpit.model import (
    DeploymentInfo,
    EventInfo,
    PodInfo,
    Revision,
    RollbackOutcome,
    RollbackResult,
    RolloutProgress,
    Target,
    TemplateDiff,
)
from cockpit.text import sanitize

from backends.kubernetes import revisions as rv
from backends.kubernetes.kubeconfig import Connection, load
from backends.kubernetes.transport import Transport, make_transport

LOST_AFTER = 30.0
"""While following a rollout: seconds without an answer from the API before giving up."""
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


@dataclass(frozen=True)
class RollbackPlan:
    """What a rollback will do, resolved once: shown to the operator, then executed."""

    deployment: dict[str, Any]
    replicaset: dict[str, Any]
    history: list[Revision]
    to_revision: int
    images: tuple[str, ...]

    @property
    def live(self) -> Revision | None:
        return next((r for r in self.history if r.live), None)

    @property
    def template_hash(self) -> str:
        """The chosen revision's pod-template hash (what a resume compares the live one with)."""
        return rv.template_hash(self.replicaset)

    @property
    def skipped(self) -> bool:
        """The chosen template already runs: the rollback would be skipped (kubectl's rule)."""
        return rv.equal_ignore_hash(self.replicaset["spec"]["template"], self.deployment["spec"]["template"])

    @property
    def last_rollback(self) -> dict[str, Any] | None:
        """The cockpit's note of its last rollback of this deployment (see ``rv.last_rollback``)."""
        return rv.last_rollback(self.deployment)


def _selector(match_labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))


class KubeBackend:
    """One cluster context. Thread-safe: the transport keeps one connection per thread."""

    def __init__(self, transport: Transport, *, namespace: str = "default", context: str = "",
                 shared_events_s: float = 0.0) -> None:
        self.t = transport
        self.namespace = namespace
        self.context = context
        self.readonly = transport.readonly
        self.shared_events_s = shared_events_s
        """Reuse a namespace's event list read less than this many seconds ago (0: never).
        A fleet sets it: each target's evidence reads the namespace's events, and fifty
        targets in one namespace would otherwise read the same (large) list fifty times."""
        self._events: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._events_locks: dict[str, threading.Lock] = {}
        self._events_mutex = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------
    def _deploy_path(self, target: Target, sub: str = "") -> str:
        return f"/apis/apps/v1/namespaces/{quote(target.namespace)}/deployments/{quote(target.name)}{sub}"

    def _refuse(self, action: str, target: Any) -> None:
        if self.readonly:
            raise ReadonlyError(f"{action} {target} refused: this cockpit is readonly (nothing was sent)")

    def get_deployment(self, target: Target) -> dict[str, Any]:
        try:
            return self.t.request("GET", self._deploy_path(target))
        except NotFoundError:
            raise NotFoundError(
                f"deployment {target.name} not found in namespace {target.namespace}",
                hint="list them with `kubectl get deploy -A` or pick another -n/--namespace",
            ) from None

    def replicasets(self, deployment: dict[str, Any]) -> list[dict[str, Any]]:
        ns = deployment["metadata"]["namespace"]
        labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        doc = self.t.request("GET", f"/apis/apps/v1/namespaces/{quote(ns)}/replicasets",
                             {"labelSelector": _selector(labels)})
        return doc.get("items") or []

    # -- read side ----------------------------------------------------------------------
    def list_deployments(self, namespace: str | None = None, selector: str | None = None) -> list[DeploymentInfo]:
        """Deployments in ``namespace`` (every namespace when None), those matching the label
        ``selector`` (``app=web,tier!=db``, as ``kubectl -l``) when one is given."""
        path = f"/apis/apps/v1/namespaces/{quote(namespace)}/deployments" if namespace else "/apis/apps/v1/deployments"
        items = self.t.request("GET", path, {"labelSelector": selector} if selector else None).get("items") or []
        out = []
        for d in items:
            meta, spec, st = d.get("metadata") or {}, d.get("spec") or {}, d.get("status") or {}
            out.append(DeploymentInfo(
                name=sanitize(meta.get("name", ""), max_len=253),
                namespace=sanitize(meta.get("namespace", ""), max_len=253),
                replicas=spec.get("replicas", 1), updated=st.get("updatedReplicas", 0),
                ready=st.get("readyReplicas", 0), available=st.get("availableReplicas", 0),
                revision=int((meta.get("annotations") or {}).get(rv.REVISION, 0) or 0),
                images=rv.images_of(spec.get("template") or {}),
                paused=bool(spec.get("paused")),
            ))
        return sorted(out, key=lambda i: (i.namespace, i.name))

    def deployment(self, target: Target) -> DeploymentInfo:
        d = self.get_deployment(target)
        meta, spec, st = d["metadata"], d.get("spec") or {}, d.get("status") or {}
        return DeploymentInfo(
            name=sanitize(meta["name"]), namespace=sanitize(meta["namespace"]),
            replicas=spec.get("replicas", 1), updated=st.get("updatedReplicas", 0),
            ready=st.get("readyReplicas", 0), available=st.get("availableReplicas", 0),
            revision=int((meta.get("annotations") or {}).get(rv.REVISION, 0) or 0),
            images=rv.images_of(spec.get("template") or {}), paused=bool(spec.get("paused")),
        )

    def history(self, target: Target) -> list[Revision]:
        d = self.get_deployment(target)
        return rv.history(d, self.replicasets(d))

    def rollback_note(self, target: Target) -> dict[str, Any] | None:
        """The cockpit's note of its last rollback of ``target`` (``cockpit.io/last-rollback``), or None."""
        return rv.last_rollback(self.get_deployment(target))

    def diff(self, target: Target, revision: int, against: int | None = None) -> TemplateDiff:
        d = self.get_deployment(target)
        rss = self.replicasets(d)
        chosen = rv.replicaset_for_revision(d, rss, revision)["spec"]["template"]
        if against is None:
            base, base_label = d["spec"]["template"], "live"
        else:
            base, base_label = rv.replicaset_for_revision(d, rss, against)["spec"]["template"], f"revision {against}"
        lines = rv.template_diff(base, chosen, base_label, f"revision {revision}")
        return TemplateDiff(left=base_label, right=f"revision {revision}", lines=lines)

    def template(self, target: Target, revision: int) -> dict[str, Any]:
        d = self.get_deployment(target)
        return rv.replicaset_for_revision(d, self.replicasets(d), revision)["spec"]["template"]

    def progress(self, target: Target) -> RolloutProgress:
        return rv.judge_progress(self.get_deployment(target))

    def watch_progress(self, target: Target, *, cancel: threading.Event | None = None,
                       timeout: float = 600.0, lost_after: float = LOST_AFTER) -> Iterator[RolloutProgress]:
        """Yield each change of the rollout's progress until it completes or fails.

        Uses a watch on the deployment (as ``kubectl rollout status``); if the watch breaks
        — an error, a reset, a stream gone silent — it re-reads the deployment and watches
        again. A read that fails (after the transport's own retries) is tried again each
        second until the API has not answered for ``lost_after`` seconds: then
        UnreachableError ("lost contact"). Stops on completion, failure (deadline exceeded),
        ``cancel`` or ``timeout`` (RolloutFailed).
        """
        cancel = cancel or threading.Event()
        deadline = time.monotonic() + timeout
        last: RolloutProgress | None = None
        path = f"/apis/apps/v1/namespaces/{quote(target.namespace)}/deployments"
        answered = time.monotonic()
        while not cancel.is_set():
            try:
                d = self.get_deployment(target)
            except UnreachableError as exc:
                now = time.monotonic()
                if now - answered >= lost_after or now >= deadline:
                    raise UnreachableError(
                        f"lost contact with the Kubernetes API while following the rollout of {target} "
                        f"(no answer for {now - answered:.0f}s): {exc.message}",
                        title=exc.title, hint=f"follow it with `cockpit status {target.name} -n {target.namespace} "
                                              "--wait` once the API answers") from None
                if cancel.wait(min(1.0, max(0.0, deadline - now))):
                    return
                continue
            answered = time.monotonic()
            p = rv.judge_progress(d)
            if p != last:
                last = p
                yield p
            if p.complete or p.failed:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RolloutFailed(f"rollout of {target} did not complete within {timeout:.0f}s: {p.message}")
            query = {"watch": "1", "fieldSelector": f"metadata.name={target.name}",
                     "resourceVersion": d["metadata"].get("resourceVersion"),
                     "timeoutSeconds": str(max(1, min(5, int(remaining))))}
            try:
                for ev in self.t.stream(path, query, timeout=max(1.0, min(5.0, remaining))):
                    if cancel.is_set():
                        return
                    if ev.get("type") == "DELETED":
                        raise NotFoundError(f"deployment {target} was deleted during the rollout")
                    obj = ev.get("object") or {}
                    if ev.get("type") == "ERROR" or obj.get("kind") != "Deployment":
                        break  # e.g. 410 Gone: re-list
                    p = rv.judge_progress(obj)
                    if p != last:
                        last = p
                        yield p
                    if p.complete or p.failed:
                        return
                    if time.monotonic() > deadline:
                        break
            except (NotFoundError, ReadonlyError):
                raise
            except CockpitError:
                if cancel.wait(0.5):
                    return

    def pods(self, target: Target) -> list[PodInfo]:
        d = self.get_deployment(target)
        labels = (d["spec"].get("selector") or {}).get("matchLabels") or {}
        doc = self.t.request("GET", f"/api/v1/namespaces/{quote(target.namespace)}/pods",
                             {"labelSelector": _selector(labels)})
        return sorted((rv.pod_info(p) for p in doc.get("items") or []), key=lambda p: p.name)

    def events(self, target: Target, limit: int = 50) -> list[EventInfo]:
        """The events of the deployment, its ReplicaSets and their pods (by involved object,
        :func:`rv.related_events`), oldest first, the last ``limit``."""
        d = self.get_deployment(target)
        labels = (d["spec"].get("selector") or {}).get("matchLabels") or {}
        pods = self.t.request("GET", f"/api/v1/namespaces/{quote(target.namespace)}/pods",
                              {"labelSelector": _selector(labels)}).get("items") or []
        related = rv.related_events(d, self.replicasets(d), pods, self._namespace_events(target.namespace))
        infos = [rv.event_info(e) for e in related]
        infos.sort(key=lambda e: e.last_seen.timestamp() if e.last_seen else 0.0)
        return infos[-limit:]

    def _namespace_events(self, namespace: str) -> list[dict[str, Any]]:
        """The namespace's events: read now, or (``shared_events_s``) one read that recent,
        by this thread or another waiting on it — never two reads of one namespace at once."""
        path = f"/api/v1/namespaces/{quote(namespace)}/events"
        if self.shared_events_s <= 0:
            return self.t.request("GET", path).get("items") or []
        with self._events_mutex:
            lock = self._events_locks.setdefault(namespace, threading.Lock())
        with lock:
            hit = self._events.get(namespace)
            if hit is not None and time.monotonic() - hit[0] < self.shared_events_s:
                return hit[1]
            read_at = time.monotonic()
            items = self.t.request("GET", path).get("items") or []
            self._events[namespace] = (read_at, items)
            return items

    # -- write side (every one refused in readonly before anything is sent) --------------
    def plan_rollback(self, target: Target, to_revision: int = 0) -> RollbackPlan:
        """Resolve what a rollback would do (one GET of the deployment, one list of its ReplicaSets)."""
        d = self.get_deployment(target)
        rss = self.replicasets(d)
        rs = rv.replicaset_for_revision(d, rss, to_revision)
        return RollbackPlan(deployment=d, replicaset=rs, history=rv.history(d, rss),
                            to_revision=rv.revision_of(rs) or 0, images=rv.images_of(rs["spec"]["template"]))

    def rollback(self, target: Target, to_revision: int = 0, *, plan: RollbackPlan | None = None,
                 note: dict[str, Any] | None = None, only_if_template: dict[str, Any] | None = None) -> RollbackOutcome:
        """``kubectl rollout undo [--to-revision=N]``, exactly (``plan`` saves re-fetching);
        ``note`` is written in the same patch as the :data:`rv.COCKPIT_ROLLBACK` annotation.

        ``only_if_template``: the patch starts with a JSON-patch ``test`` that the live pod
        template is still this one (as read back after a lost answer), so a PATCH sent again
        can never apply on top of one that took effect late: the server refuses it instead."""
        self._refuse("rollback of", target)
        plan = plan or self.plan_rollback(target, to_revision)
        d, rs = plan.deployment, plan.replicaset
        current = int((d["metadata"].get("annotations") or {}).get(rv.REVISION, 0) or 0)
        if rv.equal_ignore_hash(rs["spec"]["template"], d["spec"]["template"]):
            return RollbackOutcome(RollbackResult.SKIPPED, current, plan.to_revision, plan.images,
                                   f"skipped rollback (current template already matches revision {plan.to_revision})")
        ops = rv.rollback_patch(d, rs, note)
        if only_if_template is not None:
            ops = [{"op": "test", "path": "/spec/template", "value": only_if_template}, *ops]
        self.t.request("PATCH", self._deploy_path(target), body=ops, content_type=JSON_PATCH)
        return RollbackOutcome(RollbackResult.ROLLED_BACK, current, plan.to_revision, plan.images, "rolled back")

    def scale(self, target: Target, replicas: int) -> None:
        self._refuse("scale of", target)
        if replicas < 0:
            raise ConfigError(f"replicas must be >= 0, got {replicas}")
        self.get_deployment(target)
        self.t.request("PATCH", self._deploy_path(target, "/scale"), body={"spec": {"replicas": replicas}},
                       content_type=MERGE_PATCH)

    def set_image(self, target: Target, container: str, image: str) -> None:
        self._refuse("set image on", target)
        d = self.get_deployment(target)
        names = [c.get("name") for c in d["spec"]["template"]["spec"].get("containers") or []]
        if container not in names:
            raise NotFoundError(f"deployment {target} has no container {container!r}; containers: {', '.join(map(str, names))}")
        body = {"spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}}
        self.t.request("PATCH", self._deploy_path(target), body=body, content_type=STRATEGIC)

    def pause(self, target: Target) -> None:
        self._refuse("pause of", target)
        self.t.request("PATCH", self._deploy_path(target), body={"spec": {"paused": True}}, content_type=STRATEGIC)

    def resume(self, target: Target) -> None:
        self._refuse("resume of", target)
        self.t.request("PATCH", self._deploy_path(target), body={"spec": {"paused": None}}, content_type=STRATEGIC)

    def switch_selector(self, namespace: str, service: str, selector: dict[str, str]) -> dict[str, str]:
        self._refuse("selector switch of service", f"{namespace}/{service}")
        path = f"/api/v1/namespaces/{quote(namespace)}/services/{quote(service)}"
        svc = self.t.request("GET", path)
        previous = dict((svc.get("spec") or {}).get("selector") or {})
        patch = [{"op": "test", "path": "/metadata/resourceVersion", "value": svc["metadata"]["resourceVersion"]},
                 {"op": "replace", "path": "/spec/selector", "value": selector}]
        self.t.request("PATCH", path, body=patch, content_type=JSON_PATCH)
        return previous

    def close(self) -> None:
        self.t.close()


def connect(kubeconfig: str | None = None, context: str | None = None, namespace: str | None = None,
            readonly: bool = False, timeout: float | None = None) -> KubeBackend:
    """A backend for a kubeconfig context (or in-cluster config). ``timeout``: seconds per
    request (default ``COCKPIT_KUBE_TIMEOUT``, else 10)."""
    conn: Connection = load(kubeconfig, context)
    transport = make_transport(conn, readonly=readonly, timeout=timeout)
    return KubeBackend(transport, namespace=namespace or conn.namespace, context=conn.context)
