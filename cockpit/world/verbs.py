"""The API's verbs, independent of HTTP: routing a path to a resource, authorization (the
``forbid`` switch), get / list / watch / create / update / patch (JSON, merge, strategic) /
delete with propagation, and the ``status`` and ``scale`` subresources. Failures are
:class:`~cockpit.world.store.StoreError`, which the HTTP layer turns into ``kind: Status``.
"""
from __future__ import annotations

import collections
import copy
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from cockpit.world import kube, patch
from cockpit.world.proxy import Proxy
from cockpit.world import selectors as sel
from cockpit.world.resources import RESOURCES, Resource
from cockpit.world.store import Obj, Store, StoreError, Watcher, already_exists

if TYPE_CHECKING:
    from cockpit.world.controller import Controller

LOG_LIMIT = 100_000
ANONYMOUS = "system:anonymous"
NOT_FOUND = "the server could not find the requested resource"
TRUE = ("1", "t", "T", "true", "True", "TRUE")


def _not_found() -> StoreError:
    return StoreError(404, "NotFound", NOT_FOUND)


def request_verb(method: str, name: str | None, query: dict[str, str]) -> str:
    """The authorization verb of a request, as the API server's RequestInfo derives it."""
    if method in ("GET", "HEAD"):
        if name is not None:
            return "get"
        return "watch" if query.get("watch") in TRUE else "list"
    if method == "DELETE":
        return "delete" if name is not None else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())


