"""The Kubernetes API subset, served over HTTP/1.1 with the standard library.

Discovery (legacy and aggregated v2 / v2beta1), get / list / watch (chunked, newline-delimited
WatchEvents) / create / update / patch (JSON, merge, strategic) / delete with propagation, the
``status`` and ``scale`` subresources, server-side Tables, and ``kind: Status`` errors.
"""
from __future__ import annotations

import collections
import copy
import json
import queue
import socket
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from cockpit.world import kube, patch, tables
from cockpit.world import selectors as sel
from cockpit.world.store import Obj, Store, StoreError, dumps, status_obj

if TYPE_CHECKING:
    from cockpit.world.controller import Controller

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
SUB_VERBS = ["get", "patch", "update"]


@dataclass(frozen=True)
class Resource:
    name: str
    group: str
    version: str
    kind: str
    singular: str
    namespaced: bool
    short: tuple[str, ...]
    categories: tuple[str, ...]
    subresources: tuple[str, ...] = ("status",)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in (
        Resource("namespaces", "", "v1", "Namespace", "namespace", False, ("ns",), ()),
        Resource("pods", "", "v1", "Pod", "pod", True, ("po",), ("all",), ("log", "status")),
        Resource("events", "", "v1", "Event", "event", True, ("ev",), (), ()),
        Resource("services", "", "v1", "Service", "service", True, ("svc",), ("all",)),
        Resource("deployments", "apps", "v1", "Deployment", "deployment", True, ("deploy",), ("all",),
                 ("scale", "status")),
        Resource("replicasets", "apps", "v1", "ReplicaSet", "replicaset", True, ("rs",), ("all",), ("scale", "status")),
    )
}
CORE = [r for r in RESOURCES.values() if r.group == ""]
APPS = [r for r in RESOURCES.values() if r.group == "apps"]


def _verbs(r: Resource) -> list[str]:
    return [v for v in VERBS if not (r.name == "namespaces" and v == "deletecollection")]


def _sub_kind(r: Resource, sub: str) -> tuple[str, str, str]:
    if sub == "scale":
        return ("autoscaling", "v1", "Scale")
    if sub == "log":
        return ("", "v1", "Pod")
    return (r.group, r.version, r.kind)


def legacy_resource_list(group_version: str, resources: list[Resource]) -> Obj:
    out = []
    for r in resources:
        out.append({"name": r.name, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
                    "verbs": _verbs(r), "shortNames": list(r.short), **({"categories": list(r.categories)}
                                                                         if r.categories else {})})
        for sub in r.subresources:
            g, v, k = _sub_kind(r, sub)
            entry = {"name": f"{r.name}/{sub}", "singularName": "", "namespaced": r.namespaced, "kind": k,
                     "verbs": ["get"] if sub == "log" else SUB_VERBS}
            if sub == "scale":
                entry.update(group=g, version=v)
            out.append(entry)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": out}


def aggregated(core: bool, version: str) -> Obj:
    def res(r: Resource) -> Obj:
        entry: Obj = {
            "resource": r.name,
            "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
            "scope": "Namespaced" if r.namespaced else "Cluster",
            "singularResource": r.singular,
            "verbs": _verbs(r),
            "shortNames": list(r.short),
        }
        if r.categories:
            entry["categories"] = list(r.categories)
        if r.subresources:
            entry["subresources"] = []
            for sub in r.subresources:
                g, v, k = _sub_kind(r, sub)
                entry["subresources"].append({"subresource": sub, "responseKind": {"group": g, "version": v, "kind": k},
                                              "verbs": ["get"] if sub == "log" else SUB_VERBS})
        return entry

    group = {"metadata": {"creationTimestamp": None}, "versions": [
        {"version": "v1", "resources": [res(r) for r in (CORE if core else APPS)], "freshness": "Current"}]}
    if not core:
        group["metadata"]["name"] = "apps"
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}", "metadata": {},
            "items": [group]}


def openapi_v3_index() -> Obj:
    return {"paths": {
        "api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=drill1"},
        "apis/apps/v1": {"serverRelativeURL": "/openapi/v3/apis/apps/v1?hash=drill1"},
    }}


