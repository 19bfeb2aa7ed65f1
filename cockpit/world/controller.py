"""The deployment controller, ReplicaSet controller and kubelet, simulated.

It mirrors the laws of kube-controller-manager's deployment controller
(pkg/controller/deployment: sync.go, rolling.go, recreate.go, progress.go, util):

- one ReplicaSet per pod-template hash, owned by the Deployment, labelled and selected by
  ``pod-template-hash``;
- the ReplicaSet that becomes the new one gets ``deployment.kubernetes.io/revision`` = max of
  the old ReplicaSets' revisions + 1; an old ReplicaSet re-used by a rollback is re-numbered and
  its former number moves to ``deployment.kubernetes.io/revision-history``;
- the Deployment's annotations (``kubernetes.io/change-cause``...) are copied onto the new
  ReplicaSet; ``revisionHistoryLimit`` prunes old, fully scaled-down ReplicaSets;
- ``spec.paused`` stops the rollout (no new ReplicaSet); RollingUpdate steps within
  maxSurge/maxUnavailable; Recreate scales the old ones to zero first;
- status and the Progressing / Available conditions are written the way
  ``kubectl rollout status`` reads them, including ProgressDeadlineExceeded.

Pods are simulated too: they start, become Ready after the time their image's behaviour says,
or crash-loop with growing back-off. All durations are simulated seconds (see :mod:`clock`).
"""
from __future__ import annotations

import copy
import itertools
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cockpit.world import kube
from cockpit.world import selectors as sel
from cockpit.world.clock import Clock
from cockpit.world.store import Obj, Store

PROGRESSING = "Progressing"
AVAILABLE = "Available"
NODES = ("drill-node-1", "drill-node-2", "drill-node-3")
START_DELAY = 1.0  # simulated seconds from pod creation to container start


@dataclass(frozen=True)
class PodBehaviour:
    """How pods running an image behave: seconds to Ready, or crash-looping."""

    ready_after: float = 2.0
    crash: bool = False


@dataclass
class PodSim:
    created: float
    start_at: float
    ready_at: float
    crash: bool
    phase: str = "creating"  # creating → running → ready | crashing
    restarts: int = 0
    next_restart: float = 0.0
    backoff: float = 10.0
    last_restart_wall: float = 0.0


def _revision(rs: Obj) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(kube.REVISION, "0"))
    except ValueError:
        return 0


def _owned_by(obj: Obj, uid: str) -> bool:
    return any(o.get("uid") == uid and o.get("controller") for o in obj["metadata"].get("ownerReferences") or [])


def _replicas(rs: Obj) -> int:
    return int(rs["spec"].get("replicas", 0) or 0)


def _st(rs: Obj, field: str) -> int:
    return int((rs.get("status") or {}).get(field, 0) or 0)


def _by_creation(rss: list[Obj]) -> list[Obj]:
    return sorted(rss, key=lambda r: (r["metadata"].get("creationTimestamp") or "", r["metadata"]["name"]))


def _compact_status(status: dict[str, Any]) -> dict[str, Any]:
    """Drop zero counters, as the Go structs' omitempty does."""
    return {k: v for k, v in status.items() if not (isinstance(v, int) and v == 0 and k != "observedGeneration")}


