"""The scheduler and the kubelet, simulated: a pod the ReplicaSet controller creates is placed
on a node with an IP, its containers start after a short delay, become Ready after the time its
image's behaviour says, or crash and restart with a doubling back-off (10 s up to 300 s), with
the status, ``restartCount`` and Events a real kubelet reports. Times are simulated seconds."""
from __future__ import annotations

import copy
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass

from cockpit.world import kube
from cockpit.world.clock import Clock
from cockpit.world.controllers.common import Events, PodBehaviour
from cockpit.world.store import Obj, Store

NODES = ("drill-node-1", "drill-node-2", "drill-node-3")
START_DELAY = 1.0  # simulated seconds from pod creation to container start


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


class Kubelet:
    """Runs the pods of every node. ``on_change(pod)`` is told after each status write."""

    def __init__(self, store: Store, clock: Clock, events: Events, on_change: Callable[[Obj], None]) -> None:
        self.store = store
        self.clock = clock
        self.events = events
        self.on_change = on_change
        self.pods: dict[tuple[str, str], PodSim] = {}
        self._ip = itertools.count(2)

    # ------------------------------------------------------------------ pods in and out
    def start(self, pod: Obj, beh: PodBehaviour, now: float) -> Obj:
        """Schedule a new pod (``pod``: metadata and spec), store it Pending, and run it."""
        spec = pod["spec"]
        node = random.choice(NODES)
        spec["nodeName"] = node
        wall = kube.iso(self.clock.wall())
        n = next(self._ip)
        unready = "containers with unready status: [" + " ".join(c["name"] for c in spec["containers"]) + "]"
        pod["status"] = {
            "phase": "Pending",
            "hostIP": f"10.0.0.{NODES.index(node) + 11}",
            "podIP": f"10.244.{n // 250 % 250}.{n % 250 + 2}",
            "startTime": wall,
            "qosClass": "BestEffort",
            "conditions": [
                {"type": "Initialized", "status": "True", "lastProbeTime": None, "lastTransitionTime": wall},
                {"type": "Ready", "status": "False", "lastProbeTime": None, "lastTransitionTime": wall,
                 "reason": "ContainersNotReady", "message": unready},
                {"type": "ContainersReady", "status": "False", "lastProbeTime": None, "lastTransitionTime": wall,
                 "reason": "ContainersNotReady", "message": unready},
                {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": wall},
            ],
            "containerStatuses": [
                {"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False, "restartCount": 0,
                 "started": False, "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}}
                for c in spec["containers"]
            ],
        }
        pod["status"]["podIPs"] = [{"ip": pod["status"]["podIP"]}]
        pod = self.store.create("pods", pod)
        start = now + min(START_DELAY, beh.ready_after)
        self.pods[(pod["metadata"]["namespace"], pod["metadata"]["name"])] = PodSim(
            created=now, start_at=start, ready_at=max(start, now + beh.ready_after), crash=beh.crash)
        return pod

    def scheduled(self, pod: Obj) -> None:
        """The scheduler's Event for a pod :meth:`start` placed."""
        md = pod["metadata"]
        self.events.event(pod, "Normal", "Scheduled", f"Successfully assigned {md['namespace']}/{md['name']} to "
                          f"{pod['spec']['nodeName']}", "default-scheduler")

    def pod_deleted(self, pod: Obj) -> None:
        """A pod was deleted: its containers are stopped and it is forgotten."""
        md = pod["metadata"]
        self.pods.pop((md.get("namespace", ""), md["name"]), None)
        for c in pod["spec"].get("containers") or []:
            self.events.event(pod, "Normal", "Killing", f"Stopping container {c['name']}", "kubelet")

    def created_at(self, namespace: str, name: str) -> float:
        ps = self.pods.get((namespace, name))
        return ps.created if ps is not None else 0.0

    def ready_since(self, namespace: str, name: str) -> float | None:
        ps = self.pods.get((namespace, name))
        return ps.ready_at if ps is not None else None

    def starting(self, namespace: str, name: str) -> bool:
        """True while the pod's containers are being created or have not become Ready yet."""
        ps = self.pods.get((namespace, name))
        return ps is not None and ps.phase in ("creating", "running")

    def next_due(self) -> float | None:
        """The simulated time of the next container start, readiness or restart."""
        due: float | None = None
        for ps in self.pods.values():
            t = {"creating": ps.start_at, "running": ps.ready_at, "crashing": ps.next_restart}.get(ps.phase)
            if t is not None and (due is None or t < due):
                due = t
        return due

    # ------------------------------------------------------------------ the pod lifecycle
    def advance(self, now: float) -> None:
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
        self.on_change(out)
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
            self.events.event(pod, "Normal", "Pulled", f'Container image "{c.get("image", "")}" already present on machine',
                       "kubelet")
            self.events.event(pod, "Normal", "Created", f"Created container {c['name']}", "kubelet")
            self.events.event(pod, "Normal", "Started", f"Started container {c['name']}", "kubelet")
        if ps.crash:
            ps.phase = "crashing"
            ps.restarts = 1
            ps.backoff = 10.0
            ps.next_restart = now + ps.backoff
            ps.last_restart_wall = self.clock.wall()
            self.events.event(pod, "Warning", "BackOff", f"Back-off restarting failed container {pod['spec']['containers'][0]['name']} "
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
            self.events.event(pod, "Warning", "BackOff", f"Back-off restarting failed container {pod['spec']['containers'][0]['name']} "
                       f"in pod {key[1]}_{key[0]}({pod['metadata']['uid']})", "kubelet")