def openapi_v3_group(prefix: str, resources: list[Resource]) -> Obj:
    """A minimal OpenAPI v3 document: the operations kubectl inspects (which query parameters a
    PATCH of a kind accepts: fieldValidation, dryRun, fieldManager), with no schemas. kubectl
    then leaves validation to the server (which here accepts what it understands)."""
    params = [{"name": n, "in": "query", "schema": {"type": "string"}, "uniqueItems": True}
              for n in ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")]
    paths: Obj = {}
    for r in resources:
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        ns = "/namespaces/{namespace}" if r.namespaced else ""
        op = {"x-kubernetes-group-version-kind": gvk, "parameters": params,
              "responses": {"200": {"description": "OK"}}}
        paths[f"{prefix}{ns}/{r.name}/{{name}}"] = {
            "get": dict(op, operationId=f"read{r.kind}", **{"x-kubernetes-action": "get"}),
            "put": dict(op, operationId=f"replace{r.kind}", **{"x-kubernetes-action": "put"}),
            "patch": dict(op, operationId=f"patch{r.kind}", **{"x-kubernetes-action": "patch"}),
            "delete": dict(op, operationId=f"delete{r.kind}", **{"x-kubernetes-action": "delete"}),
        }
        paths[f"{prefix}{ns}/{r.name}"] = {
            "get": dict(op, operationId=f"list{r.kind}", **{"x-kubernetes-action": "list"}),
            "post": dict(op, operationId=f"create{r.kind}", **{"x-kubernetes-action": "post"}),
        }
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes (cockpit drill world)", "version": "v1.30.0"},
            "paths": paths, "components": {"schemas": {}}}