class Controller:
    def __init__(self, store: Store, clock: Clock, behaviour: Callable[[str], PodBehaviour]) -> None:
        self.store = store
        self.clock = clock
        self.behaviour = behaviour
        self.active: set[tuple[str, str]] = set()
        self.pods: dict[tuple[str, str], PodSim] = {}
        self.progress_at: dict[tuple[str, str], float] = {}
        self.wake = threading.Event()
        self._ip = itertools.count(2)
        self.ticks = 0

    # ------------------------------------------------------------------ scheduling
    def touch(self, namespace: str, name: str) -> None:
        """A deployment changed: sync it at the next tick (which comes at once)."""
        with self.store.lock:
            self.active.add((namespace, name))
        self.wake.set()

    def touch_owner_of(self, obj: Obj) -> None:
        """A ReplicaSet or pod changed or went away: resync the deployment above it."""
        ns = obj["metadata"].get("namespace", "")
        for ref in obj["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "Deployment":
                self.touch(ns, ref["name"])
            elif ref.get("kind") == "ReplicaSet":
                rs = self.store.get("replicasets", ns, ref["name"])
                if rs is not None:
                    self.touch_owner_of(rs)

    def pod_deleted(self, pod: Obj) -> None:
        """A pod was deleted through the API: the kubelet stops its containers."""
        md = pod["metadata"]
        self.pods.pop((md.get("namespace", ""), md["name"]), None)
        for c in pod["spec"].get("containers") or []:
            self.event(pod, "Normal", "Killing", f"Stopping container {c['name']}", "kubelet")

    def busy(self) -> bool:
        return bool(self.active)

    def step(self) -> None:
        """One controller pass at the current simulated time."""
        with self.store.lock:
            self.ticks += 1
            now = self.clock.sim()
            self._advance_pods(now)
            for key in sorted(self.active):
                dep = self.store.get("deployments", *key)
                if dep is None:
                    self.active.discard(key)
                    self.progress_at.pop(key, None)
                    continue
                if not self.sync(dep, now):
                    self.active.discard(key)

    def settle(self, max_seconds: float = 3600.0, dt: float = 1.0) -> float:
        """Fast-forward simulated time in ``dt`` steps until nothing is in flight (crash-looping
        deployments never settle; they stop at ``max_seconds``). Returns seconds advanced."""
        spent = 0.0
        while spent < max_seconds:
            self.step()
            if not self.active:
                break
            self.clock.fast_forward(dt)
            spent += dt
        return spent

    def next_due(self) -> float | None:
        """The simulated time of the next scheduled pod transition or progress deadline."""
        due: float | None = None
        for ps in self.pods.values():
            t = {"creating": ps.start_at, "running": ps.ready_at, "crashing": ps.next_restart}.get(ps.phase)
            if t is not None and (due is None or t < due):
                due = t
        for key in self.active:
            dep = self.store.get("deployments", *key)
            deadline = int((dep or {}).get("spec", {}).get("progressDeadlineSeconds") or 0)
            if deadline and key in self.progress_at:
                t = self.progress_at[key] + deadline + 0.001
                if due is None or t < due:
                    due = t
        return due

    def run(self, stop: threading.Event, interval: float = 0.25, min_interval: float = 0.02) -> None:
        """The controller thread. It sleeps until the next thing is due (a pod becoming ready,
        a restart, a deadline), at most ``interval`` seconds, and wakes at once on API writes;
        so it ticks a few times a second at most when idle, whatever the speed."""
        while not stop.is_set():
            self.clock.tick()
            rv = self.store.resource_version
            try:
                self.step()
            except Exception:  # noqa: BLE001 - a simulation bug must not kill the world
                import traceback

                traceback.print_exc()
            wait = interval
            if self.active and self.store.resource_version != rv:
                wait = min_interval  # things are moving: look again soon
            else:
                with self.store.lock:
                    due = self.next_due()
                if due is not None:
                    wait = min(interval, max(min_interval, (due - self.clock.sim()) / self.clock.speed))
            self.wake.wait(wait)
            self.wake.clear()

    # ------------------------------------------------------------------ writing helpers
    def _write(self, resource: str, new: Obj, old: Obj) -> Obj:
        if new == old:
            return old
        if resource in ("deployments", "replicasets") and new.get("spec") != old.get("spec"):
            new["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        return self.store.update(resource, new)

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

    # ------------------------------------------------------------------ deployment sync
    def owned_replicasets(self, dep: Obj) -> list[Obj]:
        md = dep["metadata"]
        reqs = sel.selector_from_label_selector(dep["spec"].get("selector"))
        return [rs for rs in self.store.list("replicasets", md.get("namespace", ""), reqs) if _owned_by(rs, md["uid"])]

    def find_new_rs(self, dep: Obj, rss: list[Obj]) -> Obj | None:
        for rs in _by_creation(rss):
            if kube.equal_ignore_hash(rs["spec"]["template"], dep["spec"]["template"]):
                return rs
        return None

    def sync(self, dep: Obj, now: float) -> bool:
        """Reconcile one deployment. Returns True while something is still in flight."""
        if dep["metadata"].get("deletionTimestamp"):
            return False
        rv_before = self.store.resource_version
        rss = self.owned_replicasets(dep)
        dep = self._check_paused_condition(dep)
        spec = dep["spec"]
        if spec.get("paused"):
            new_rs, old_rss = self._new_and_old(dep, rss, create=False)
            if new_rs is not None and not any(_replicas(r) for r in old_rss):
                self._scale(dep, new_rs, int(spec.get("replicas", 1)))
            self._cleanup(dep, old_rss)
        elif (spec.get("strategy") or {}).get("type") == "Recreate":
            self._rollout_recreate(dep, rss)
        else:
            self._rollout_rolling(dep, rss)
        in_flight = False
        for rs in self.owned_replicasets(dep):
            in_flight |= self._reconcile_rs(rs, now)
        dep = self.store.get("deployments", dep["metadata"].get("namespace", ""), dep["metadata"]["name"]) or dep
        rss = self.owned_replicasets(dep)
        new_rs = self.find_new_rs(dep, rss)
        dep = self._sync_status(dep, rss, new_rs, now)
        st = dep["status"]
        complete = (
            st.get("updatedReplicas", 0) == spec.get("replicas", 1)
            and st.get("replicas", 0) == spec.get("replicas", 1)
            and st.get("availableReplicas", 0) == spec.get("replicas", 1)
        )
        timed_out = any(c.get("reason") == "ProgressDeadlineExceeded" for c in st.get("conditions", []))
        if self.store.resource_version != rv_before:
            return True  # something changed: look again (as the real controller re-queues on RS updates)
        if spec.get("paused"):
            return in_flight
        return in_flight or not (complete or timed_out) or self._has_crashers(rss)

    def _has_crashers(self, rss: list[Obj]) -> bool:
        for rs in rss:
            if _replicas(rs) and self.behaviour_of_template(rs["spec"]["template"]).crash:
                return True
        return False

    def behaviour_of_template(self, template: Obj) -> PodBehaviour:
        images = [c.get("image", "") for c in (template.get("spec") or {}).get("containers") or []]
        bs = [self.behaviour(i) for i in images] or [PodBehaviour()]
        return PodBehaviour(ready_after=max(b.ready_after for b in bs), crash=any(b.crash for b in bs))

    def _new_and_old(self, dep: Obj, rss: list[Obj], create: bool, replicas_for_new: int | None = None
                     ) -> tuple[Obj | None, list[Obj]]:
        existing = self.find_new_rs(dep, rss)
        old = [r for r in rss if r is not existing]
        new = self._get_new_rs(dep, existing, old, create, replicas_for_new)
        return new, old

    def _set_new_rs_annotations(self, dep: Obj, rs: Obj, new_revision: int, exists: bool) -> bool:
        ann = rs["metadata"].setdefault("annotations", {})
        before = dict(ann)
        for k, v in (dep["metadata"].get("annotations") or {}).items():
            if k not in kube.SKIP_ANNOTATIONS:
                ann[k] = v
        old_rev_text = before.get(kube.REVISION)
        old_rev = _revision(rs)
        if old_rev < new_revision:
            ann[kube.REVISION] = str(new_revision)
            if old_rev_text:
                hist = ann.get(kube.REVISION_HISTORY, "")
                parts = [p for p in hist.split(",") if p]
                parts.append(old_rev_text)
                ann[kube.REVISION_HISTORY] = ",".join(parts)
        if not exists:
            replicas = int(dep["spec"].get("replicas", 1))
            ann[kube.DESIRED_REPLICAS] = str(replicas)
            ann[kube.MAX_REPLICAS] = str(replicas + self._max_surge(dep))
        return ann != before

    def _max_surge(self, dep: Obj) -> int:
        if (dep["spec"].get("strategy") or {}).get("type") == "Recreate":
            return 0
        return kube.surge_and_unavailable(dep)[0]

    def _max_unavailable(self, dep: Obj) -> int:
        if (dep["spec"].get("strategy") or {}).get("type") == "Recreate" or int(dep["spec"].get("replicas", 1)) == 0:
            return 0
        surge, unavailable = kube.surge_and_unavailable(dep)
        return min(unavailable, int(dep["spec"].get("replicas", 1)))

    def _get_new_rs(self, dep: Obj, existing: Obj | None, old: list[Obj], create: bool,
                    replicas_for_new: int | None) -> Obj | None:
        md = dep["metadata"]
        ns = md.get("namespace", "")
        new_revision = max((_revision(r) for r in old), default=0) + 1
        if existing is not None:
            rs = copy.deepcopy(existing)
            self._set_new_rs_annotations(dep, rs, new_revision, exists=True)
            rs = self._write("replicasets", rs, existing)
            self._set_dep_revision(dep, rs, "FoundNewReplicaSet", f'Found new replica set "{rs["metadata"]["name"]}"',
                                   only_if_no_condition=True)
            return rs
        if not create:
            return None
        template = copy.deepcopy(dep["spec"]["template"])
        collision = int(dep.get("status", {}).get("collisionCount", 0) or 0)
        h = kube.template_hash(template, collision)
        template.setdefault("metadata", {}).setdefault("labels", {})[kube.HASH_LABEL] = h
        selector = copy.deepcopy(dep["spec"]["selector"])
        selector.setdefault("matchLabels", {})[kube.HASH_LABEL] = h
        if replicas_for_new is None:
            replicas_for_new = self._new_rs_replicas(dep, old, 0)
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{md['name']}-{h}",
                "namespace": ns,
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {},
                "ownerReferences": [{
                    "apiVersion": "apps/v1", "kind": "Deployment", "name": md["name"], "uid": md["uid"],
                    "controller": True, "blockOwnerDeletion": True,
                }],
            },
            "spec": {
                "replicas": replicas_for_new,
                "minReadySeconds": int(dep["spec"].get("minReadySeconds", 0) or 0),
                "selector": selector,
                "template": template,
            },
            "status": {"replicas": 0},
        }
        if not rs["spec"]["minReadySeconds"]:
            del rs["spec"]["minReadySeconds"]
        self._set_new_rs_annotations(dep, rs, new_revision, exists=False)
        rs = self.store.create("replicasets", rs, generation=True)
        if replicas_for_new > 0:
            self.event(dep, "Normal", "ScalingReplicaSet",
                       f"Scaled up replica set {rs['metadata']['name']} from 0 to {replicas_for_new}", "deployment-controller")
        self._set_dep_revision(dep, rs, "NewReplicaSetCreated", f'Created new replica set "{rs["metadata"]["name"]}"')
        return rs

    def _set_dep_revision(self, dep: Obj, rs: Obj, reason: str, message: str, only_if_no_condition: bool = False) -> None:
        ns, name = dep["metadata"].get("namespace", ""), dep["metadata"]["name"]
        cur = self.store.get("deployments", ns, name)
        if cur is None:
            return
        new = copy.deepcopy(cur)
        rev = rs["metadata"]["annotations"].get(kube.REVISION, "")
        ann = new["metadata"].setdefault("annotations", {})
        if ann.get(kube.REVISION) != rev:
            ann[kube.REVISION] = rev
        has_cond = any(c.get("type") == PROGRESSING for c in new.get("status", {}).get("conditions", []))
        if int(new["spec"].get("progressDeadlineSeconds") or 0) > 0 and (not only_if_no_condition or not has_cond):
            self._set_condition(new, PROGRESSING, "True", reason, message)
            self.progress_at[(ns, name)] = self.clock.sim()
        self._write("deployments", new, cur)

    def _new_rs_replicas(self, dep: Obj, old: list[Obj], current_new: int) -> int:
        replicas = int(dep["spec"].get("replicas", 1))
        if (dep["spec"].get("strategy") or {}).get("type") == "Recreate":
            return replicas
        if current_new == replicas:
            return current_new
        if current_new > replicas:
            return replicas
        max_total = replicas + self._max_surge(dep)
        current = sum(_replicas(r) for r in old) + current_new
        if current >= max_total:
            return current_new
        return current_new + min(max_total - current, replicas - current_new)

    def _scale(self, dep: Obj, rs: Obj, n: int) -> Obj:
        cur = self.store.get("replicasets", rs["metadata"].get("namespace", ""), rs["metadata"]["name"]) or rs
        old_n = _replicas(cur)
        new = copy.deepcopy(cur)
        new["spec"]["replicas"] = n
        ann = new["metadata"].setdefault("annotations", {})
        replicas = int(dep["spec"].get("replicas", 1))
        ann[kube.DESIRED_REPLICAS] = str(replicas)
        ann[kube.MAX_REPLICAS] = str(replicas + self._max_surge(dep))
        out = self._write("replicasets", new, cur)
        if n != old_n:
            direction = "up" if n > old_n else "down"
            self.event(dep, "Normal", "ScalingReplicaSet",
                       f"Scaled {direction} replica set {cur['metadata']['name']} from {old_n} to {n}",
                       "deployment-controller")
        return out

    def _rollout_rolling(self, dep: Obj, rss: list[Obj]) -> None:
        new_rs, old = self._new_and_old(dep, rss, create=True)
        assert new_rs is not None
        replicas = int(dep["spec"].get("replicas", 1))
        target = self._new_rs_replicas(dep, old, _replicas(new_rs))
        if target != _replicas(new_rs):
            self._scale(dep, new_rs, target)
            return
        if self._reconcile_old(dep, new_rs, old, replicas):
            return
        if all(_replicas(r) == 0 for r in old) and _st(new_rs, "availableReplicas") == replicas:
            self._cleanup(dep, old)

    def _reconcile_old(self, dep: Obj, new_rs: Obj, old: list[Obj], replicas: int) -> bool:
        old_pods = sum(_replicas(r) for r in old)
        if old_pods == 0:
            return False
        all_pods = old_pods + _replicas(new_rs)
        min_available = replicas - self._max_unavailable(dep)
        new_unavailable = _replicas(new_rs) - _st(new_rs, "availableReplicas")
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        scaled = 0
        fresh: list[Obj] = []
        for rs in _by_creation(old):
            spec_n, avail = _replicas(rs), _st(rs, "availableReplicas")
            if scaled >= max_scaled_down or spec_n == 0 or spec_n == avail:
                fresh.append(rs)
                continue
            down = min(max_scaled_down - scaled, spec_n - avail)
            fresh.append(self._scale(dep, rs, spec_n - down))
            scaled += down
        available = sum(_st(r, "availableReplicas") for r in fresh) + _st(new_rs, "availableReplicas")
        total_down = available - min_available
        done = 0
        for rs in _by_creation(fresh):
            if done >= total_down:
                break
            spec_n = _replicas(rs)
            if spec_n == 0:
                continue
            down = min(spec_n, total_down - done)
            self._scale(dep, rs, spec_n - down)
            done += down
        return scaled + done > 0

    def _rollout_recreate(self, dep: Obj, rss: list[Obj]) -> None:
        new_rs, old = self._new_and_old(dep, rss, create=False)
        active_old = [r for r in old if _replicas(r) > 0]
        for rs in active_old:
            self._scale(dep, rs, 0)
        if active_old:
            return
        if any(_st(r, "replicas") > 0 for r in old):
            return  # wait for the old pods to go away
        replicas = int(dep["spec"].get("replicas", 1))
        if new_rs is None:
            new_rs, old = self._new_and_old(dep, self.owned_replicasets(dep), create=True, replicas_for_new=replicas)
            assert new_rs is not None
        if _replicas(new_rs) != replicas:
            self._scale(dep, new_rs, replicas)
        if _st(new_rs, "availableReplicas") == replicas:
            self._cleanup(dep, old)

    def _cleanup(self, dep: Obj, old: list[Obj]) -> None:
        limit = dep["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        cleanable = [
            r for r in old
            if _replicas(r) == 0 and _st(r, "replicas") == 0
            and r["metadata"].get("generation", 1) == (r.get("status") or {}).get("observedGeneration", r["metadata"].get("generation", 1))
        ]
        diff = len(cleanable) - int(limit)
        if diff <= 0:
            return
        cleanable.sort(key=lambda r: (_revision(r), r["metadata"].get("creationTimestamp") or ""))
        for rs in cleanable[:diff]:
            self.store.delete("replicasets", rs["metadata"].get("namespace", ""), rs["metadata"]["name"])

    # ------------------------------------------------------------------ conditions and status
    def _set_condition(self, dep: Obj, ctype: str, status: str, reason: str, message: str) -> None:
        conds = dep.setdefault("status", {}).setdefault("conditions", [])
        now = kube.iso(self.clock.wall())
        cur = next((c for c in conds if c.get("type") == ctype), None)
        if cur is not None and cur.get("status") == status and cur.get("reason") == reason:
            return
        new = {"type": ctype, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
               "reason": reason, "message": message}
        if cur is not None and cur.get("status") == status:
            new["lastTransitionTime"] = cur.get("lastTransitionTime", now)
        dep["status"]["conditions"] = [c for c in conds if c.get("type") != ctype] + [new]

    def _check_paused_condition(self, dep: Obj) -> Obj:
        if not int(dep["spec"].get("progressDeadlineSeconds") or 0):
            return dep
        cond = next((c for c in dep.get("status", {}).get("conditions", []) if c.get("type") == PROGRESSING), None)
        if cond is not None and cond.get("reason") == "ProgressDeadlineExceeded":
            return dep
        paused = bool(dep["spec"].get("paused"))
        paused_cond = cond is not None and cond.get("reason") == "DeploymentPaused"
        new = copy.deepcopy(dep)
        if paused and not paused_cond:
            self._set_condition(new, PROGRESSING, "Unknown", "DeploymentPaused", "Deployment is paused")
        elif not paused and paused_cond:
            self._set_condition(new, PROGRESSING, "Unknown", "DeploymentResumed", "Deployment is resumed")
        else:
            return dep
        key = (dep["metadata"].get("namespace", ""), dep["metadata"]["name"])
        self.progress_at[key] = self.clock.sim()
        return self._write("deployments", new, dep)

    def _sync_status(self, dep: Obj, rss: list[Obj], new_rs: Obj | None, now: float) -> Obj:
        spec = dep["spec"]
        replicas = int(spec.get("replicas", 1))
        total_spec = sum(_replicas(r) for r in rss)
        available = sum(_st(r, "availableReplicas") for r in rss)
        st: dict[str, Any] = {
            "observedGeneration": int(dep["metadata"].get("generation", 1)),
            "replicas": sum(_st(r, "replicas") for r in rss),
            "updatedReplicas": _st(new_rs, "replicas") if new_rs is not None else 0,
            "readyReplicas": sum(_st(r, "readyReplicas") for r in rss),
            "availableReplicas": available,
            "unavailableReplicas": max(0, total_spec - available),
        }
        old_status = dep.get("status") or {}
        if old_status.get("collisionCount"):
            st["collisionCount"] = old_status["collisionCount"]
        new = copy.deepcopy(dep)
        new["status"] = dict(_compact_status(st), conditions=copy.deepcopy(old_status.get("conditions", [])))
        if available >= replicas - self._max_unavailable(dep):
            self._set_condition(new, AVAILABLE, "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        else:
            self._set_condition(new, AVAILABLE, "False", "MinimumReplicasUnavailable",
                                "Deployment does not have minimum availability.")
        key = (dep["metadata"].get("namespace", ""), dep["metadata"]["name"])
        deadline = int(spec.get("progressDeadlineSeconds") or 0)
        if not spec.get("paused") and deadline > 0:
            cond = next((c for c in new["status"]["conditions"] if c.get("type") == PROGRESSING), None)
            complete_already = cond is not None and cond.get("reason") == "NewReplicaSetAvailable" \
                and st["replicas"] == st["updatedReplicas"]
            rs_name = new_rs["metadata"]["name"] if new_rs is not None else ""
            is_complete = (st["updatedReplicas"] == replicas and st["replicas"] == replicas
                           and st["availableReplicas"] == replicas)
            old_old = int(old_status.get("replicas", 0)) - int(old_status.get("updatedReplicas", 0))
            new_old = st["replicas"] - st["updatedReplicas"]
            progressing = (st["updatedReplicas"] > int(old_status.get("updatedReplicas", 0)) or new_old < old_old
                           or st["readyReplicas"] > int(old_status.get("readyReplicas", 0))
                           or st["availableReplicas"] > int(old_status.get("availableReplicas", 0)))
            if not complete_already:
                if is_complete:
                    msg = f'ReplicaSet "{rs_name}" has successfully progressed.' if rs_name else \
                        f'Deployment "{dep["metadata"]["name"]}" has successfully progressed.'
                    self._set_condition(new, PROGRESSING, "True", "NewReplicaSetAvailable", msg)
                    self.progress_at[key] = now
                elif progressing:
                    conds = new["status"]["conditions"]
                    nowts = kube.iso(self.clock.wall())
                    upd = {"type": PROGRESSING, "status": "True", "lastUpdateTime": nowts, "lastTransitionTime": nowts,
                           "reason": "ReplicaSetUpdated", "message": f'ReplicaSet "{rs_name}" is progressing.'}
                    if cond is not None and cond.get("status") == "True":
                        upd["lastTransitionTime"] = cond.get("lastTransitionTime", nowts)
                    new["status"]["conditions"] = [c for c in conds if c.get("type") != PROGRESSING] + [upd]
                    self.progress_at[key] = now
                elif cond is not None and cond.get("reason") != "ProgressDeadlineExceeded":
                    since = self.progress_at.setdefault(key, now)
                    if now - since > deadline:
                        self._set_condition(new, PROGRESSING, "False", "ProgressDeadlineExceeded",
                                            f'ReplicaSet "{rs_name}" has timed out progressing.')
        return self._write("deployments", new, dep)

    # ------------------------------------------------------------------ ReplicaSet controller + kubelet
    def _reconcile_rs(self, rs: Obj, now: float) -> bool:
        md = rs["metadata"]
        ns = md.get("namespace", "")
        reqs = sel.selector_from_label_selector(rs["spec"].get("selector"))
        pods = [p for p in self.store.list("pods", ns, reqs) if _owned_by(p, md["uid"])]
        want = _replicas(rs)
        if len(pods) < want:
            for _ in range(want - len(pods)):
                pods.append(self._create_pod(rs, now))
        elif len(pods) > want:
            # not-ready pods first, then the newest
            victims = sorted(pods, key=lambda p: (self._pod_ready(p), -self.pods.get(
                (ns, p["metadata"]["name"]), PodSim(0, 0, 0, False)).created))
            for p in victims[: len(pods) - want]:
                self.store.delete("pods", ns, p["metadata"]["name"])
                for c in p["spec"].get("containers") or []:
                    self.event(p, "Normal", "Killing", f"Stopping container {c['name']}", "kubelet")
                self.pods.pop((ns, p["metadata"]["name"]), None)
                self.event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {p['metadata']['name']}",
                           "replicaset-controller")
            pods = victims[len(pods) - want:]
        ready = sum(1 for p in pods if self._pod_ready(p))
        min_ready = int(rs["spec"].get("minReadySeconds", 0) or 0)
        available = 0
        for p in pods:
            ps = self.pods.get((ns, p["metadata"]["name"]))
            if self._pod_ready(p) and (ps is None or now - ps.ready_at >= min_ready):
                available += 1
        labels = rs["spec"]["template"].get("metadata", {}).get("labels") or {}
        full = sum(1 for p in pods if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items()))
        st = _compact_status({
            "replicas": len(pods),
            "fullyLabeledReplicas": full,
            "readyReplicas": ready,
            "availableReplicas": available,
            "observedGeneration": int(md.get("generation", 1)),
        })
        st.setdefault("replicas", 0)
        if st != rs.get("status"):
            new = copy.deepcopy(rs)
            new["status"] = st
            self.store.update("replicasets", new)
        in_flight = any(
            (ps := self.pods.get((ns, p["metadata"]["name"]))) is not None and ps.phase in ("creating", "running")
            for p in pods
        )
        return in_flight or available < want

    @staticmethod
    def _pod_ready(pod: Obj) -> bool:
        for c in (pod.get("status") or {}).get("conditions") or []:
            if c.get("type") == "Ready":
                return c.get("status") == "True"
        return False

    def _create_pod(self, rs: Obj, now: float) -> Obj:
        md = rs["metadata"]
        ns = md.get("namespace", "")
        template = copy.deepcopy(rs["spec"]["template"])
        beh = self.behaviour_of_template(template)
        node = random.choice(NODES)
        tmd = template.get("metadata") or {}
        pod_md = {
            "generateName": f"{md['name']}-",
            "namespace": ns,
            "labels": dict(tmd.get("labels") or {}),
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": md["name"], "uid": md["uid"],
                                 "controller": True, "blockOwnerDeletion": True}],
        }
        if tmd.get("annotations"):
            pod_md["annotations"] = dict(tmd["annotations"])
        spec = template["spec"]
        spec["nodeName"] = node
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("priority", 0)
        spec.setdefault("tolerations", [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        ])
        wall = kube.iso(self.clock.wall())
        n = next(self._ip)
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": pod_md,
            "spec": spec,
            "status": {
                "phase": "Pending",
                "hostIP": f"10.0.0.{NODES.index(node) + 11}",
                "podIP": f"10.244.{n // 250 % 250}.{n % 250 + 2}",
                "startTime": wall,
                "qosClass": "BestEffort",
                "conditions": [
                    {"type": "Initialized", "status": "True", "lastProbeTime": None, "lastTransitionTime": wall},
                    {"type": "Ready", "status": "False", "lastProbeTime": None, "lastTransitionTime": wall,
                     "reason": "ContainersNotReady", "message": "containers with unready status: ["
                     + " ".join(c["name"] for c in spec["containers"]) + "]"},
                    {"type": "ContainersReady", "status": "False", "lastProbeTime": None, "lastTransitionTime": wall,
                     "reason": "ContainersNotReady", "message": "containers with unready status: ["
                     + " ".join(c["name"] for c in spec["containers"]) + "]"},
                    {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": wall},
                ],
                "containerStatuses": [
                    {"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False, "restartCount": 0,
                     "started": False, "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}}
                    for c in spec["containers"]
                ],
            },
        }
        pod["status"]["podIPs"] = [{"ip": pod["status"]["podIP"]}]
        pod = self.store.create("pods", pod)
        name = pod["metadata"]["name"]
        start = now + min(START_DELAY, beh.ready_after)
        self.pods[(ns, name)] = PodSim(created=now, start_at=start, ready_at=max(start, now + beh.ready_after),
                                       crash=beh.crash)
        self.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {name}", "replicaset-controller")
        self.event(pod, "Normal", "Scheduled", f"Successfully assigned {ns}/{name} to {node}", "default-scheduler")
        return pod

    def _advance_pods(self, now: float) -> None:
        for key, ps in list(self.pods.items()):
            if ps.phase == "ready":
                continue
            if ps.phase == "creating" and now >= ps.start_at:
                self._pod_started(key, ps, now)
            if ps.phase == "running" and not ps.crash and now >= ps.ready_at:
                self._pod_ready_now(key, ps)
            if ps.phase == "crashing" and now >= ps.next_restart:
                self._pod_restart(key, ps, now)

    def _mutate_pod(self, key: tuple[str, str], fn: Callable[[Obj], None]) -> Obj | None:
        cur = self.store.get("pods", *key)
        if cur is None:
            self.pods.pop(key, None)
            return None
        new = copy.deepcopy(cur)
        fn(new)
        out = self.store.update("pods", new)
        self.touch_owner_of(out)
        return out

    def _pod_started(self, key: tuple[str, str], ps: PodSim, now: float) -> None:
        wall = kube.iso(self.clock.wall())

        def fn(pod: Obj) -> None:
            pod["status"]["phase"] = "Running"
            for cs, c in zip(pod["status"]["containerStatuses"], pod["spec"]["containers"]):
                cs["imageID"] = f"docker-pullable://{c.get('image', '')}"
                cs["containerID"] = f"containerd://{abs(hash((key, ps.restarts))):016x}"
                if ps.crash:
                    cs["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                                               "message": f"back-off 10s restarting failed container={c['name']} "
                                                          f"pod={key[1]}_{key[0]}"}}
                    cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": wall,
                                                      "finishedAt": wall, "containerID": cs["containerID"]}}
                    cs["restartCount"] = 1
                    cs["started"] = False
                else:
                    cs["state"] = {"running": {"startedAt": wall}}
                    cs["started"] = True

        pod = self._mutate_pod(key, fn)
        if pod is None:
            return
        for c in pod["spec"]["containers"]:
            self.event(pod, "Normal", "Pulled", f'Container image "{c.get("image", "")}" already present on machine',
                       "kubelet")
            self.event(pod, "Normal", "Created", f"Created container {c['name']}", "kubelet")
            self.event(pod, "Normal", "Started", f"Started container {c['name']}", "kubelet")
        if ps.crash:
            ps.phase = "crashing"
            ps.restarts = 1
            ps.backoff = 10.0
            ps.next_restart = now + ps.backoff
            ps.last_restart_wall = self.clock.wall()
            self.event(pod, "Warning", "BackOff", f"Back-off restarting failed container {pod['spec']['containers'][0]['name']} "
                       f"in pod {key[1]}_{key[0]}({pod['metadata']['uid']})", "kubelet")
        else:
            ps.phase = "running"

    def _pod_ready_now(self, key: tuple[str, str], ps: PodSim) -> None:
        wall = kube.iso(self.clock.wall())

        def fn(pod: Obj) -> None:
            for c in pod["status"]["conditions"]:
                if c["type"] in ("Ready", "ContainersReady"):
                    c.update(status="True", lastTransitionTime=wall)
                    c.pop("reason", None)
                    c.pop("message", None)
            for cs in pod["status"]["containerStatuses"]:
                cs["ready"] = True

        ps.phase = "ready"
        self._mutate_pod(key, fn)

    def _pod_restart(self, key: tuple[str, str], ps: PodSim, now: float) -> None:
        ps.restarts += 1
        ps.backoff = min(ps.backoff * 2, 300.0)
        ps.next_restart = now + ps.backoff
        wall = kube.iso(self.clock.wall())

        def fn(pod: Obj) -> None:
            for cs in pod["status"]["containerStatuses"]:
                cs["restartCount"] = ps.restarts
                cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": wall,
                                                  "finishedAt": wall, "containerID": cs.get("containerID", "")}}
                cs["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                                           "message": f"back-off {int(ps.backoff)}s restarting failed "
                                                      f"container={cs['name']} pod={key[1]}_{key[0]}"}}

        pod = self._mutate_pod(key, fn)
        if pod is not None:
            self.event(pod, "Warning", "BackOff", f"Back-off restarting failed container {pod['spec']['containers'][0]['name']} "
                       f"in pod {key[1]}_{key[0]}({pod['metadata']['uid']})", "kubelet")
