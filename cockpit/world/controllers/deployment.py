"""The deployment controller, simulated.

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

The pods of each ReplicaSet are reconciled by :mod:`.replicaset` within the same pass.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from cockpit.world import kube
from cockpit.world import selectors as sel
from cockpit.world.clock import Clock
from cockpit.world.controllers.common import (Behaviour, Events, by_creation, compact_status, owned_by, revision_of,
                                              spec_replicas, status_count, template_behaviour)
from cockpit.world.controllers.replicaset import ReplicaSetController
from cockpit.world.store import Obj, Store

PROGRESSING = "Progressing"
AVAILABLE = "Available"


class DeploymentController:
    def __init__(self, store: Store, clock: Clock, events: Events, replicasets: ReplicaSetController,
                 behaviour: Behaviour) -> None:
        self.store = store
        self.clock = clock
        self.events = events
        self.replicasets = replicasets
        self.behaviour = behaviour
        # (namespace, name) → simulated time of the last progress (for progressDeadlineSeconds)
        self.progress_at: dict[tuple[str, str], float] = {}

    def forget(self, key: tuple[str, str]) -> None:
        """The deployment is gone."""
        self.progress_at.pop(key, None)

    def _timed_out(self, cond: dict[str, Any] | None, key: tuple[str, str], now: float, deadline: int) -> bool:
        """Whether a rollout that made no progress in this pass has run out of time.

        The real controller's rule: no Progressing condition, no estimate; a condition that
        says the last rollout completed (NewReplicaSetAvailable) is never timed out — a
        rollout that starts later is measured from its first progress, not from when the
        previous one finished; otherwise the deadline counts from the condition's last update
        (``progress_at`` is that moment in simulated time)."""
        if cond is None or cond.get("reason") in ("NewReplicaSetAvailable", "ProgressDeadlineExceeded"):
            return False
        return now - self.progress_at.setdefault(key, now) > deadline

    @staticmethod
    def _deadline_pending(dep: Obj | None) -> bool:
        cond = next((c for c in (dep or {}).get("status", {}).get("conditions", []) if c.get("type") == PROGRESSING), None)
        return cond is not None and cond.get("reason") not in ("NewReplicaSetAvailable", "ProgressDeadlineExceeded")

    def deadline_due(self, keys: Iterable[tuple[str, str]]) -> float | None:
        """The simulated time the earliest progress deadline of these deployments falls due."""
        due: float | None = None
        for key in keys:
            dep = self.store.get("deployments", *key)
            deadline = int((dep or {}).get("spec", {}).get("progressDeadlineSeconds") or 0)
            if deadline and key in self.progress_at and self._deadline_pending(dep):
                t = self.progress_at[key] + deadline + 0.001
                if due is None or t < due:
                    due = t
        return due

    # ------------------------------------------------------------------ writing helpers
    def _write(self, resource: str, new: Obj, old: Obj) -> Obj:
        if new == old:
            return old
        if resource in ("deployments", "replicasets") and new.get("spec") != old.get("spec"):
            new["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        return self.store.update(resource, new)

    def owned_replicasets(self, dep: Obj) -> list[Obj]:
        md = dep["metadata"]
        reqs = sel.selector_from_label_selector(dep["spec"].get("selector"))
        return [rs for rs in self.store.list("replicasets", md.get("namespace", ""), reqs) if owned_by(rs, md["uid"])]

    def find_new_rs(self, dep: Obj, rss: list[Obj]) -> Obj | None:
        for rs in by_creation(rss):
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
            if new_rs is not None and not any(spec_replicas(r) for r in old_rss):
                self._scale(dep, new_rs, int(spec.get("replicas", 1)))
            self._cleanup(dep, old_rss)
        elif (spec.get("strategy") or {}).get("type") == "Recreate":
            self._rollout_recreate(dep, rss)
        else:
            self._rollout_rolling(dep, rss)
        in_flight = False
        for rs in self.owned_replicasets(dep):
            in_flight |= self.replicasets.reconcile(rs, now)
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
            if spec_replicas(rs) and template_behaviour(self.behaviour, rs["spec"]["template"]).crash:
                return True
        return False

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
        old_rev = revision_of(rs)
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
        new_revision = max((revision_of(r) for r in old), default=0) + 1
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
            self.events.event(dep, "Normal", "ScalingReplicaSet",
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
        current = sum(spec_replicas(r) for r in old) + current_new
        if current >= max_total:
            return current_new
        return current_new + min(max_total - current, replicas - current_new)

    def _scale(self, dep: Obj, rs: Obj, n: int) -> Obj:
        cur = self.store.get("replicasets", rs["metadata"].get("namespace", ""), rs["metadata"]["name"]) or rs
        old_n = spec_replicas(cur)
        new = copy.deepcopy(cur)
        new["spec"]["replicas"] = n
        ann = new["metadata"].setdefault("annotations", {})
        replicas = int(dep["spec"].get("replicas", 1))
        ann[kube.DESIRED_REPLICAS] = str(replicas)
        ann[kube.MAX_REPLICAS] = str(replicas + self._max_surge(dep))
        out = self._write("replicasets", new, cur)
        if n != old_n:
            direction = "up" if n > old_n else "down"
            self.events.event(dep, "Normal", "ScalingReplicaSet",
                       f"Scaled {direction} replica set {cur['metadata']['name']} from {old_n} to {n}",
                       "deployment-controller")
        return out

    def _rollout_rolling(self, dep: Obj, rss: list[Obj]) -> None:
        new_rs, old = self._new_and_old(dep, rss, create=True)
        assert new_rs is not None
        replicas = int(dep["spec"].get("replicas", 1))
        target = self._new_rs_replicas(dep, old, spec_replicas(new_rs))
        if target != spec_replicas(new_rs):
            self._scale(dep, new_rs, target)
            return
        if self._reconcile_old(dep, new_rs, old, replicas):
            return
        if all(spec_replicas(r) == 0 for r in old) and status_count(new_rs, "availableReplicas") == replicas:
            self._cleanup(dep, old)

    def _reconcile_old(self, dep: Obj, new_rs: Obj, old: list[Obj], replicas: int) -> bool:
        old_pods = sum(spec_replicas(r) for r in old)
        if old_pods == 0:
            return False
        all_pods = old_pods + spec_replicas(new_rs)
        min_available = replicas - self._max_unavailable(dep)
        new_unavailable = spec_replicas(new_rs) - status_count(new_rs, "availableReplicas")
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        scaled = 0
        fresh: list[Obj] = []
        for rs in by_creation(old):
            spec_n, avail = spec_replicas(rs), status_count(rs, "availableReplicas")
            if scaled >= max_scaled_down or spec_n == 0 or spec_n == avail:
                fresh.append(rs)
                continue
            down = min(max_scaled_down - scaled, spec_n - avail)
            fresh.append(self._scale(dep, rs, spec_n - down))
            scaled += down
        available = sum(status_count(r, "availableReplicas") for r in fresh) + status_count(new_rs, "availableReplicas")
        total_down = available - min_available
        done = 0
        for rs in by_creation(fresh):
            if done >= total_down:
                break
            spec_n = spec_replicas(rs)
            if spec_n == 0:
                continue
            down = min(spec_n, total_down - done)
            self._scale(dep, rs, spec_n - down)
            done += down
        return scaled + done > 0

    def _rollout_recreate(self, dep: Obj, rss: list[Obj]) -> None:
        new_rs, old = self._new_and_old(dep, rss, create=False)
        active_old = [r for r in old if spec_replicas(r) > 0]
        for rs in active_old:
            self._scale(dep, rs, 0)
        if active_old:
            return
        if any(status_count(r, "replicas") > 0 for r in old):
            return  # wait for the old pods to go away
        replicas = int(dep["spec"].get("replicas", 1))
        if new_rs is None:
            new_rs, old = self._new_and_old(dep, self.owned_replicasets(dep), create=True, replicas_for_new=replicas)
            assert new_rs is not None
        if spec_replicas(new_rs) != replicas:
            self._scale(dep, new_rs, replicas)
        if status_count(new_rs, "availableReplicas") == replicas:
            self._cleanup(dep, old)

    def _cleanup(self, dep: Obj, old: list[Obj]) -> None:
        limit = dep["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        cleanable = [
            r for r in old
            if spec_replicas(r) == 0 and status_count(r, "replicas") == 0
            and r["metadata"].get("generation", 1) == (r.get("status") or {}).get("observedGeneration", r["metadata"].get("generation", 1))
        ]
        diff = len(cleanable) - int(limit)
        if diff <= 0:
            return
        cleanable.sort(key=lambda r: (revision_of(r), r["metadata"].get("creationTimestamp") or ""))
        for rs in cleanable[:diff]:
            self.store.delete("replicasets", rs["metadata"].get("namespace", ""), rs["metadata"]["name"])

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
        total_spec = sum(spec_replicas(r) for r in rss)
        available = sum(status_count(r, "availableReplicas") for r in rss)
        st: dict[str, Any] = {
            "observedGeneration": int(dep["metadata"].get("generation", 1)),
            "replicas": sum(status_count(r, "replicas") for r in rss),
            "updatedReplicas": status_count(new_rs, "replicas") if new_rs is not None else 0,
            "readyReplicas": sum(status_count(r, "readyReplicas") for r in rss),
            "availableReplicas": available,
            "unavailableReplicas": max(0, total_spec - available),
        }
        old_status = dep.get("status") or {}
        if old_status.get("collisionCount"):
            st["collisionCount"] = old_status["collisionCount"]
        new = copy.deepcopy(dep)
        new["status"] = dict(compact_status(st), conditions=copy.deepcopy(old_status.get("conditions", [])))
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
                elif self._timed_out(cond, key, now, deadline):
                    self._set_condition(new, PROGRESSING, "False", "ProgressDeadlineExceeded",
                                        f'ReplicaSet "{rs_name}" has timed out progressing.')
        return self._write("deployments", new, dep)
