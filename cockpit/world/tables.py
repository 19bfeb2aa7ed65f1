"""Server-side ``meta.k8s.io/v1`` Tables, the way the API server prints each kind.

Columns follow kubernetes/pkg/printers/internalversion/printers.go (the server's side of
``kubectl get``): priority-1 columns appear with ``-o wide``.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cockpit.world import kube
from cockpit.world.selectors import format_label_selector

Obj = dict[str, Any]


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        sec = s % 60
        return f"{minutes}m" if sec == 0 else f"{minutes}m{sec}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def age(ts: str | None, now: float | None = None) -> str:
    t = kube.parse_iso(ts)
    if t is None:
        return "<unknown>"
    return human_duration((now or time.time()) - t)


def _col(name: str, ctype: str = "string", priority: int = 0, fmt: str = "", desc: str = "") -> dict[str, Any]:
    return {"name": name, "type": ctype, "format": fmt, "description": desc or name, "priority": priority}


NAME = _col("Name", fmt="name", desc="Name must be unique within a namespace.")
AGE = _col("Age", desc="CreationTimestamp is a timestamp representing the server time when this object was created.")


def _containers(template: Obj) -> tuple[str, str]:
    cs = (template.get("spec") or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _deployment(o: Obj) -> list[Any]:
    st, spec = o.get("status") or {}, o.get("spec") or {}
    names, images = _containers(spec.get("template") or {})
    return [o["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0), age(o["metadata"].get("creationTimestamp")),
            names, images, format_label_selector(spec.get("selector"))]


def _replicaset(o: Obj) -> list[Any]:
    st, spec = o.get("status") or {}, o.get("spec") or {}
    names, images = _containers(spec.get("template") or {})
    return [o["metadata"]["name"], spec.get("replicas", 1), st.get("replicas", 0), st.get("readyReplicas", 0),
            age(o["metadata"].get("creationTimestamp")), names, images, format_label_selector(spec.get("selector"))]


def pod_reason(o: Obj) -> str:
    st = o.get("status") or {}
    reason = st.get("reason") or st.get("phase") or "Unknown"
    for cs in reversed(st.get("containerStatuses") or []):
        state = cs.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated", {}).get("reason"):
            reason = state["terminated"]["reason"]
    if o["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod(o: Obj) -> list[Any]:
    st = o.get("status") or {}
    css = st.get("containerStatuses") or []
    total = len((o.get("spec") or {}).get("containers") or [])
    ready = sum(1 for c in css if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in css)
    last = None
    for c in css:
        fin = kube.parse_iso(((c.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
        if fin and (last is None or fin > last):
            last = fin
    rtext = str(restarts)
    if restarts and last:
        rtext = f"{restarts} ({human_duration(time.time() - last)} ago)"
    return [o["metadata"]["name"], f"{ready}/{total}", pod_reason(o), rtext, age(o["metadata"].get("creationTimestamp")),
            st.get("podIP") or "<none>", (o.get("spec") or {}).get("nodeName") or "<none>", "<none>", "<none>"]


def _event(o: Obj) -> list[Any]:
    inv = o.get("involvedObject") or {}
    last = o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
    first = o.get("firstTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
    src = o.get("source") or {}
    source = src.get("component", "")
    if src.get("host"):
        source += f", {src['host']}"
    return [age(last), o.get("type", ""), o.get("reason", ""), f"{inv.get('kind', '').lower()}/{inv.get('name', '')}",
            inv.get("fieldPath", ""), source, o.get("message", ""), age(first), int(o.get("count", 1)),
            o["metadata"]["name"]]


def _service(o: Obj) -> list[Any]:
    spec = o.get("spec") or {}
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []) or "<none>"
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items())) or "<none>"
    return [o["metadata"]["name"], spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>", "<none>", ports,
            age(o["metadata"].get("creationTimestamp")), selector]


def _namespace(o: Obj) -> list[Any]:
    return [o["metadata"]["name"], (o.get("status") or {}).get("phase", "Active"), age(o["metadata"].get("creationTimestamp"))]


def _lease(o: Obj) -> list[Any]:
    # printers.go printLease: an unset holder prints as an empty cell
    return [o["metadata"]["name"], (o.get("spec") or {}).get("holderIdentity") or "",
            age(o["metadata"].get("creationTimestamp"))]


def _serviceaccount(o: Obj) -> list[Any]:
    return [o["metadata"]["name"], len(o.get("secrets") or []), age(o["metadata"].get("creationTimestamp"))]


def _secret(o: Obj) -> list[Any]:
    return [o["metadata"]["name"], o.get("type") or "", len(o.get("data") or {}),
            age(o["metadata"].get("creationTimestamp"))]


def _configmap(o: Obj) -> list[Any]:
    return [o["metadata"]["name"], len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            age(o["metadata"].get("creationTimestamp"))]


def _role(o: Obj) -> list[Any]:
    return [o["metadata"]["name"], o["metadata"].get("creationTimestamp") or ""]


def _rolebinding(o: Obj) -> list[Any]:
    # printers.go printRoleBinding: ROLE is kind/name; the subjects by kind in wide output
    ref = o.get("roleRef") or {}
    subjects = [s for s in o.get("subjects") or [] if isinstance(s, dict)]

    def names(kind: str, ns: bool = False) -> str:
        return ", ".join(f"{s.get('namespace', '')}/{s.get('name', '')}" if ns else str(s.get("name", ""))
                         for s in subjects if s.get("kind") == kind)

    return [o["metadata"]["name"], f"{ref.get('kind', '')}/{ref.get('name', '')}",
            age(o["metadata"].get("creationTimestamp")), names("User"), names("Group"),
            names("ServiceAccount", ns=True)]


def _scale(o: Obj) -> list[Any]:
    return [o["metadata"]["name"], age(o["metadata"].get("creationTimestamp"))]


TABLES: dict[str, tuple[list[dict[str, Any]], Callable[[Obj], list[Any]]]] = {
    "deployments": ([NAME, _col("Ready"), _col("Up-to-date", "integer"), _col("Available", "integer"), AGE,
                     _col("Containers", priority=1), _col("Images", priority=1), _col("Selector", priority=1)],
                    _deployment),
    "replicasets": ([NAME, _col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"), AGE,
                     _col("Containers", priority=1), _col("Images", priority=1), _col("Selector", priority=1)],
                    _replicaset),
    "pods": ([NAME, _col("Ready"), _col("Status"), _col("Restarts"), AGE, _col("IP", priority=1),
              _col("Node", priority=1), _col("Nominated Node", priority=1), _col("Readiness Gates", priority=1)], _pod),
    "events": ([_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Subobject", priority=1),
                _col("Source", priority=1), _col("Message"), _col("First Seen", priority=1),
                _col("Count", "integer", priority=1), _col("Name", priority=1)], _event),
    "services": ([NAME, _col("Type"), _col("Cluster-IP"), _col("External-IP"), _col("Port(s)"), AGE,
                  _col("Selector", priority=1)], _service),
    "namespaces": ([NAME, _col("Status"), AGE], _namespace),
    "leases": ([NAME, _col("Holder", desc="holderIdentity contains the identity of the holder of a current lease."),
                AGE], _lease),
    "serviceaccounts": ([NAME, _col("Secrets", "integer"), AGE], _serviceaccount),
    "roles": ([NAME, _col("Created At", "date")], _role),
    "secrets": ([NAME, _col("Type"), _col("Data", "integer"), AGE], _secret),
    "configmaps": ([NAME, _col("Data", "integer"), AGE], _configmap),
    "rolebindings": ([NAME, _col("Role"), AGE, _col("Users", priority=1), _col("Groups", priority=1),
                      _col("ServiceAccounts", priority=1)], _rolebinding),
    "httproutes": ([NAME, _col("Hostnames"), AGE], lambda o: _gateway_row(o)),
}


def _gateway_row(o: Obj) -> list[Any]:
    from cockpit.world.gateway import table_row

    return table_row(o)


def partial_metadata(o: Obj) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}


def table(resource: str, objs: list[Obj], resource_version: str, include: str = "Metadata",
          with_columns: bool = True) -> Obj:
    cols, row = TABLES.get(resource, ([NAME, AGE], _scale))
    rows = []
    for o in objs:
        r: Obj = {"cells": row(o)}
        if include == "Object":
            r["object"] = o
        elif include != "None":
            r["object"] = partial_metadata(o)
        rows.append(r)
    out: Obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": resource_version},
                "columnDefinitions": cols if with_columns else None, "rows": rows}
    return out
