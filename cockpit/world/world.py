"""The embedded simulated world: the Kubernetes API on loopback, the controller, services.

    with World("bad-image", speed=10) as world:
        world.write_kubeconfig(tmp / "kubeconfig")
        subprocess.run(["kubectl", "--kubeconfig", ..., "-n", "shop", "rollout", "undo", "deploy/checkout"])
        requests.get(world.service_url("shop", "checkout") + "/version")

The scenario's history is replayed through the controller (template 1, settle, template 2,
settle, ...) with timestamps back-dated to each revision's ``age``, so ``kubectl rollout
history`` shows what a real cluster would. ``speed`` scales simulated time (pod readiness,
crash back-off, progress deadlines), not the wall clock of timestamps.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from cockpit.world import kube
from cockpit.world.clock import Clock
from cockpit.world.controller import Controller, PodBehaviour
from cockpit.world.resources import RESOURCES
from cockpit.world.scenario import Behaviour, Scenario, load_scenario
from cockpit.world.server import make_server
from cockpit.world.gateway import RouteTraffic
from cockpit.world.services import Services, SimService
from cockpit.world.store import Obj, Store
from cockpit.world.verbs import Api

CONTEXT = "cockpit-drill"
URL_ANNOTATION = "cockpit.drill/url"
DEFAULT_AGES = (7 * 86400, 3 * 86400, 86400, 6 * 3600, 3600, 600)


class World:
    """A simulated cluster. ``start()`` it (or use ``with``), then talk to ``url``."""

    def __init__(self, scenario: str | Path | Scenario = "healthy", speed: float = 1.0, port: int = 0,
                 services: bool = True, kube_version: str = "v1.30.0", host: str = "127.0.0.1",
                 forbid: Iterable[str] = (), tls: tuple[str, str] | None = None, ca: bytes | None = None) -> None:
        """``tls``: (certificate file, key file) to serve the API over HTTPS; ``ca``: the PEM
        that signed it, written into the kubeconfig (``certificate-authority-data``)."""
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.speed = float(speed)
        self.port = port
        self.host = host
        self.tls, self.ca = tls, ca
        self.with_services = services
        self.clock = Clock(self.speed)
        self.store = Store(lambda: kube.iso(self.clock.wall()))
        self.controller = Controller(self.store, self.clock, self._pod_behaviour)
        self.api = Api(self.store, self.controller, kube_version)
        self.api.pod_log = self.pod_log
        self.api.proxy.backend = self.proxy_backend
        for resource in forbid:
            self.api.forbid(resource)
        self.services = Services(self.scenario.traffic_rps)
        self.services.routes = RouteTraffic(self.store, self.services)
        self._server = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.started = False
        self.kubeconfig_path: Path | None = None  # the last one written by write_kubeconfig

    # ------------------------------------------------------------------ behaviour
    def behaviour(self, image: str) -> Behaviour:
        return self.scenario.behaviour_for(image)

    def _pod_behaviour(self, image: str) -> PodBehaviour:
        b = self.behaviour(image)
        return PodBehaviour(ready_after=b.ready_after, crash=b.crash)

    # ------------------------------------------------------------------ authorization
    def forbid(self, resource: str, verbs: Iterable[str] | None = None) -> None:
        """Answer requests for ``resource`` (plural: ``"leases"``) with 403 Forbidden, as RBAC
        does for a user without a role for it — every verb, or only ``verbs`` (``"create"``,
        ``"update"``, ``"get"``, ``"list"``, ``"watch"``, ``"patch"``, ``"delete"``...). Takes
        effect at once, on a running world too; discovery still lists the resource."""
        self.api.forbid(resource, verbs)

    def allow(self, resource: str) -> None:
        """Undo :meth:`forbid`."""
        self.api.allow(resource)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "World":
        if self.started:
            return self
        self._build()
        self._server = make_server(self.api, self.host, self.port, tls=self.tls)
        self.port = self._server.server_address[1]
        self._spawn("drill-api", self._server.serve_forever, poll_interval=0.25)
        self._spawn("drill-controller", self.controller.run, self._stop)
        if self.services.items:
            self._spawn("drill-traffic", self._traffic)
        self.started = True
        return self

    def _spawn(self, name: str, fn: Any, *args: Any, **kwargs: Any) -> None:
        t = threading.Thread(target=fn, args=args, kwargs=kwargs, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _traffic(self) -> None:
        while not self._stop.wait(0.5):
            try:
                self.services.tick()
            except Exception:  # noqa: BLE001
                import traceback

                traceback.print_exc()

    def stop(self) -> None:
        if not self.started:
            return
        self._stop.set()
        self.api.stopping.set()
        self.controller.wake.set()
        self.store.close_watchers()
        stopper = threading.Thread(target=self.services.stop, daemon=True)
        stopper.start()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        stopper.join(timeout=5)
        for t in self._threads:
            t.join(timeout=2)
        self._threads.clear()
        self.started = False

    def __enter__(self) -> "World":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def request_log(self) -> list[tuple[str, str]]:
        """The last API requests (up to 100,000) as (method, path) — a copy, safe from any thread."""
        return self.api.requests()

    @property
    def request_counts(self) -> dict[str, int]:
        """Requests by HTTP method since the start (or the last clear), never trimmed."""
        return self.api.counts()

    def clear_request_log(self) -> None:
        self.api.clear_log()

    def service_url(self, namespace: str, deployment: str) -> str:
        """Base URL of the simulated service in front of ``namespace/deployment``."""
        try:
            return self.services.urls[(namespace, deployment)]
        except KeyError:
            from cockpit.errors import NotFoundError

            raise NotFoundError(f"no simulated service for {namespace}/{deployment} "
                                f"(services: {', '.join(f'{n}/{d}' for n, d in self.services.urls) or 'none'})") from None

    def proxy_backend(self, pod: Obj) -> str | None:
        """What listens at a pod's port, for the API server's proxy: the simulated service in
        front of its deployment (every pod of it answers with the service's counters)."""
        from cockpit.world import selectors as sel

        ns, labels = pod["metadata"].get("namespace", ""), pod["metadata"].get("labels") or {}
        for (sns, _name), svc in self.services.items.items():
            if sns == ns and sel.matches(svc.selector, labels):
                return self.services.urls[(sns, _name)]
        return None

    def kubeconfig(self, namespace: str = "default") -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [{"name": CONTEXT, "cluster": {"server": self.url, **(
                {"certificate-authority-data": base64.b64encode(self.ca).decode()} if self.ca else {})}}],
            "users": [{"name": CONTEXT, "user": {}}],
            "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}],
            "current-context": CONTEXT,
        }

    def write_kubeconfig(self, path: str | Path, namespace: str = "default") -> Path:
        """Write a kubeconfig (context ``cockpit-drill``, no auth) and return its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.kubeconfig(namespace), sort_keys=False), encoding="utf-8")
        path.chmod(0o600)
        self.kubeconfig_path = path
        return path

    def pod_log(self, pod: Obj, query: dict[str, str]) -> str:
        """Simulated container output: start-up lines, then what the image's behaviour implies
        (request errors at its error rate, or a crash before each restart). Honours
        ``sinceSeconds``, ``tailLines``, ``timestamps`` and ``previous``."""
        import random

        md = pod["metadata"]
        image = pod["spec"]["containers"][0].get("image", "")
        tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else "latest"
        b = self.behaviour(image)
        start = kube.parse_iso(md.get("creationTimestamp")) or self.clock.wall()
        now = self.clock.wall()
        rng = random.Random(md.get("uid", ""))
        lines: list[tuple[float, str]] = []
        restarts = max((c.get("restartCount", 0) for c in pod["status"].get("containerStatuses") or []), default=0)
        if b.crash:
            last = start
            for cs in pod["status"].get("containerStatuses") or []:
                fin = kube.parse_iso(((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
                last = fin or last
            t = last
            lines += [(t, f"level=info msg=\"starting\" version={tag}"),
                      (t, "level=info msg=\"migrating ledger schema\""),
                      (t, "level=error msg=\"ledger schema v7 not found\""),
                      (t, "panic: schema mismatch: expected v7, found v6"),
                      (t, "goroutine 1 [running]:"),
                      (t, "main.main()"),
                      (t, f"exit status 1 (restart {restarts})")]
        else:
            lines += [(start, f"level=info msg=\"starting\" version={tag}"),
                      (start + b.ready_after, "level=info msg=\"listening\" addr=:8080"),
                      (start + b.ready_after, "level=info msg=\"ready\"")]
            t = start + b.ready_after
            step = 30.0
            first = max(t, now - 3600)
            t = first
            while t < now and len(lines) < 2000:
                n = 300
                errors = sum(1 for _ in range(20) if rng.random() < b.error_rate) * (n // 20)
                p95 = b.latency_ms.p95 * (0.8 + 0.4 * rng.random())
                lines.append((t, f"level=info msg=\"requests\" window=30s total={n} errors={errors} p95_ms={p95:.0f}"))
                if errors:
                    lines.append((t, f"level=error msg=\"request failed\" status=500 err=\"upstream error\" "
                                     f"count={errors}"))
                t += step
        if query.get("previous") in ("true", "1") and not b.crash:
            raise_previous = True
        else:
            raise_previous = False
        if raise_previous:
            from cockpit.world.store import StoreError

            raise StoreError(400, "BadRequest", f'previous terminated container "{pod["spec"]["containers"][0]["name"]}" '
                             f'in pod "{md["name"]}" not found')
        since = query.get("sinceSeconds")
        if since and since.isdigit():
            lines = [(t, m) for t, m in lines if t >= now - int(since)]
        tail = query.get("tailLines")
        if tail and tail.lstrip("-").isdigit() and int(tail) >= 0:
            lines = lines[-int(tail):] if int(tail) else []
        stamps = query.get("timestamps") in ("true", "1")
        out = []
        for t, m in lines:
            out.append(f"{kube.iso(t)[:-1]}.000000000Z {m}" if stamps else m)
        return "\n".join(out) + ("\n" if out else "")

    # ------------------------------------------------------------------ building
    def ensure_namespace(self, name: str) -> Obj:
        ns = self.store.get("namespaces", "", name)
        if ns is None:
            obj = {"metadata": {"name": name}}
            kube.default_namespace(obj)
            ns = self.store.create("namespaces", obj)
        return ns

    def deployment_object(self, namespace: str, name: str, image: str, replicas: int = 3, container: str | None = None,
                          port: int | None = 8080, labels: dict[str, str] | None = None) -> Obj:
        lbl = {"app": name, **(labels or {})}
        c: Obj = {"name": container or name, "image": image}
        if port:
            c["ports"] = [{"containerPort": port, "name": "http"}]
        dep = {
            "metadata": {"name": name, "namespace": namespace, "labels": dict(lbl)},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": dict(lbl)}, "spec": {"containers": [c]}}},
        }
        kube.default_deployment(dep)
        return dep

    def apply_template(self, namespace: str, name: str, image: str, change_cause: str | None = None,
                       container: str | None = None) -> Obj:
        """Set the image of a deployment's (first or named) container, as ``kubectl set image``
        would, and the change-cause annotation (None removes it). The controller takes it from there."""
        with self.store.lock:
            cur = self.store.require("deployments", namespace, name)
            new = copy.deepcopy(cur)
            cs = new["spec"]["template"]["spec"]["containers"]
            target = next((c for c in cs if c["name"] == container), cs[0]) if container else cs[0]
            target["image"] = image
            ann = new["metadata"].setdefault("annotations", {})
            if change_cause is None:
                ann.pop(kube.CHANGE_CAUSE, None)
            else:
                ann[kube.CHANGE_CAUSE] = change_cause
            kube.default_deployment(new)
            if new["spec"] != cur["spec"]:
                new["metadata"]["generation"] = int(cur["metadata"].get("generation", 1)) + 1
            out = self.store.update("deployments", new)
        self.controller.touch(namespace, name)
        return out

    def settle(self, max_seconds: float = 3600.0) -> float:
        """Fast-forward simulated time until every rollout has finished (or ``max_seconds``)."""
        return self.controller.settle(max_seconds)

    def _build(self) -> None:
        sc = self.scenario
        oldest = max((r.age or 0.0 for d in sc.deployments for r in d.revisions), default=0.0)
        self.clock.backdate(max(oldest, DEFAULT_AGES[0]) + 3600)
        for ns in sc.all_namespaces():
            self.ensure_namespace(ns)
        for d in sc.deployments:
            n = len(d.revisions)
            ages = [r.age if r.age is not None else DEFAULT_AGES[max(0, len(DEFAULT_AGES) - n + i)]
                    for i, r in enumerate(d.revisions)]
            for i, rev in enumerate(d.revisions):
                age = ages[i]
                if i + 1 < n:
                    age = max(age, ages[i + 1] + 1)
                    ages[i] = age
                self.clock.backdate(age)
                if i == 0:
                    dep = self.deployment_object(d.namespace, d.name, rev.image, d.replicas, d.container_name,
                                                 d.port, d.labels)
                    spec = dep["spec"]
                    spec["revisionHistoryLimit"] = d.revision_history_limit
                    spec["progressDeadlineSeconds"] = d.progress_deadline_seconds
                    if d.min_ready_seconds:
                        spec["minReadySeconds"] = d.min_ready_seconds
                    if d.strategy.type == "Recreate":
                        spec["strategy"] = {"type": "Recreate"}
                    else:
                        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {
                            "maxSurge": d.strategy.max_surge, "maxUnavailable": d.strategy.max_unavailable}}
                    if rev.change_cause:
                        dep["metadata"]["annotations"] = {kube.CHANGE_CAUSE: rev.change_cause}
                    self.api.create(RESOURCES["deployments"], d.namespace, dep, dry_run=False)
                else:
                    self.apply_template(d.namespace, d.name, rev.image, rev.change_cause, d.container_name)
                last = i + 1 == n
                if rev.crash or (last and not d.settle):
                    self.controller.settle(max_seconds=min(30.0, d.progress_deadline_seconds / 4), dt=1.0)
                else:
                    self.controller.settle(max_seconds=3600.0, dt=1.0)
            if self.with_services:
                self._add_service(d.namespace, d.name, d.port)
        self.clock.backdate(0)
        self.clock.tick()

    def _add_service(self, namespace: str, name: str, port: int) -> None:
        dep = self.store.require("deployments", namespace, name)
        svc = SimService(namespace, name, self.store, self.behaviour, self.speed, dep["spec"]["selector"])
        url = self.services.add(svc, self.host)
        n = len(self.services.items)
        obj = {
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name},
                         "annotations": {URL_ANNOTATION: url}},
            "spec": {"type": "ClusterIP", "clusterIP": f"10.96.{n // 250}.{n % 250 + 10}",
                     "clusterIPs": [f"10.96.{n // 250}.{n % 250 + 10}"],
                     "selector": dict(dep["spec"]["selector"].get("matchLabels") or {}),
                     "ports": [{"name": "http", "port": 80, "targetPort": port, "protocol": "TCP"}]},
        }
        kube.default_service(obj)
        self.store.create("services", obj)

    # ------------------------------------------------------------------ benchmarks
    def bulk_load(self, deployments: int = 1000, replicasets_per: int = 20, namespace: str = "bench",
                  replicas: int = 1) -> None:
        """Create ``deployments`` settled deployments with ``replicasets_per`` revisions each
        (ReplicaSets ``<name>-<hash>``, revisions 1..N, only the last scaled up) directly in the
        store, without pods or events — a population for benchmarks, built in seconds."""
        self.ensure_namespace(namespace)
        store = self.store
        now = kube.iso(self.clock.wall())
        with store.lock:
            for i in range(deployments):
                name = f"app-{i:04d}"
                dep = self.deployment_object(namespace, name, f"registry.example/{name}:1.{replicasets_per}.0",
                                             replicas, name, 8080)
                dep["metadata"]["annotations"] = {kube.REVISION: str(replicasets_per),
                                                  kube.CHANGE_CAUSE: f"release 1.{replicasets_per}.0"}
                dep = store.create("deployments", dep, generation=True)
                uid = dep["metadata"]["uid"]
                last_name = ""
                base = json.dumps(dep["spec"]["template"])
                for r in range(1, replicasets_per + 1):
                    template = json.loads(base)  # a fast deep copy
                    image = f"registry.example/{name}:1.{r}.0"
                    template["spec"]["containers"][0]["image"] = image
                    # a cheap stand-in for kube.template_hash (the templates differ only by image)
                    digest = hashlib.blake2b(f"{name}/{image}".encode(), digest_size=4).digest()
                    h = "".join("bcdfghjklmnpqrstvwxz2456789"[ord(c) % 27] for c in str(int.from_bytes(digest, "big")))
                    template["metadata"]["labels"][kube.HASH_LABEL] = h
                    n = replicas if r == replicasets_per else 0
                    rs = {
                        "apiVersion": "apps/v1", "kind": "ReplicaSet",
                        "metadata": {"name": f"{name}-{h}", "namespace": namespace,
                                     "labels": dict(template["metadata"]["labels"]),
                                     "annotations": {kube.REVISION: str(r), kube.CHANGE_CAUSE: f"release 1.{r}.0",
                                                     kube.DESIRED_REPLICAS: str(replicas),
                                                     kube.MAX_REPLICAS: str(replicas + 1)},
                                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                                          "uid": uid, "controller": True, "blockOwnerDeletion": True}],
                                     "creationTimestamp": now},
                        "spec": {"replicas": n, "selector": {"matchLabels": {"app": name, kube.HASH_LABEL: h}},
                                 "template": template},
                        "status": {"replicas": n, "fullyLabeledReplicas": n, "readyReplicas": n,
                                   "availableReplicas": n, "observedGeneration": 1} if n else
                        {"replicas": 0, "observedGeneration": 1},
                    }
                    store.create("replicasets", rs, generation=True)
                    last_name = rs["metadata"]["name"]
                st = copy.deepcopy(dep)
                st["status"] = {
                    "observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
                    "readyReplicas": replicas, "availableReplicas": replicas,
                    "conditions": [
                        {"type": "Available", "status": "True", "lastUpdateTime": now, "lastTransitionTime": now,
                         "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."},
                        {"type": "Progressing", "status": "True", "lastUpdateTime": now, "lastTransitionTime": now,
                         "reason": "NewReplicaSetAvailable",
                         "message": f'ReplicaSet "{last_name}" has successfully progressed.'},
                    ],
                }
                store.update("deployments", st)
