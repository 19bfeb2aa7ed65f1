"""Decode the Kubernetes protobuf request bodies newer kubectl sends (``create deployment``).

kubectl ≥ 1.32 POSTs built-in objects as ``application/vnd.kubernetes.protobuf``: the
``k8s\\x00`` magic, then a ``runtime.Unknown`` envelope whose ``raw`` field holds the object.
This module knows the field numbers (from k8s.io/api generated.proto) of the parts of
Deployments, Pods, Services and Namespaces that kubectl's generators fill in (and of the
Secrets and ConfigMaps Helm's storage drivers write), and turns them
into the JSON shape. Unknown fields are skipped. Responses are always JSON.
"""
from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    pass


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) triples; length-delimited values are bytes."""
    out = []
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v, i = int.from_bytes(buf[i:i + 8], "little"), i + 8
        elif wt == 2:
            n, i = _varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            v, i = int.from_bytes(buf[i:i + 4], "little"), i + 4
        else:
            raise ProtobufError(f"unsupported wire type {wt}")
        out.append((num, wt, v))
    return out


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


# Schema: field number → (json name, kind, repeated). kind: "str", "int", "bool", "map",
# "time", "ios" (IntOrString), "qty-map" (map<string, Quantity>), "bytes-map" (map<string, bytes>), or a
# nested schema dict.
S = dict[int, tuple[str, Any, bool]]

TIME: S = {}
LABEL_REQ: S = {1: ("key", "str", False), 2: ("operator", "str", False), 3: ("values", "str", True)}
LABEL_SELECTOR: S = {1: ("matchLabels", "map", False), 2: ("matchExpressions", LABEL_REQ, True)}
OWNER_REF: S = {1: ("kind", "str", False), 3: ("name", "str", False), 4: ("uid", "str", False),
                5: ("apiVersion", "str", False), 6: ("controller", "bool", False),
                7: ("blockOwnerDeletion", "bool", False)}
OBJECT_META: S = {1: ("name", "str", False), 2: ("generateName", "str", False), 3: ("namespace", "str", False),
                  5: ("uid", "str", False), 6: ("resourceVersion", "str", False), 7: ("generation", "int", False),
                  8: ("creationTimestamp", "time", False), 11: ("labels", "map", False),
                  12: ("annotations", "map", False), 13: ("ownerReferences", OWNER_REF, True),
                  14: ("finalizers", "str", True)}
CONTAINER_PORT: S = {1: ("name", "str", False), 2: ("hostPort", "int", False), 3: ("containerPort", "int", False),
                     4: ("protocol", "str", False), 5: ("hostIP", "str", False)}
ENV_VAR: S = {1: ("name", "str", False), 2: ("value", "str", False)}
RESOURCES: S = {1: ("limits", "qty-map", False), 2: ("requests", "qty-map", False)}
VOLUME_MOUNT: S = {1: ("name", "str", False), 2: ("readOnly", "bool", False), 3: ("mountPath", "str", False),
                   4: ("subPath", "str", False)}
CONTAINER: S = {1: ("name", "str", False), 2: ("image", "str", False), 3: ("command", "str", True),
                4: ("args", "str", True), 5: ("workingDir", "str", False), 6: ("ports", CONTAINER_PORT, True),
                7: ("env", ENV_VAR, True), 8: ("resources", RESOURCES, False), 9: ("volumeMounts", VOLUME_MOUNT, True),
                13: ("terminationMessagePath", "str", False), 14: ("imagePullPolicy", "str", False),
                16: ("stdin", "bool", False), 17: ("stdinOnce", "bool", False), 18: ("tty", "bool", False),
                20: ("terminationMessagePolicy", "str", False)}
POD_SPEC: S = {2: ("containers", CONTAINER, True), 3: ("restartPolicy", "str", False),
               4: ("terminationGracePeriodSeconds", "int", False), 6: ("dnsPolicy", "str", False),
               7: ("nodeSelector", "map", False), 8: ("serviceAccountName", "str", False),
               10: ("nodeName", "str", False), 14: ("securityContext", {}, False), 19: ("schedulerName", "str", False),
               20: ("initContainers", CONTAINER, True)}
POD_TEMPLATE: S = {1: ("metadata", OBJECT_META, False), 2: ("spec", POD_SPEC, False)}
ROLLING: S = {1: ("maxUnavailable", "ios", False), 2: ("maxSurge", "ios", False)}
STRATEGY: S = {1: ("type", "str", False), 2: ("rollingUpdate", ROLLING, False)}
DEPLOYMENT_SPEC: S = {1: ("replicas", "int", False), 2: ("selector", LABEL_SELECTOR, False),
                      3: ("template", POD_TEMPLATE, False), 4: ("strategy", STRATEGY, False),
                      5: ("minReadySeconds", "int", False), 6: ("revisionHistoryLimit", "int", False),
                      7: ("paused", "bool", False), 9: ("progressDeadlineSeconds", "int", False)}
DEPLOYMENT: S = {1: ("metadata", OBJECT_META, False), 2: ("spec", DEPLOYMENT_SPEC, False), 3: ("status", {}, False)}
REPLICASET_SPEC: S = {1: ("replicas", "int", False), 2: ("selector", LABEL_SELECTOR, False),
                      3: ("template", POD_TEMPLATE, False), 4: ("minReadySeconds", "int", False)}
REPLICASET: S = {1: ("metadata", OBJECT_META, False), 2: ("spec", REPLICASET_SPEC, False), 3: ("status", {}, False)}
POD: S = {1: ("metadata", OBJECT_META, False), 2: ("spec", POD_SPEC, False), 3: ("status", {}, False)}
SERVICE_PORT: S = {1: ("name", "str", False), 2: ("protocol", "str", False), 3: ("port", "int", False),
                   4: ("targetPort", "ios", False), 5: ("nodePort", "int", False)}
SERVICE_SPEC: S = {1: ("ports", SERVICE_PORT, True), 2: ("selector", "map", False), 3: ("clusterIP", "str", False),
                   4: ("type", "str", False)}
SERVICE: S = {1: ("metadata", OBJECT_META, False), 2: ("spec", SERVICE_SPEC, False), 3: ("status", {}, False)}
NAMESPACE: S = {1: ("metadata", OBJECT_META, False), 2: ("spec", {}, False), 3: ("status", {}, False)}
# Helm's storage drivers create their release records as protobuf Secrets (or ConfigMaps)
SECRET: S = {1: ("metadata", OBJECT_META, False), 2: ("data", "bytes-map", False), 3: ("type", "str", False),
             4: ("stringData", "map", False), 5: ("immutable", "bool", False)}
CONFIGMAP: S = {1: ("metadata", OBJECT_META, False), 2: ("data", "map", False), 3: ("binaryData", "bytes-map", False),
                4: ("immutable", "bool", False)}
SCHEMAS = {"Deployment": DEPLOYMENT, "ReplicaSet": REPLICASET, "Pod": POD, "Service": SERVICE, "Namespace": NAMESPACE,
           "Secret": SECRET, "ConfigMap": CONFIGMAP}


KEEP_ZERO = {"replicas", "revisionHistoryLimit", "progressDeadlineSeconds", "terminationGracePeriodSeconds",
             "maxSurge", "maxUnavailable"}


def _decode_map(entries: list[bytes], value_kind: str = "str") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for e in entries:
        k, v = "", ""
        for num, _wt, val in fields(e):
            if num == 1:
                k = val.decode()
            elif num == 2:
                if value_kind == "bytes":  # map<string, bytes>: JSON carries the bytes as base64
                    v = base64.b64encode(val).decode()
                elif value_kind == "qty":
                    v = next((x.decode() for n, _w, x in fields(val) if n == 1), "")
                else:
                    v = val.decode()
        out[k] = v
    return out


def decode_message(buf: bytes, schema: S) -> dict[str, Any]:
    out: dict[str, Any] = {}
    grouped: dict[int, list[Any]] = {}
    for num, _wt, val in fields(buf):
        grouped.setdefault(num, []).append(val)
    for num, vals in grouped.items():
        if num not in schema:
            continue
        name, kind, repeated = schema[num]
        if kind == "map":
            out[name] = _decode_map(vals)
            continue
        if kind == "bytes-map":
            out[name] = _decode_map(vals, "bytes")
            continue
        if kind == "qty-map":
            out[name] = _decode_map(vals, "qty")
            continue
        conv = []
        for v in vals:
            if kind == "str":
                conv.append(v.decode())
            elif kind == "int":
                conv.append(_signed(v))
            elif kind == "bool":
                conv.append(bool(v))
            elif kind == "time":
                t = {n: x for n, _w, x in fields(v)}
                secs = _signed(t.get(1, 0))
                conv.append(None if secs <= -62135596800 or not t else
                            datetime.fromtimestamp(secs, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
            elif kind == "ios":
                t = {n: x for n, _w, x in fields(v)}
                conv.append(t[3].decode() if t.get(1) == 1 else _signed(t.get(2, 0)))
            elif isinstance(kind, dict):
                conv.append(decode_message(v, kind))
        if repeated:
            out[name] = conv
        elif conv:
            value = conv[-1]
            # proto2 writes zero values; JSON (omitempty) leaves them out, except for pointers
            if value in ("", False, None) or (value == 0 and not isinstance(value, bool) and name not in KEEP_ZERO):
                continue
            out[name] = value
    return out


def decode(body: bytes) -> dict[str, Any]:
    """Decode a ``k8s\\x00``-prefixed protobuf object into its JSON shape."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    env = {n: v for n, _w, v in fields(body[len(MAGIC):])}
    tm = {n: v.decode() for n, _w, v in fields(env.get(1, b""))}
    api_version, kind = tm.get(1, ""), tm.get(2, "")
    schema = SCHEMAS.get(kind)
    if schema is None:
        raise ProtobufError(f"the drill world cannot decode protobuf {kind or 'objects'}; send JSON")
    obj = decode_message(env.get(2, b""), schema)
    obj["apiVersion"], obj["kind"] = api_version, kind
    return obj
