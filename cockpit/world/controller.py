"""The control loop: runs the deployment controller, the ReplicaSet controller and the kubelet
(:mod:`cockpit.world.controllers`) over the store, in simulated time (see :mod:`.clock`).

API writes ``touch`` a deployment (or the deployment above a ReplicaSet or pod); each tick
advances the kubelet's pods, then syncs every touched deployment (and its ReplicaSets' pods)
until nothing is in flight. ``settle()`` fast-forwards simulated time; ``run()`` is the thread
that ticks while the world serves, sleeping until the next thing is due.
"""
from __future__ import annotations

import threading

from cockpit.world.clock import Clock
from cockpit.world.controllers.common import Behaviour, Events, PodBehaviour
from cockpit.world.controllers.deployment import DeploymentController
from cockpit.world.controllers.kubelet import Kubelet, PodSim
from cockpit.world.controllers.replicaset import ReplicaSetController
from cockpit.world.store import Obj, Store

__all__ = ["Controller", "PodBehaviour", "PodSim"]


class Controller:
    def __init__(self, store: Store, clock: Clock, behaviour: Behaviour) -> None:
        self.store = store
        self.clock = clock
        self.behaviour = behaviour
        self.events = Events(store, clock)
        self.kubelet = Kubelet(store, clock, self.events, self.touch_owner_of)
        self.replicasets = ReplicaSetController(store, clock, self.events, self.kubelet, behaviour)
        self.deployments = DeploymentController(store, clock, self.events, self.replicasets, behaviour)
        self.active: set[tuple[str, str]] = set()  # deployments to sync at the next tick
        self.wake = threading.Event()
        self.ticks = 0

    @property
    def pods(self) -> dict[tuple[str, str], PodSim]:
        """The kubelet's running pods by (namespace, name)."""
        return self.kubelet.pods

    def event(self, obj: Obj, etype: str, reason: str, message: str, component: str) -> None:
        self.events.event(obj, etype, reason, message, component)

    def owned_replicasets(self, dep: Obj) -> list[Obj]:
        return self.deployments.owned_replicasets(dep)

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
        self.kubelet.pod_deleted(pod)

    def busy(self) -> bool:
        return bool(self.active)

    def step(self) -> None:
        """One controller pass at the current simulated time."""
        with self.store.lock:
            self.ticks += 1
            now = self.clock.sim()
            self.kubelet.advance(now)
            for key in sorted(self.active):
                dep = self.store.get("deployments", *key)
                if dep is None:
                    self.active.discard(key)
                    self.deployments.forget(key)
                    continue
                if not self.deployments.sync(dep, now):
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
        due = [t for t in (self.kubelet.next_due(), self.deployments.deadline_due(self.active)) if t is not None]
        return min(due) if due else None

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
