"""Kubernetes object knowledge the world needs: defaulting, validation, template hashing.

Defaulting follows the API server's for apps/v1 Deployments (replicas 1, RollingUpdate 25%/25%,
revisionHistoryLimit 10, progressDeadlineSeconds 600, the pod-spec defaults), so that a
template copied from a ReplicaSet back into a Deployment compares equal, as it does on a real
cluster.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from datetime import datetime, timezone
from typing import Any

from cockpit.world.resources import RESOURCES
from cockpit.world.store import StoreError

Obj = dict[str, Any]

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
# Deployment annotations the controller does not copy onto its ReplicaSets.
SKIP_ANNOTATIONS = {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}

_SAFE = "bcdfghjklmnpqrstvwxz2456789"
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def canonical(value: Any) -> Any:
    """Drop nulls, empty maps and empty lists (Go treats nil and empty alike)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            c = canonical(v)
            if c is None or c == {} or c == []:
                continue
            out[k] = c
        return out
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def template_without_hash(template: Obj) -> Obj:
    t = copy.deepcopy(template)
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return t


def equal_ignore_hash(a: Obj, b: Obj) -> bool:
    return canonical(template_without_hash(a)) == canonical(template_without_hash(b))


def template_hash(template: Obj, collision_count: int = 0) -> str:
    """A stable, DNS-safe hash of a pod template (32 bits, encoded like k8s SafeEncodeString).

    The real controller uses FNV-32a over a Go dump of the struct; any stable hash of the
    canonical template serves the same purpose here (blake2b: fast enough for bulk loads).
    """
    data = json.dumps(canonical(template_without_hash(template)), sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    h = int.from_bytes(hashlib.blake2b(data, digest_size=4).digest(), "big")
    return "".join(_SAFE[ord(c) % len(_SAFE)] for c in str(h))


def resolve_int_or_percent(value: Any, total: int, round_up: bool) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        pct = float(text[:-1])
        raw = pct * total / 100.0
        return int(math.ceil(raw)) if round_up else int(math.floor(raw))
    return int(text)


def surge_and_unavailable(dep: Obj) -> tuple[int, int]:
    spec = dep["spec"]
    replicas = int(spec.get("replicas", 1))
    ru = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    surge = resolve_int_or_percent(ru.get("maxSurge", "25%"), replicas, True)
    unavailable = resolve_int_or_percent(ru.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


# ---------------------------------------------------------------------------- defaulting


def default_pod_spec(spec: Obj) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for c in spec.get("containers") or []:
        if not isinstance(c, dict):
            continue
        image = str(c.get("image", ""))
        tail = image.rsplit("/", 1)[-1]
        latest = "@" not in tail and (":" not in tail or tail.endswith(":latest"))
        c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        c.setdefault("resources", {})
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        for p in c.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")


def default_template(template: Obj) -> None:
    md = template.setdefault("metadata", {})
    if md is None:
        template["metadata"] = md = {}
    md.setdefault("creationTimestamp", None)
    default_pod_spec(template.setdefault("spec", {}))


def default_deployment(dep: Obj) -> None:
    dep["apiVersion"] = "apps/v1"
    dep["kind"] = "Deployment"
    spec = dep.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = strategy.setdefault("rollingUpdate", {})
        ru.setdefault("maxSurge", "25%")
        ru.setdefault("maxUnavailable", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    default_template(spec.setdefault("template", {}))
    dep.setdefault("status", {})


def default_replicaset(rs: Obj) -> None:
    rs["apiVersion"] = "apps/v1"
    rs["kind"] = "ReplicaSet"
    spec = rs.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    default_template(spec.setdefault("template", {}))
    rs.setdefault("status", {"replicas": 0})


def default_pod(pod: Obj) -> None:
    pod["apiVersion"] = "v1"
    pod["kind"] = "Pod"
    default_pod_spec(pod.setdefault("spec", {}))
    pod.setdefault("status", {"phase": "Pending"})


def default_service(svc: Obj) -> None:
    svc["apiVersion"] = "v1"
    svc["kind"] = "Service"
    spec = svc.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for p in spec.get("ports") or []:
        p.setdefault("protocol", "TCP")
        p.setdefault("targetPort", p.get("port"))
    svc.setdefault("status", {"loadBalancer": {}})


def default_namespace(ns: Obj) -> None:
    ns["apiVersion"] = "v1"
    ns["kind"] = "Namespace"
    ns.setdefault("spec", {"finalizers": ["kubernetes"]})
    ns["status"] = {"phase": "Active"}
    ns.setdefault("metadata", {}).setdefault("labels", {})["kubernetes.io/metadata.name"] = ns["metadata"].get("name", "")


def default_event(ev: Obj) -> None:
    ev["apiVersion"] = "v1"
    ev["kind"] = "Event"


# ---------------------------------------------------------------------------- Leases

RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"  # metav1.MicroTime's layout, in Go's notation
_MICRO_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6})(Z|[+-]\d{2}:\d{2})$")
LEASE_TIMES = ("acquireTime", "renewTime")
LEASE_INTS = ("leaseDurationSeconds", "leaseTransitions")


def _json_type(value: Any) -> str:
    """The JSON type name Go's decoder reports (``cannot unmarshal string into ...``)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return f"number {value}"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _undecodable(kind: str, why: str) -> StoreError:
    return StoreError(400, "BadRequest", f'{kind} in version "v1" cannot be handled as a {kind}: {why}')


def parse_micro_time(value: Any, field: str, kind: str = "Lease") -> str:
    """Normalise a MicroTime the way the API server decodes it (``time.Parse(RFC3339Micro)``:
    exactly six fractional digits, ``Z`` or a ``±hh:mm`` offset) and re-encodes it (UTC).
    Anything else is the 400 the server answers when the body cannot be decoded."""
    if not isinstance(value, str):
        raise _undecodable(kind, f"json: cannot unmarshal {_json_type(value)} into Go struct field "
                                 f"{kind}Spec.spec.{field} of type string")
    m = _MICRO_RE.match(value)
    if not m:
        raise _undecodable(kind, f'parsing time "{value}" as "{RFC3339_MICRO}": cannot parse "{value}" as '
                                 f'"{RFC3339_MICRO}"')
    offset = "+00:00" if m.group(2) == "Z" else m.group(2)
    try:
        t = datetime.fromisoformat(m.group(1) + offset)
    except ValueError:
        raise _undecodable(kind, f'parsing time "{value}": out of range') from None
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_lease(lease: Obj) -> None:
    """coordination.k8s.io/v1 Lease: decode the spec as the server would (MicroTimes normalised
    to UTC with microseconds, int32 counters, nulls dropped)."""
    rest = {k: lease.pop(k) for k in list(lease) if k not in ("kind", "apiVersion")}
    lease.clear()
    lease.update(kind="Lease", apiVersion="coordination.k8s.io/v1", **rest)  # in the server's order
    spec = lease.get("spec")
    if spec is None:
        spec = lease["spec"] = {}
    if not isinstance(spec, dict):
        raise _undecodable("Lease", f"json: cannot unmarshal {_json_type(spec)} into Go struct field Lease.spec "
                                    "of type v1.LeaseSpec")
    for key in [k for k, v in spec.items() if v is None]:
        del spec[key]
    for key in LEASE_TIMES:
        if key in spec:
            spec[key] = parse_micro_time(spec[key], key)
    for key in LEASE_INTS:
        if key in spec and (isinstance(spec[key], bool) or not isinstance(spec[key], int)
                            or not -2**31 <= spec[key] < 2**31):
            raise _undecodable("Lease", f"json: cannot unmarshal {_json_type(spec[key])} into Go struct field "
                                        f"LeaseSpec.spec.{key} of type int32")
    for key in ("holderIdentity", "preferredHolder", "strategy"):
        if key in spec and not isinstance(spec[key], str):
            raise _undecodable("Lease", f"json: cannot unmarshal {_json_type(spec[key])} into Go struct field "
                                        f"LeaseSpec.spec.{key} of type string")


def _validate_lease(spec: Obj, causes: list[tuple[str, str]]) -> None:
    """pkg/apis/coordination/validation.ValidateLeaseSpec."""
    duration, transitions = spec.get("leaseDurationSeconds"), spec.get("leaseTransitions")
    if duration is not None and duration <= 0:
        causes.append(("spec.leaseDurationSeconds", f"Invalid value: {duration}: must be greater than 0"))
    if transitions is not None and transitions < 0:
        causes.append(("spec.leaseTransitions", f"Invalid value: {transitions}: must be greater than or equal to 0"))


# ---------------------------------------------------------------------------- ServiceAccounts and RBAC
# Stored and served so manifests apply (the in-cluster watcher's); never enforced (see resources.py).

RBAC_GROUP = "rbac.authorization.k8s.io"


def _with_kind(obj: Obj, api_version: str, kind: str) -> None:
    rest = {k: obj.pop(k) for k in list(obj) if k not in ("kind", "apiVersion")}
    obj.clear()
    obj.update(apiVersion=api_version, kind=kind, **rest)


def default_serviceaccount(sa: Obj) -> None:
    _with_kind(sa, "v1", "ServiceAccount")


def default_role(role: Obj) -> None:
    _with_kind(role, f"{RBAC_GROUP}/v1", "Role")
    if role.get("rules") is None:
        role.pop("rules", None)


def default_rolebinding(rb: Obj) -> None:
    _with_kind(rb, f"{RBAC_GROUP}/v1", "RoleBinding")
    for s in rb.get("subjects") or []:  # SetDefaults_Subject ("" is omitted, as Go's omitempty does)
        if isinstance(s, dict) and not s.get("apiGroup"):
            s.pop("apiGroup", None)
            if s.get("kind") in ("User", "Group"):
                s["apiGroup"] = RBAC_GROUP


def default_secret(secret: Obj) -> None:
    """``stringData`` is merged into ``data`` (base64) and dropped; ``type`` defaults to Opaque."""
    import base64

    _with_kind(secret, "v1", "Secret")
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict):
        data = secret.get("data") if isinstance(secret.get("data"), dict) else {}
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
        secret["data"] = data
    if not secret.get("type"):
        secret["type"] = "Opaque"


def default_configmap(cm: Obj) -> None:
    _with_kind(cm, "v1", "ConfigMap")


_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def _validate_data(obj: Obj, old: Obj | None, causes: list[tuple[str, str]], *, secret: bool) -> None:
    """core validation ValidateSecret/ValidateConfigMap: keys, base64 values, 1 MiB, immutability."""
    import base64
    import binascii

    total = 0
    for field in ("data",) if secret else ("data", "binaryData"):
        data = obj.get(field)
        if data is None:
            continue
        if not isinstance(data, dict):
            causes.append((field, "Invalid value: must be an object"))
            continue
        for k, v in data.items():
            if not _DATA_KEY.match(str(k)) or len(str(k)) > 253:
                causes.append((f"{field}[{k}]", f'Invalid value: "{k}": a valid config key must consist of '
                               "alphanumeric characters, '-', '_' or '.'"))
            if not isinstance(v, str):
                causes.append((f"{field}[{k}]", "Invalid value: must be a string"))
                continue
            if secret or field == "binaryData":
                try:
                    total += len(base64.b64decode(v, validate=True))
                except (binascii.Error, ValueError):
                    causes.append((f"{field}[{k}]", "Invalid value: illegal base64 data"))
            else:
                total += len(v.encode())
    if total > 1 << 20:
        causes.append(("data", f"Too long: must have at most {1 << 20} bytes"))
    if old is not None and old.get("immutable") is True:
        for field in ("data", "binaryData", "type"):
            if obj.get(field) != old.get(field):
                causes.append((field, "Forbidden: field is immutable when `immutable` is set"))
    if secret and old is not None and obj.get("type") != old.get("type"):
        causes.append(("type", "Invalid value: field is immutable"))


def _validate_role(role: Obj, causes: list[tuple[str, str]]) -> None:
    """pkg/apis/rbac/validation.ValidateRole (the parts a Role can get wrong)."""
    rules = role.get("rules")
    if rules is None:
        return
    if not isinstance(rules, list):
        causes.append(("rules", "Invalid value: must be a list"))
        return
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            causes.append((f"rules[{i}]", "Invalid value: must be an object"))
            continue
        if not rule.get("verbs"):
            causes.append((f"rules[{i}].verbs", "Required value: verbs must contain at least one value"))
        if rule.get("nonResourceURLs"):
            causes.append((f"rules[{i}].nonResourceURLs", "Invalid value: namespaced rules cannot apply to "
                           "non-resource URLs"))
        elif not rule.get("resources") and not rule.get("resourceNames"):
            causes.append((f"rules[{i}].resources", "Required value: resource rules must supply at least one "
                           "resource"))
        if not rule.get("nonResourceURLs") and rule.get("apiGroups") is None:
            causes.append((f"rules[{i}].apiGroups", "Required value: resource rules must supply at least one "
                           "api group"))


def _validate_rolebinding(rb: Obj, old: Obj | None, causes: list[tuple[str, str]]) -> None:
    """pkg/apis/rbac/validation.ValidateRoleBinding (+ roleRef is immutable on update)."""
    ref = rb.get("roleRef")
    if not isinstance(ref, dict):
        causes.append(("roleRef", "Required value"))
    else:
        if ref.get("apiGroup") != RBAC_GROUP:
            causes.append(("roleRef.apiGroup", f'Unsupported value: "{ref.get("apiGroup", "")}": '
                           f'supported values: "{RBAC_GROUP}"'))
        if ref.get("kind") not in ("Role", "ClusterRole"):
            causes.append(("roleRef.kind", f'Unsupported value: "{ref.get("kind", "")}": '
                           'supported values: "Role", "ClusterRole"'))
        if not ref.get("name"):
            causes.append(("roleRef.name", "Required value"))
        if old is not None and old.get("roleRef") != ref:
            causes.append(("roleRef", "Invalid value: cannot change roleRef"))
    for i, s in enumerate(rb.get("subjects") or []):
        if not isinstance(s, dict):
            causes.append((f"subjects[{i}]", "Invalid value: must be an object"))
            continue
        kind = s.get("kind")
        if kind not in ("ServiceAccount", "User", "Group"):
            causes.append((f"subjects[{i}].kind", f'Unsupported value: "{kind or ""}": supported values: '
                           '"ServiceAccount", "User", "Group"'))
        if not s.get("name"):
            causes.append((f"subjects[{i}].name", "Required value"))
        if kind == "ServiceAccount" and s.get("apiGroup"):
            causes.append((f"subjects[{i}].apiGroup", f'Unsupported value: "{s["apiGroup"]}": supported values: ""'))


DEFAULTERS = {
    "serviceaccounts": default_serviceaccount,
    "secrets": default_secret,
    "configmaps": default_configmap,
    "roles": default_role,
    "rolebindings": default_rolebinding,
    "deployments": default_deployment,
    "replicasets": default_replicaset,
    "pods": default_pod,
    "services": default_service,
    "namespaces": default_namespace,
    "events": default_event,
    "leases": default_lease,
    "httproutes": lambda route: _gateway().default_httproute(route),
}


def _gateway() -> Any:
    from cockpit.world import gateway

    return gateway


# ---------------------------------------------------------------------------- validation


def invalid(kind: str, name: str, causes: list[tuple[str, str]], *, group: str = "",
            details_kind: str | None = None) -> StoreError:
    """422 Invalid; ``kind`` is what the message names (``Lease.coordination.k8s.io``), the
    details carry ``group`` and ``details_kind`` (default: ``kind``)."""
    msg = "; ".join(f"{f}: {m}" for f, m in causes)
    details: Obj = {"name": name, "kind": details_kind or kind}
    if group:
        details["group"] = group
    details["causes"] = [{"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes]
    return StoreError(
        422,
        "Invalid",
        f'{kind} "{name}" is invalid: {msg}' if len(causes) == 1 else f'{kind} "{name}" is invalid: [{msg}]',
        details,
    )


def _validate_pod_spec(spec: Any, prefix: str, causes: list[tuple[str, str]]) -> None:
    containers = (spec or {}).get("containers") if isinstance(spec, dict) else None
    if not containers:
        causes.append((f"{prefix}.containers", "Required value"))
        return
    names = set()
    for i, c in enumerate(containers):
        if not isinstance(c, dict):
            causes.append((f"{prefix}.containers[{i}]", "Invalid value: must be an object"))
            continue
        if not c.get("name"):
            causes.append((f"{prefix}.containers[{i}].name", "Required value"))
        elif c["name"] in names:
            causes.append((f"{prefix}.containers[{i}].name", f'Duplicate value: "{c["name"]}"'))
        names.add(c.get("name"))
        if not c.get("image"):
            causes.append((f"{prefix}.containers[{i}].image", "Required value"))


def validate(resource: str, obj: Obj, old: Obj | None = None) -> None:
    """Raise a 422 StoreError for the problems the real API server would refuse."""
    r = RESOURCES.get(resource)
    kind = (f"{r.kind}.{r.group}" if r.group else r.kind) if r is not None else resource
    md = obj.get("metadata") or {}
    name = md.get("name") or md.get("generateName") or ""
    causes: list[tuple[str, str]] = []
    if md.get("name") and resource != "events" and not _DNS1123.match(md["name"]):
        causes.append(("metadata.name", f'Invalid value: "{md["name"]}": a lowercase RFC 1123 subdomain '
                       "must consist of lower case alphanumeric characters, '-' or '.'"))
    if resource in ("deployments", "replicasets"):
        spec = obj.get("spec") or {}
        selector = spec.get("selector")
        tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            causes.append(("spec.selector", "Required value"))
        else:
            from cockpit.world.selectors import matches, selector_from_label_selector

            if not matches(selector_from_label_selector(selector), tlabels):
                causes.append(("spec.template.metadata.labels", f"Invalid value: {json.dumps(tlabels)}: "
                               "`selector` does not match template `labels`"))
        if not isinstance(spec.get("replicas", 1), int) or spec.get("replicas", 1) < 0:
            causes.append(("spec.replicas", "Invalid value: must be greater than or equal to 0"))
        _validate_pod_spec((spec.get("template") or {}).get("spec"), "spec.template.spec", causes)
        if old is not None and old.get("spec", {}).get("selector") != spec.get("selector"):
            causes.append(("spec.selector", "Invalid value: field is immutable"))
        if resource == "deployments":
            strategy = spec.get("strategy") or {}
            if strategy.get("type") not in ("RollingUpdate", "Recreate"):
                causes.append(("spec.strategy.type", f'Unsupported value: "{strategy.get("type")}": '
                               'supported values: "Recreate", "RollingUpdate"'))
            elif strategy.get("type") == "Recreate" and strategy.get("rollingUpdate"):
                causes.append(("spec.strategy.rollingUpdate", "Forbidden: may not be specified when strategy "
                               "`type` is 'Recreate'"))
    elif resource == "pods":
        _validate_pod_spec(obj.get("spec"), "spec", causes)
    elif resource == "leases":
        _validate_lease(obj.get("spec") or {}, causes)
    elif resource == "roles":
        _validate_role(obj, causes)
    elif resource in ("secrets", "configmaps"):
        _validate_data(obj, old, causes, secret=resource == "secrets")
    elif resource == "rolebindings":
        _validate_rolebinding(obj, old, causes)
    elif resource == "httproutes":
        _gateway().validate_httproute(obj, causes)
    if causes:
        raise invalid(kind, name, causes, group=r.group if r is not None else "",
                      details_kind=r.kind if r is not None else None)