class Api:
    """The API's logic: the HTTP layer (:mod:`.server`) parses, calls one verb, encodes."""

    def __init__(self, store: Store, controller: "Controller", version: str = "v1.30.0") -> None:
        self.store = store
        self.controller = controller
        self.version = version
        # The last requests (bounded: a drill may run for hours) and counts by method (never trimmed).
        self.log: collections.deque[tuple[str, str]] = collections.deque(maxlen=LOG_LIMIT)
        self.method_counts: collections.Counter[str] = collections.Counter()
        # the Authorization headers seen, as scheme + the credential's last 8 characters (never
        # authenticated: the world accepts anyone; tests check what a client sends)
        self.credentials: set[str] = set()
        self._log_lock = threading.Lock()
        self.stopping = threading.Event()
        # pod, query → log text; the World plugs in its simulated logs
        self.pod_log: Callable[[Obj, dict[str, str]], str] = lambda pod, q: ""
        # services/NAME/proxy and pods/NAME/proxy (the World plugs in what answers behind them)
        self.proxy = Proxy(store)
        # resource → the verbs refused with 403 (None: every verb); see forbid()
        self.forbidden: dict[str, frozenset[str] | None] = {}
        self.user = ANONYMOUS

    # ------------------------------------------------------------------ request log
    def record(self, method: str, path: str, authorization: str | None = None) -> None:
        with self._log_lock:
            self.log.append((method, path))
            self.method_counts[method] += 1
            if authorization:
                self.credentials.add(authorization.split(" ", 1)[0] + " " + authorization.split(" ", 1)[-1][-8:])

    def requests(self) -> list[tuple[str, str]]:
        with self._log_lock:
            return list(self.log)

    def counts(self) -> dict[str, int]:
        with self._log_lock:
            return dict(self.method_counts)

    def clear_log(self) -> None:
        with self._log_lock:
            self.log.clear()
            self.method_counts.clear()

    # ------------------------------------------------------------------ authorization
    def forbid(self, resource: str, verbs: Iterable[str] | None = None) -> None:
        """Refuse requests for ``resource`` (plural, e.g. ``"leases"``) with 403 Forbidden, as
        RBAC would for a user without a role for it: every verb, or only ``verbs``
        (``"create"``, ``"update"``, ``"get"``...). Requests made in process are not checked."""
        if resource not in RESOURCES:
            raise ValueError(f"unknown resource {resource!r} (known: {', '.join(sorted(RESOURCES))})")
        self.forbidden[resource] = None if verbs is None else frozenset(verbs)

    def allow(self, resource: str) -> None:
        """Lift :meth:`forbid` for ``resource``."""
        self.forbidden.pop(resource, None)

    def authorize(self, verb: str, res: Resource, ns: str | None, name: str | None, sub: str | None) -> None:
        """Raise the 403 the API server's RBAC authorizer answers, if ``res`` is forbidden."""
        if res.name not in self.forbidden:
            return
        verbs = self.forbidden[res.name]
        if verbs is not None and verb not in verbs:
            return
        resource = f"{res.name}/{sub}" if sub else res.name
        reason = f'User "{self.user}" cannot {verb} resource "{resource}" in API group "{res.group}"'
        reason += f' in the namespace "{ns}"' if ns else " at the cluster scope"
        message = f'{res.qualified} "{name}" is forbidden: {reason}' if name else f"{res.qualified} is forbidden: {reason}"
        details: Obj = {"group": res.group, "kind": res.name}
        if name:
            details["name"] = name
        raise StoreError(403, "Forbidden", message, details)

    # ------------------------------------------------------------------ routing
    @staticmethod
    def parse_path(path: str) -> tuple[Resource, str | None, str | None, str | None]:
        """(resource, namespace or None, name, subresource) or raise 404."""
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            rest, group = parts[2:], ""
        elif len(parts) >= 3 and parts[0] == "apis" and parts[1] and parts[2] == "v1":
            rest, group = parts[3:], parts[1]
        else:
            raise _not_found()
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] in RESOURCES and RESOURCES[rest[2]].namespaced:
            ns, rest = rest[1], rest[2:]
        if not rest or rest[0] not in RESOURCES or RESOURCES[rest[0]].group != group or len(rest) > 3:
            raise _not_found()
        res = RESOURCES[rest[0]]
        if res.namespaced is False and ns is not None:
            raise _not_found()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub is not None and sub not in res.subresources:
            raise _not_found()
        if res.namespaced and name is not None and ns is None:
            raise _not_found()
        return res, ns, name, sub

    # ------------------------------------------------------------------ reading
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

    def selection(self, res: Resource, ns: str | None, q: dict[str, str]
                  ) -> tuple[str | None, tuple[sel.Requirement, ...], Any, str | None]:
        """(namespace, label requirements, field predicate, pinned name) of a list or watch."""
        labels = sel.parse_label_selector(q.get("labelSelector"))
        fsel = q.get("fieldSelector")
        fields = sel.parse_field_selector(fsel)
        if fields is not None and res.field_labels is not None:
            for path, _eq, _value in fields.terms:
                if path not in res.field_labels:
                    raise StoreError(400, "BadRequest", f"field label not supported: {path}")
        fns = sel.field_equals(fsel, "metadata.namespace")
        if ns is None and fns is not None:
            ns = fns
        return ns, labels, fields, sel.field_equals(fsel, "metadata.name")

    def list(self, res: Resource, ns: str | None, q: dict[str, str]) -> tuple[list[Obj], str]:
        ns, labels, fields, name = self.selection(res, ns, q)
        with self.store.lock:
            return self.store.list(res.name, ns, labels, fields, name=name), self.store.resource_version

    def watch(self, res: Resource, ns: str | None, q: dict[str, str]) -> Watcher:
        """Register a watcher (the caller streams its queue and must ``store.unwatch`` it)."""
        ns, labels, fields, _name = self.selection(res, ns, q)
        initial = q.get("sendInitialEvents") == "true"
        return self.store.watch(res.name, ns, labels, fields, q.get("resourceVersion"), initial=initial)

    def pod_log_text(self, ns: str | None, name: str, q: dict[str, str]) -> str:
        pod = self.store.require("pods", ns or "", name)
        cs = [c["name"] for c in pod["spec"].get("containers") or []]
        if q.get("container") and q["container"] not in cs:
            raise StoreError(400, "BadRequest", f"container {q['container']} is not valid for pod {name}")
        if not q.get("container") and len(cs) > 1:
            raise StoreError(400, "BadRequest", f"a container name must be specified for pod {name}, "
                             f"choose one of: [{' '.join(cs)}]")
        return self.pod_log(pod, q)

    # ------------------------------------------------------------------ writing
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
        return self.put(res, ns, name, sub, body, dry_run)[0]

    def put(self, res: Resource, ns: str | None, name: str, sub: str | None, body: Obj, dry_run: bool
            ) -> tuple[Obj, bool]:
        """A PUT: (the object written, whether it was created — a Lease may be created by PUT)."""
        with self.store.lock:
            rv = (body.get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
            cur = self.store.get(res.name, ns or "", name)
            if cur is None and res.create_on_update and sub is None and isinstance(body, dict):
                md = body.get("metadata") or {}
                if md.get("name") not in (None, name):
                    raise StoreError(400, "BadRequest", "the name of the object does not match the name on the URL")
                return self.create(res, ns, dict(body, metadata=dict(md, name=name)), dry_run), True
            if cur is None:
                cur = self.store.require(res.name, ns or "", name)
            if not rv and not res.unconditional_update and sub is None:
                raise kube.invalid(res.qualified, name, [("metadata.resourceVersion",
                                                          "Invalid value: 0x0: must be specified for an update")],
                                   group=res.group, details_kind=res.name)
            out = self._store_write(res, sub, cur, body, dry_run, rv or None)
        return (self.scale_of(res, out) if sub == "scale" else out), False

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

    def delete_collection(self, res: Resource, ns: str | None, q: dict[str, str], dry_run: bool) -> Obj:
        items, _ = self.list(res, ns, q)
        for o in items:
            self.delete(res, o["metadata"].get("namespace") or None, o["metadata"]["name"], dry_run, None)
        return {"kind": res.kind + "List", "apiVersion": res.api_version, "metadata": {}, "items": items}

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
            self.controller.pod_deleted(obj)
        if resource in ("replicasets", "pods"):
            self.controller.touch_owner_of(gone)
        return gone
