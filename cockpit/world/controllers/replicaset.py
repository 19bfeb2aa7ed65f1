"""The ReplicaSet controller, simulated: it keeps ``spec.replicas`` pods per ReplicaSet
(creating them from the template, deleting not-ready then newest pods first when scaling down)
and writes the ReplicaSet's status (replicas, ready, available after ``minReadySeconds``)."""
from __future__ import annotations

import copy

from cockpit.world import selectors as sel
from cockpit.world.clock import Clock
from cockpit.world.controllers.common import (Behaviour, Events, compact_status, owned_by, pod_ready, spec_replicas,
                                              template_behaviour)
from cockpit.world.controllers.kubelet import Kubelet
from cockpit.world.store import Obj, Store

TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
]


class ReplicaSetController:
    def __init__(self, store: Store, clock: Clock, events: Events, kubelet: Kubelet, behaviour: Behaviour) -> None:
        self.store = store
        self.clock = clock
        self.events = events
        self.kubelet = kubelet
        self.behaviour = behaviour

    def reconcile(self, rs: Obj, now: float) -> bool:
        """Sync one ReplicaSet's pods and status. Returns True while pods are still starting or
        fewer than wanted are available."""
        md = rs["metadata"]
        ns = md.get("namespace", "")
        reqs = sel.selector_from_label_selector(rs["spec"].get("selector"))
        pods = [p for p in self.store.list("pods", ns, reqs) if owned_by(p, md["uid"])]
        want = spec_replicas(rs)
        if len(pods) < want:
            for _ in range(want - len(pods)):
                pods.append(self._create_pod(rs, now))
        elif len(pods) > want:
            # not-ready pods first, then the newest
            victims = sorted(pods, key=lambda p: (pod_ready(p), -self.kubelet.created_at(ns, p["metadata"]["name"])))
            for p in victims[: len(pods) - want]:
                self.store.delete("pods", ns, p["metadata"]["name"])
                self.kubelet.pod_deleted(p)
                self.events.event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {p['metadata']['name']}",
                                  "replicaset-controller")
            pods = victims[len(pods) - want:]
        ready = sum(1 for p in pods if pod_ready(p))
        min_ready = int(rs["spec"].get("minReadySeconds", 0) or 0)
        available = 0
        for p in pods:
            since = self.kubelet.ready_since(ns, p["metadata"]["name"])
            if pod_ready(p) and (since is None or now - since >= min_ready):
                available += 1
        labels = rs["spec"]["template"].get("metadata", {}).get("labels") or {}
        full = sum(1 for p in pods if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items()))
        st = compact_status({
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
        in_flight = any(self.kubelet.starting(ns, p["metadata"]["name"]) for p in pods)
        return in_flight or available < want

    def _create_pod(self, rs: Obj, now: float) -> Obj:
        md = rs["metadata"]
        ns = md.get("namespace", "")
        template = copy.deepcopy(rs["spec"]["template"])
        beh = template_behaviour(self.behaviour, template)
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
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("priority", 0)
        spec.setdefault("tolerations", copy.deepcopy(TOLERATIONS))
        pod = self.kubelet.start({"apiVersion": "v1", "kind": "Pod", "metadata": pod_md, "spec": spec}, beh, now)
        self.events.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}",
                          "replicaset-controller")
        self.kubelet.scheduled(pod)
        return pod
