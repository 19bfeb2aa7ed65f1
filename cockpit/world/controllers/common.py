"""What the controllers share: how pods of an image behave, the Event recorder, and small
readers of ReplicaSets and pods."""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cockpit.world import kube
from cockpit.world.clock import Clock
from cockpit.world.store import Obj, Store


@dataclass(frozen=True)
class PodBehaviour:
    """How pods running an image behave: seconds to Ready, or crash-looping."""

    ready_after: float = 2.0
    crash: bool = False


Behaviour = Callable[[str], PodBehaviour]


def template_behaviour(behaviour: Behaviour, template: Obj) -> PodBehaviour:
    """How a pod of ``template`` behaves: ready when its slowest container is, crashing if any does."""
    images = [c.get("image", "") for c in (template.get("spec") or {}).get("containers") or []]
    bs = [behaviour(i) for i in images] or [PodBehaviour()]
    return PodBehaviour(ready_after=max(b.ready_after for b in bs), crash=any(b.crash for b in bs))


def revision_of(rs: Obj) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(kube.REVISION, "0"))
    except ValueError:
        return 0


def owned_by(obj: Obj, uid: str) -> bool:
    return any(o.get("uid") == uid and o.get("controller") for o in obj["metadata"].get("ownerReferences") or [])


def spec_replicas(rs: Obj) -> int:
    return int(rs["spec"].get("replicas", 0) or 0)


def status_count(rs: Obj, field: str) -> int:
    return int((rs.get("status") or {}).get(field, 0) or 0)


def by_creation(rss: list[Obj]) -> list[Obj]:
    return sorted(rss, key=lambda r: (r["metadata"].get("creationTimestamp") or "", r["metadata"]["name"]))


def compact_status(status: dict[str, Any]) -> dict[str, Any]:
    """Drop zero counters, as the Go structs' omitempty does."""
    return {k: v for k, v in status.items() if not (isinstance(v, int) and v == 0 and k != "observedGeneration")}


def pod_ready(pod: Obj) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


class Events:
    """Records core/v1 Events the way the controllers' event broadcasters do: a repeated
    (object, reason, message) bumps ``count`` and ``lastTimestamp`` of the existing Event."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def event(self, obj: Obj, etype: str, reason: str, message: str, component: str) -> None:
        md = obj["metadata"]
        ns = md.get("namespace") or "default"
        kind = obj.get("kind", "")
        now = kube.iso(self.clock.wall())
        key = f"{md['name']}.{abs(hash((md.get('uid'), reason, message))) % (1 << 48):012x}"
        existing = self.store.get("events", ns, key)
        if existing is not None:
            ev = copy.deepcopy(existing)
            ev["count"] = int(ev.get("count", 1)) + 1
            ev["lastTimestamp"] = now
            self.store.update("events", ev)
            return
        ev = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": key, "namespace": ns, "creationTimestamp": now},
            "involvedObject": {
                "kind": kind,
                "namespace": ns,
                "name": md["name"],
                "uid": md.get("uid", ""),
                "apiVersion": obj.get("apiVersion", "v1"),
                "resourceVersion": md.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message,
            "source": {"component": component},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": etype,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": "",
        }
        if kind == "Pod":
            ev["involvedObject"]["fieldPath"] = f"spec.containers{{{obj['spec']['containers'][0]['name']}}}"
            if reason == "Scheduled":
                ev["involvedObject"].pop("fieldPath")
        self.store.create("events", ev)