APPS_GROUP = {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
              "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}


LOG_LIMIT = 100_000


class Api:
    """The API's logic, independent of HTTP: ``handle(method, path, query, headers, body)``."""

    def __init__(self, store: Store, controller: "Controller", version: str = "v1.30.0") -> None:
        self.store = store
        self.controller = controller
        self.version = version
        # The last requests (bounded: a drill may run for hours) and counts by method (never trimmed).
        self.log: collections.deque[tuple[str, str]] = collections.deque(maxlen=LOG_LIMIT)
        self.method_counts: collections.Counter[str] = collections.Counter()
        self._log_lock = threading.Lock()
        self.stopping = threading.Event()
        # pod, query → log text; the World plugs in its simulated logs
        self.pod_log: Any = lambda pod, q: ""

    # ------------------------------------------------------------------ helpers
    def record(self, method: str, path: str) -> None:
        with self._log_lock:
            self.log.append((method, path))
            self.method_counts[method] += 1

    def version_info(self) -> Obj:
        major, minor = self.version.lstrip("v").split(".")[:2]
        return {"major": major, "minor": minor, "gitVersion": self.version,
                "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                "buildDate": "2024-04-17T17:27:03Z", "goVersion": "go1.22.2", "compiler": "gc",
                "platform": "linux/amd64"}

    def discovery(self, path: str, accept: str) -> tuple[int, Obj, str] | None:
        want_agg = None
        for part in accept.split(","):
            if "as=APIGroupDiscoveryList" in part and "application/json" in part:
                want_agg = "v2" if "v=v2;" in part + ";" and "v2beta1" not in part else "v2beta1"
                break
        if path in ("/api", "/apis") and want_agg:
            ctype = f"application/json;g=apidiscovery.k8s.io;v={want_agg};as=APIGroupDiscoveryList"
            return 200, aggregated(path == "/api", want_agg), ctype
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}, "application/json"
        if path == "/apis":
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [APPS_GROUP]}, "application/json"
        if path == "/apis/apps":
            return 200, dict(APPS_GROUP, kind="APIGroup", apiVersion="v1"), "application/json"
        if path == "/api/v1":
            return 200, legacy_resource_list("v1", CORE), "application/json"
        if path == "/apis/apps/v1":
            return 200, legacy_resource_list("apps/v1", APPS), "application/json"
        if path == "/version":
            return 200, self.version_info(), "application/json"
        if path in ("/healthz", "/readyz", "/livez"):
            return 200, {"ok": True}, "text/plain"
        return None

    @staticmethod
    def parse_path(path: str) -> tuple[Resource, str | None, str | None, str | None]:
        """(resource, namespace or None, name, subresource) or raise 404."""
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            rest, group = parts[2:], ""
        elif parts[:3] == ["apis", "apps", "v1"]:
            rest, group = parts[3:], "apps"
        else:
            raise StoreError(404, "NotFound", "the server could not find the requested resource")
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] in RESOURCES and RESOURCES[rest[2]].namespaced:
            ns, rest = rest[1], rest[2:]
        if not rest or rest[0] not in RESOURCES or RESOURCES[rest[0]].group != group or len(rest) > 3:
            raise StoreError(404, "NotFound", "the server could not find the requested resource")
        res = RESOURCES[rest[0]]
        if res.namespaced is False and ns is not None:
            raise StoreError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub is not None and sub not in res.subresources:
            raise StoreError(404, "NotFound", "the server could not find the requested resource")
        if res.namespaced and name is not None and ns is None:
            raise StoreError(404, "NotFound", "the server could not find the requested resource")
        return res, ns, name, sub

    # ------------------------------------------------------------------ verbs
    def get(self, res: Resource, ns: str | None, name: str, sub: str | None) -> Obj:
        obj = self.store.require(res.name, ns or "", name)
        if sub == "scale":
            return self.scale_of(res, obj)
        return obj

    def scale_of(self, res: Resource, obj: Obj) -> Obj:
        md = obj["metadata"]
        return {
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": md["name"], "namespace": md.get("namespace", ""), "uid": md.get("uid"),
                         "resourceVersion": md.get("resourceVersion"), "creationTimestamp": md.get("creationTimestamp")},
            "spec": {"replicas": obj["spec"].get("replicas", 1)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": sel.format_label_selector(obj["spec"].get("selector"))},
        }

    def list(self, res: Resource, ns: str | None, q: dict[str, str]) -> tuple[list[Obj], str]:
        labels = sel.parse_label_selector(q.get("labelSelector"))
        fsel = q.get("fieldSelector")
        fields = sel.parse_field_selector(fsel)
        name = sel.field_equals(fsel, "metadata.name")
        fns = sel.field_equals(fsel, "metadata.namespace")
        if ns is None and fns is not None:
            ns = fns
        with self.store.lock:
            return self.store.list(res.name, ns, labels, fields, name=name), self.store.resource_version

    def _check_namespace(self, res: Resource, ns: str | None) -> None:
        if res.namespaced and ns and self.store.get("namespaces", "", ns) is None:
            raise StoreError(404, "NotFound", f'namespaces "{ns}" not found',
                             {"name": ns, "kind": "namespaces"})

    def create(self, res: Resource, ns: str | None, body: Obj, dry_run: bool) -> Obj:
        if not isinstance(body, dict):
            raise StoreError(400, "BadRequest", "the body of the request was in an unknown format")
        obj = copy.deepcopy(body)
        md = obj.setdefault("metadata", {})
        if res.namespaced:
            if md.get("namespace") and ns and md["namespace"] != ns:
                raise StoreError(400, "BadRequest", "the namespace of the provided object does not match the "
                                 "namespace sent on the request")
            md["namespace"] = ns or md.get("namespace") or "default"
            self._check_namespace(res, md["namespace"])
        else:
            md.pop("namespace", None)
        for k in ("uid", "resourceVersion", "creationTimestamp", "generation", "deletionTimestamp"):
            md.pop(k, None)
        if res.name in ("deployments", "replicasets"):
            obj["status"] = {}
        kube.DEFAULTERS[res.name](obj)
        kube.validate(res.name, obj)
        with self.store.lock:
            if dry_run:
                if md.get("name") and self.store.get(res.name, md.get("namespace", ""), md["name"]) is not None:
                    from cockpit.world.store import already_exists

                    raise already_exists(res.name, md["name"])
                md.setdefault("name", md.get("generateName", "") + "dryrun")
                md["creationTimestamp"] = self.store.now()
                if res.name in ("deployments", "replicasets"):
                    md["generation"] = 1
                return obj
            out = self.store.create(res.name, obj, generation=res.name in ("deployments", "replicasets"))
        self._touch(res, out)
        return out

    def _touch(self, res: Resource, obj: Obj) -> None:
        md = obj["metadata"]
        if res.name == "deployments":
            self.controller.touch(md.get("namespace", ""), md["name"])
        elif res.name in ("replicasets", "pods"):
            self.controller.touch_owner_of(obj)

    def _store_write(self, res: Resource, sub: str | None, cur: Obj, new: Obj, dry_run: bool,
                     expect_rv: str | None) -> Obj:
        """Persist ``new`` as the next version of ``cur`` (the main resource or its status)."""
        if not isinstance(new, dict):
            raise StoreError(400, "BadRequest", "the body of the request was in an unknown format")
        new = copy.deepcopy(new)
        if sub == "scale":
            try:
                replicas = int((new.get("spec") or {}).get("replicas", 0))
            except (TypeError, ValueError):
                raise StoreError(422, "Invalid", "spec.replicas: Invalid value: must be an integer") from None
            if replicas < 0:
                raise StoreError(422, "Invalid", f"Scale.autoscaling \"{cur['metadata']['name']}\" is invalid: "
                                 "spec.replicas: Invalid value: must be greater than or equal to 0")
            full = copy.deepcopy(cur)
            full["spec"]["replicas"] = replicas
            new = full
        elif sub == "status":
            full = copy.deepcopy(cur)
            full["status"] = new.get("status") or {}
            new = full
        else:
            md = new.setdefault("metadata", {})
            if md.get("name") not in (None, cur["metadata"]["name"]):
                raise StoreError(400, "BadRequest", "the name of the object does not match the name on the URL")
            md["name"] = cur["metadata"]["name"]
            if res.namespaced:
                md["namespace"] = cur["metadata"].get("namespace", "")
            md["generation"] = cur["metadata"].get("generation")
            if md["generation"] is None:
                md.pop("generation")
            if "status" in cur and res.name not in ("events",):
                new["status"] = copy.deepcopy(cur["status"])
            kube.DEFAULTERS[res.name](new)
        kube.validate(res.name, new, old=cur)
        if res.name in ("deployments", "replicasets") and new.get("spec") != cur.get("spec"):
            new["metadata"]["generation"] = int(cur["metadata"].get("generation", 1)) + 1
        if dry_run:
            return new
        out = self.store.update(res.name, new, expect_rv=expect_rv)
        self._touch(res, out)
        return out

    def update(self, res: Resource, ns: str | None, name: str, sub: str | None, body: Obj, dry_run: bool) -> Obj:
        with self.store.lock:
            cur = self.store.require(res.name, ns or "", name)
            rv = (body.get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
            out = self._store_write(res, sub, cur, body, dry_run, rv or None)
        return self.scale_of(res, out) if sub == "scale" else out

    def patch(self, res: Resource, ns: str | None, name: str, sub: str | None, body: Any, ctype: str,
              dry_run: bool) -> Obj:
        with self.store.lock:
            cur = self.store.require(res.name, ns or "", name)
            base = self.scale_of(res, cur) if sub == "scale" else cur
            try:
                if ctype.startswith("application/json-patch+json"):
                    new = patch.json_patch(base, body)
                elif ctype.startswith("application/merge-patch+json"):
                    new = patch.merge_patch(base, body)
                elif ctype.startswith("application/strategic-merge-patch+json"):
                    new = patch.strategic_merge(base, body)
                elif ctype.startswith("application/apply-patch"):
                    raise StoreError(415, "UnsupportedMediaType", "server-side apply is not supported by the drill world")
                else:
                    raise StoreError(415, "UnsupportedMediaType", f"the server does not support patch type {ctype!r}")
            except patch.PatchError as e:
                raise StoreError(422, "Invalid", str(e)) from None
            if not isinstance(new, dict):
                raise StoreError(422, "Invalid", "the patch did not produce an object")
            rv = (new.get("metadata") or {}).get("resourceVersion")
            expect = rv if rv and rv != base["metadata"].get("resourceVersion") else None
            out = self._store_write(res, sub, cur, new, dry_run, expect)
        return self.scale_of(res, out) if sub == "scale" else out

    def delete(self, res: Resource, ns: str | None, name: str, dry_run: bool, propagation: str | None) -> Obj:
        with self.store.lock:
            obj = self.store.require(res.name, ns or "", name)
            if dry_run:
                return obj
            orphan = propagation == "Orphan"
            gone = self._delete_tree(res.name, obj, orphan)
        return gone

    def _delete_tree(self, resource: str, obj: Obj, orphan: bool) -> Obj:
        md = obj["metadata"]
        ns = md.get("namespace", "")
        if resource == "namespaces":
            for rname, r in RESOURCES.items():
                if r.namespaced:
                    for child in self.store.list(rname, md["name"]):
                        self.store.delete(rname, md["name"], child["metadata"]["name"])
        elif not orphan and resource in ("deployments", "replicasets"):
            child_res = "replicasets" if resource == "deployments" else "pods"
            for child in self.store.list(child_res, ns):
                if any(o.get("uid") == md["uid"] for o in child["metadata"].get("ownerReferences") or []):
                    self._delete_tree(child_res, child, orphan)
        gone = self.store.delete(resource, ns, md["name"])
        if resource == "pods":
            self.controller.pods.pop((ns, md["name"]), None)
            for c in obj["spec"].get("containers") or []:
                self.controller.event(obj, "Normal", "Killing", f"Stopping container {c['name']}", "kubelet")
        if resource in ("replicasets", "pods"):
            self.controller.touch_owner_of(gone)
        return gone


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cockpit-drill"
    api: Api  # set on the subclass the server builds

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in one write, and without Nagle: otherwise each response
        # waits for the client's delayed ACK (~40 ms) and a kubectl call takes 3-4 times longer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # --- plumbing
    def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self._headers_buffer.append(b"\r\n")
        head = b"".join(self._headers_buffer)
        self._headers_buffer = []
        self.wfile.write(head if self.command == "HEAD" else head + body)

    def _send_obj(self, code: int, obj: Any, ctype: str = "application/json") -> None:
        self._send(code, dumps(obj), ctype)

    def _error(self, e: StoreError) -> None:
        self._send_obj(e.code, status_obj(e.code, e.reason, e.message, e.details))

    def _body(self) -> Any:
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            raw = b"".join(chunks)
        ctype = self.headers.get("Content-Type", "application/json")
        if not raw:
            return None
        if "protobuf" in ctype:
            from cockpit.world import protobuf

            try:
                return protobuf.decode(raw)
            except (protobuf.ProtobufError, UnicodeDecodeError, KeyError, IndexError) as e:
                raise StoreError(415, "UnsupportedMediaType", str(e)) from None
        try:
            if "yaml" in ctype:
                import yaml

                return yaml.safe_load(raw)
            return json.loads(raw)
        except ValueError as e:
            raise StoreError(400, "BadRequest", f"the body of the request could not be decoded: {e}") from None

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        api = self.api
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        api.record(method, path)
        q = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        accept = self.headers.get("Accept", "")
        try:
            if method in ("GET", "HEAD"):
                disc = api.discovery(path, accept)
                if disc is not None:
                    code, obj, ctype = disc
                    self._send_obj(code, obj, ctype)
                    return
                if path == "/openapi/v3":
                    self._send_obj(200, openapi_v3_index())
                    return
                if path == "/openapi/v3/apis/apps/v1":
                    self._send_obj(200, openapi_v3_group("/apis/apps/v1", APPS))
                    return
                if path == "/openapi/v3/api/v1":
                    self._send_obj(200, openapi_v3_group("/api/v1", CORE))
                    return
                if path.startswith("/openapi"):
                    raise StoreError(404, "NotFound", "the server could not find the requested resource")
            res, ns, name, sub = api.parse_path(path)
            dry = q.get("dryRun") == "All"
            if method in ("GET", "HEAD"):
                if name is None:
                    if q.get("watch") in ("1", "t", "T", "true", "True", "TRUE"):
                        self._watch(res, ns, q, accept)
                    else:
                        items, rv = api.list(res, ns, q)
                        self._send_list(res, items, rv, accept, q)
                elif sub == "log":
                    pod = api.store.require("pods", ns or "", name)
                    cs = [c["name"] for c in pod["spec"].get("containers") or []]
                    if q.get("container") and q["container"] not in cs:
                        raise StoreError(400, "BadRequest", f"container {q['container']} is not valid for pod {name}")
                    if not q.get("container") and len(cs) > 1:
                        raise StoreError(400, "BadRequest", f"a container name must be specified for pod {name}, "
                                         f"choose one of: [{' '.join(cs)}]")
                    self._send(200, api.pod_log(pod, q).encode(), "text/plain")
                else:
                    obj = api.get(res, ns, name, sub)
                    if "as=Table" in accept and sub is None:
                        self._send_obj(200, tables.table(res.name, [obj], obj["metadata"].get("resourceVersion", ""),
                                                         q.get("includeObject", "Metadata")))
                    else:
                        self._send(200, self._encode(res, obj, sub))
                return
            if method == "POST":
                if name is not None:
                    raise StoreError(405, "MethodNotAllowed", "the server does not allow this method on the "
                                     "requested resource")
                out = api.create(res, ns, self._body(), dry)
                self._send(201, self._encode(res, out, None))
                return
            if name is None:
                if method == "DELETE":
                    items, _ = api.list(res, ns, q)
                    for o in items:
                        api.delete(res, o["metadata"].get("namespace") or None, o["metadata"]["name"], dry, None)
                    self._send_obj(200, {"kind": res.kind + "List", "apiVersion": res.api_version,
                                         "metadata": {}, "items": items})
                    return
                raise StoreError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                                 "resource")
            if method == "PUT":
                out = api.update(res, ns, name, sub, self._body(), dry)
                self._send(200, self._encode(res, out, sub))
            elif method == "PATCH":
                body = self._body()
                out = api.patch(res, ns, name, sub, body, self.headers.get("Content-Type", ""), dry)
                self._send(200, self._encode(res, out, sub))
            elif method == "DELETE":
                body = self._body() or {}
                prop = q.get("propagationPolicy") or (body.get("propagationPolicy") if isinstance(body, dict) else None)
                out = api.delete(res, ns, name, dry, prop)
                self._send_obj(200, out)
        except StoreError as e:
            self._error(e)
        except sel.SelectorError as e:
            self._error(StoreError(400, "BadRequest", str(e)))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 - answer 500 like a server would
            import traceback

            traceback.print_exc()
            self._error(StoreError(500, "InternalError", f"Internal error occurred: {e}"))

    def _encode(self, res: Resource, obj: Obj, sub: str | None) -> bytes:
        if sub is None and obj.get("metadata", {}).get("resourceVersion"):
            stored = self.api.store.get(res.name, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            if stored is obj:
                return self.api.store.encoded(res.name, obj)
        return dumps(obj)

    def _send_list(self, res: Resource, items: list[Obj], rv: str, accept: str, q: dict[str, str]) -> None:
        if "as=Table" in accept:
            self._send_obj(200, tables.table(res.name, items, rv, q.get("includeObject", "Metadata")))
            return
        store = self.api.store
        head = dumps({"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": {"resourceVersion": rv}})
        body = head[:-1] + b',"items":[' + b",".join(store.encoded(res.name, o) for o in items) + b"]}"
        self._send(200, body)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _watch(self, res: Resource, ns: str | None, q: dict[str, str], accept: str) -> None:
        api = self.api
        labels = sel.parse_label_selector(q.get("labelSelector"))
        fields = sel.parse_field_selector(q.get("fieldSelector"))
        fns = sel.field_equals(q.get("fieldSelector"), "metadata.namespace")
        if ns is None and fns is not None:
            ns = fns
        initial = q.get("sendInitialEvents") == "true"
        w = api.store.watch(res.name, ns, labels, fields, q.get("resourceVersion"), initial=initial)
        try:
            timeout = float(q.get("timeoutSeconds") or 1800)
        except ValueError:
            timeout = 1800.0
        deadline = time.monotonic() + timeout
        as_table = "as=Table" in accept
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        first = True
        try:
            while not api.stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    item = w.queue.get(timeout=min(left, 0.5))
                except queue.Empty:
                    continue
                if item is None:
                    break
                etype, data = item
                if as_table and etype in ("ADDED", "MODIFIED", "DELETED"):
                    obj = json.loads(data)["object"]
                    data = dumps({"type": etype, "object": tables.table(
                        res.name, [obj], obj["metadata"].get("resourceVersion", ""),
                        q.get("includeObject", "Metadata"), with_columns=first)})
                    first = False
                self._chunk(data + b"\n")
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        finally:
            api.store.unwatch(w)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def make_server(api: Api, host: str = "127.0.0.1", port: int = 0) -> Server:
    handler = type("BoundHandler", (Handler,), {"api": api})
    return Server((host, port), handler)
