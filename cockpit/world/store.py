"""The world's object store: versioned, indexed, watchable.

Objects are plain dicts in their API (JSON) shape. Each is indexed by (resource, namespace)
and by its labels, so a list with ``app=web`` among 20,000 ReplicaSets touches only the
matching ones. Stored objects are never mutated in place: writers hand in a new dict, readers
may hold the old one. Each object's JSON encoding is cached until it changes, so a list is
mostly a ``b",".join``.

Every write bumps the global ``resourceVersion`` and is offered to the watchers whose
namespace / label / field filters match; the last few thousand events are kept so a watch can
resume from a recent resourceVersion (older ones get 410 Gone, as from the real server).
"""
from __future__ import annotations

import collections
import itertools
import json
import queue
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cockpit.world import selectors as sel
from cockpit.world.resources import RESOURCES, group_of, qualified

Obj = dict[str, Any]
Key = tuple[str, str]  # (resource, namespace)

HISTORY = 20000  # watch events kept for resuming


class StoreError(Exception):
    """An API-level failure: carries the HTTP code and the Status reason."""

    def __init__(self, code: int, reason: str, message: str, details: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = dict(details or {})


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class Watcher:
    resource: str
    namespace: str | None
    labels: tuple[sel.Requirement, ...]
    fields: Callable[[Mapping[str, Any]], bool] | None
    queue: "queue.Queue[tuple[str, bytes] | None]" = field(default_factory=queue.Queue)

    def wants(self, resource: str, obj: Obj) -> bool:
        if resource != self.resource:
            return False
        md = obj.get("metadata", {})
        if self.namespace is not None and md.get("namespace", "") != self.namespace:
            return False
        if self.labels and not sel.matches(self.labels, md.get("labels")):
            return False
        return self.fields is None or self.fields(obj)


class Store:
    """Thread-safe store. ``lock`` is public so the controller can do read-modify-write."""

    def __init__(self, now: Callable[[], str]) -> None:
        self.lock = threading.RLock()
        self.now = now
        self._rv = 1000
        self._objs: dict[Key, dict[str, Obj]] = collections.defaultdict(dict)
        self._labels: dict[Key, dict[tuple[str, str], set[str]]] = collections.defaultdict(
            lambda: collections.defaultdict(set)
        )
        self._json: dict[tuple[str, str, str], tuple[Obj, bytes]] = {}
        self._history: collections.deque[tuple[int, str, str, Obj]] = collections.deque(maxlen=HISTORY)
        self._watchers: list[Watcher] = []
        self._listeners: list[Callable[[str, str, Obj], None]] = []
        self._seq = itertools.count()

    # ------------------------------------------------------------------ reading
    @property
    def resource_version(self) -> str:
        return str(self._rv)

    def get(self, resource: str, namespace: str, name: str) -> Obj | None:
        with self.lock:
            return self._objs.get((resource, namespace), {}).get(name)

    def require(self, resource: str, namespace: str, name: str) -> Obj:
        obj = self.get(resource, namespace, name)
        if obj is None:
            raise not_found(resource, name)
        return obj

    def list(
        self,
        resource: str,
        namespace: str | None = None,
        labels: tuple[sel.Requirement, ...] = (),
        fields: Callable[[Mapping[str, Any]], bool] | None = None,
        name: str | None = None,
    ) -> list[Obj]:
        """Objects of ``resource`` (in ``namespace``, or all when None), sorted by ns/name."""
        with self.lock:
            keys = [(resource, namespace)] if namespace is not None else sorted(
                k for k in self._objs if k[0] == resource
            )
            out: list[Obj] = []
            eq = sel.equality_terms(labels)
            for key in keys:
                bucket = self._objs.get(key)
                if not bucket:
                    continue
                if name is not None:
                    names: Iterable[str] = [name] if name in bucket else []
                elif eq:
                    idx = self._labels[key]
                    sets = [idx.get(t, set()) for t in eq]
                    names = sorted(set.intersection(*sets)) if sets else []
                else:
                    names = sorted(bucket)
                for n in names:
                    obj = bucket[n]
                    if labels and not sel.matches(labels, obj["metadata"].get("labels")):
                        continue
                    if fields is not None and not fields(obj):
                        continue
                    out.append(obj)
            return out

    def encoded(self, resource: str, obj: Obj) -> bytes:
        """The JSON encoding of a stored object, cached per object identity."""
        md = obj["metadata"]
        ck = (resource, md.get("namespace", ""), md["name"])
        cached = self._json.get(ck)
        if cached is not None and cached[0] is obj:
            return cached[1]
        data = dumps(obj)
        self._json[ck] = (obj, data)
        return data

    def namespaces_of(self, resource: str) -> list[str]:
        with self.lock:
            return sorted(k[1] for k, v in self._objs.items() if k[0] == resource and v)

    # ------------------------------------------------------------------ writing
    def _bump(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _index(self, key: Key, name: str, labels: Mapping[str, str] | None, add: bool) -> None:
        idx = self._labels[key]
        for kv in (labels or {}).items():
            if add:
                idx[kv].add(name)
            else:
                s = idx.get(kv)
                if s is not None:
                    s.discard(name)
                    if not s:
                        del idx[kv]

    def _emit(self, etype: str, resource: str, obj: Obj) -> None:
        self._history.append((self._rv, etype, resource, obj))
        if self._watchers:
            data = None
            for w in self._watchers:
                if w.wants(resource, obj):
                    if data is None:
                        data = dumps({"type": etype, "object": obj})
                    w.queue.put((etype, data))
        for fn in self._listeners:
            fn(etype, resource, obj)

    def create(self, resource: str, obj: Obj, *, generation: bool = False) -> Obj:
        """Insert ``obj`` (taking ownership of it). Fills uid, timestamps, resourceVersion."""
        with self.lock:
            md = obj.setdefault("metadata", {})
            ns = md.get("namespace", "")
            if not md.get("name") and md.get("generateName"):
                md["name"] = self.generate_name(resource, ns, md["generateName"])
            name = md.get("name")
            if not name:
                raise StoreError(422, "Invalid", "metadata.name: Required value: name or generateName is required")
            key = (resource, ns)
            if name in self._objs[key]:
                raise already_exists(resource, name)
            md["uid"] = str(uuid.uuid4())
            md.setdefault("creationTimestamp", self.now())
            md["resourceVersion"] = self._bump()
            if generation:
                md["generation"] = 1
            self._objs[key][name] = obj
            self._index(key, name, md.get("labels"), True)
            self._emit("ADDED", resource, obj)
            return obj

    def generate_name(self, resource: str, namespace: str, prefix: str) -> str:
        import random

        alphabet = "bcdfghjklmnpqrstvwxz2456789"
        bucket = self._objs[(resource, namespace)]
        while True:
            name = prefix + "".join(random.choice(alphabet) for _ in range(5))
            if name not in bucket:
                return name

    def update(self, resource: str, obj: Obj, *, expect_rv: str | None = None) -> Obj:
        """Replace the stored object with ``obj`` (taking ownership). Optionally check RV."""
        with self.lock:
            md = obj["metadata"]
            ns, name = md.get("namespace", ""), md["name"]
            key = (resource, ns)
            old = self._objs[key].get(name)
            if old is None:
                raise not_found(resource, name)
            if expect_rv and expect_rv != old["metadata"].get("resourceVersion"):
                raise StoreError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {qualified(resource)} "{name}": the object has been '
                    "modified; please apply your changes to the latest version and try again",
                    {"name": name, "group": group_of(resource), "kind": resource},
                )
            for k in ("uid", "creationTimestamp"):
                md[k] = old["metadata"].get(k)
            md["resourceVersion"] = self._bump()
            self._index(key, name, old["metadata"].get("labels"), False)
            self._objs[key][name] = obj
            self._index(key, name, md.get("labels"), True)
            self._json.pop((resource, ns, name), None)
            self._emit("MODIFIED", resource, obj)
            return obj

    def delete(self, resource: str, namespace: str, name: str) -> Obj:
        with self.lock:
            key = (resource, namespace)
            old = self._objs[key].pop(name, None)
            if old is None:
                raise not_found(resource, name)
            self._index(key, name, old["metadata"].get("labels"), False)
            self._json.pop((resource, namespace, name), None)
            gone = dict(old)
            gone["metadata"] = dict(old["metadata"], resourceVersion=self._bump())
            self._emit("DELETED", resource, gone)
            return gone

    def add_listener(self, fn: Callable[[str, str, Obj], None]) -> None:
        """Call ``fn(event_type, resource, obj)`` under the lock after every write."""
        self._listeners.append(fn)

    # ------------------------------------------------------------------ watching
    def watch(
        self,
        resource: str,
        namespace: str | None,
        labels: tuple[sel.Requirement, ...],
        fields: Callable[[Mapping[str, Any]], bool] | None,
        since: str | None,
        initial: bool = False,
    ) -> Watcher:
        """Register a watcher. Events after ``since`` are queued first; with no ``since`` (or
        ``initial``) the current objects are queued as ADDED."""
        w = Watcher(resource, namespace, labels, fields)
        with self.lock:
            if not since or since == "0" or initial:
                for obj in self.list(resource, namespace, labels, fields):
                    w.queue.put(("ADDED", dumps({"type": "ADDED", "object": obj})))
                if initial:
                    w.queue.put(("BOOKMARK", dumps(self.bookmark(resource, initial_end=True))))
            else:
                try:
                    since_i = int(since)
                except ValueError:
                    raise StoreError(400, "BadRequest", f"invalid resourceVersion {since!r}") from None
                oldest = self._history[0][0] if self._history else self._rv + 1
                if since_i < self._rv and since_i < oldest - 1:
                    w.queue.put(("ERROR", dumps({"type": "ERROR", "object": status_obj(
                        410, "Expired", f"too old resource version: {since_i} ({oldest - 1})")})))
                    w.queue.put(None)
                    return w
                for rv, etype, res, obj in self._history:
                    if rv > since_i and w.wants(res, obj):
                        w.queue.put((etype, dumps({"type": etype, "object": obj})))
            self._watchers.append(w)
        return w

    def bookmark(self, resource: str, initial_end: bool = False) -> dict[str, Any]:
        r = RESOURCES.get(resource)
        api, kind = (r.api_version, r.kind) if r is not None else ("v1", "Unknown")
        md: dict[str, Any] = {"resourceVersion": self.resource_version}
        if initial_end:
            md["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api, "metadata": md}}

    def unwatch(self, w: Watcher) -> None:
        with self.lock:
            if w in self._watchers:
                self._watchers.remove(w)

    def close_watchers(self) -> None:
        with self.lock:
            for w in self._watchers:
                w.queue.put(None)
            self._watchers.clear()

    def iter_all(self) -> Iterator[tuple[str, Obj]]:
        with self.lock:
            for (res, _ns), bucket in list(self._objs.items()):
                for obj in list(bucket.values()):
                    yield res, obj


# ---------------------------------------------------------------------- Status objects

def status_obj(code: int, reason: str, message: str, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        out["details"] = dict(details)
    return out


def not_found(resource: str, name: str) -> StoreError:
    return StoreError(404, "NotFound", f'{qualified(resource)} "{name}" not found',
                      {"name": name, "group": group_of(resource), "kind": resource})


def already_exists(resource: str, name: str) -> StoreError:
    return StoreError(409, "AlreadyExists", f'{qualified(resource)} "{name}" already exists',
                      {"name": name, "group": group_of(resource), "kind": resource})
