"""Gateway API ``HTTPRoute`` s (gateway.networking.k8s.io/v1) in the world, and the traffic
that follows their weights.

Stored and served like the other kinds (one entry in :data:`.resources.RESOURCES`), defaulted
as the CRD's schema defaults them (``backendRefs[].group: ""``, ``kind: Service``, ``weight:
1``; a rule without ``matches`` matches ``PathPrefix /``) and validated as its schema and CEL
rules refuse (at most 16 rules and 16 backendRefs a rule, a weight from 0 to 1,000,000, a
Service backendRef needs a port).

**Traffic follows the weights.** A Service that some HTTPRoute's backendRef names no longer
gets the world's own per-service traffic; instead each route gets ``rps`` simulated requests
per second, shared among its rules and, within a rule, among its backendRefs in proportion
to their weights (a weight of 0 gets none; all zero: the gateway answers 500, as
implementations do). A backendRef to a Service the world does not simulate is answered 500
("backend not found"). Each request is drawn from the backend's own behaviour (the image its
pods run), so a route's error rate moves as its weights move; the route's counts per backend
are kept in :class:`RouteTraffic` (``counts``).
"""
from __future__ import annotations

import threading
from typing import Any

from cockpit.world.resources import RESOURCES

Obj = dict[str, Any]
GROUP = "gateway.networking.k8s.io"
RESOURCE = RESOURCES["httproutes"]
MAX_WEIGHT = 1_000_000


def default_httproute(route: Obj) -> None:
    route.setdefault("apiVersion", f"{GROUP}/v1")
    route.setdefault("kind", "HTTPRoute")
    spec = route.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    rules = spec.setdefault("rules", [{}])
    if not isinstance(rules, list):
        return
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        rule.setdefault("matches", [{"path": {"type": "PathPrefix", "value": "/"}}])
        for ref in rule.get("backendRefs") or []:
            if isinstance(ref, dict):
                ref.setdefault("group", "")
                ref.setdefault("kind", "Service")
                ref.setdefault("weight", 1)


def validate_httproute(route: Obj, causes: list[tuple[str, str]]) -> None:
    spec = route.get("spec")
    if not isinstance(spec, dict):
        causes.append(("spec", "Required value"))
        return
    rules = spec.get("rules") or []
    if not isinstance(rules, list):
        causes.append(("spec.rules", "Invalid value: must be an array"))
        return
    if len(rules) > 16:
        causes.append(("spec.rules", f"Too many: {len(rules)}: must have at most 16 items"))
    for i, rule in enumerate(rules):
        refs = (rule or {}).get("backendRefs") or [] if isinstance(rule, dict) else []
        if not isinstance(refs, list):
            causes.append((f"spec.rules[{i}].backendRefs", "Invalid value: must be an array"))
            continue
        if len(refs) > 16:
            causes.append((f"spec.rules[{i}].backendRefs", f"Too many: {len(refs)}: must have at most 16 items"))
        for j, ref in enumerate(refs):
            at = f"spec.rules[{i}].backendRefs[{j}]"
            if not isinstance(ref, dict):
                causes.append((at, "Invalid value: must be an object"))
                continue
            if not ref.get("name"):
                causes.append((f"{at}.name", "Required value"))
            w = ref.get("weight", 1)
            if not isinstance(w, int) or isinstance(w, bool):
                causes.append((f"{at}.weight", f'Invalid value: "{type(w).__name__}": {at}.weight in body must be of '
                                               'type integer'))
            elif not 0 <= w <= MAX_WEIGHT:
                causes.append((f"{at}.weight", f"Invalid value: {w}: {at}.weight in body should be "
                                               f"{'greater than or equal to 0' if w < 0 else 'less than or equal to 1000000'}"))
            if ref.get("kind", "Service") == "Service" and ref.get("group", "") == "" and ref.get("port") is None:
                causes.append((at, "Invalid value: \"object\": Must have port for Service reference"))


def table_row(route: Obj) -> list[Any]:
    from cockpit.world.tables import age

    hosts = (route.get("spec") or {}).get("hostnames") or []
    return [route["metadata"]["name"], ",".join(map(str, hosts)) if hosts else "", age(route["metadata"].get("creationTimestamp"))]


def backend_refs(route: Obj) -> list[tuple[int, str, int]]:
    """(rule index, Service name, weight) of every Service backendRef of ``route``."""
    out = []
    for i, rule in enumerate((route.get("spec") or {}).get("rules") or []):
        for ref in (rule or {}).get("backendRefs") or []:
            if ref.get("kind", "Service") == "Service" and ref.get("group", "") == "":
                w = ref.get("weight", 1)
                out.append((i, str(ref.get("name", "")), w if isinstance(w, int) else 0))
    return out


class RouteTraffic:
    """Generates each HTTPRoute's traffic over the world's simulated services."""

    def __init__(self, store: Any, services: Any) -> None:
        self.store, self.services = store, services
        self.counts: dict[tuple[str, str], dict[str, list[int]]] = {}
        """(namespace, route) → backend → [requests, 5xx] since the world started."""
        self._carry: dict[tuple[str, str, int, str], float] = {}
        self.lock = threading.Lock()

    def routed(self) -> set[tuple[str, str]]:
        """The (namespace, Service) pairs some route sends traffic to."""
        with self.store.lock:
            routes = self.store.list(RESOURCE.name, None)
        return {(r["metadata"].get("namespace", ""), name) for r in routes for _i, name, _w in backend_refs(r)}

    def tick(self, dt: float) -> None:
        with self.store.lock:
            routes = self.store.list(RESOURCE.name, None)
        for route in routes:
            ns, name = route["metadata"].get("namespace", ""), route["metadata"]["name"]
            refs = backend_refs(route)
            rules = sorted({i for i, _n, _w in refs})
            if not rules:
                continue
            for i in rules:
                mine = [(n, w) for j, n, w in refs if j == i]
                total = sum(w for _n, w in mine)
                share = self.services.rps * dt / len(rules)
                if total <= 0:
                    self._add(ns, name, i, "", share, None)
                    continue
                for backend, w in mine:
                    if w > 0:
                        self._add(ns, name, i, backend, share * w / total, backend)

    def _add(self, ns: str, route: str, rule: int, backend: str, want: float, service: str | None) -> None:
        key = (ns, route, rule, backend)
        want += self._carry.get(key, 0.0)
        n = int(want)
        self._carry[key] = want - n
        if not n:
            return
        svc = self.services.items.get((ns, service)) if service else None
        if svc is None:
            errors = n  # no such backend (or every weight 0): the gateway answers 500
        else:
            before = _errors(svc)
            svc.generate(n)
            errors = _errors(svc) - before
        with self.lock:
            c = self.counts.setdefault((ns, route), {}).setdefault(backend or "(none)", [0, 0])
            c[0] += n
            c[1] += errors

    def snapshot(self, namespace: str, route: str) -> dict[str, tuple[int, int]]:
        with self.lock:
            return {k: (v[0], v[1]) for k, v in self.counts.get((namespace, route), {}).items()}


def _errors(svc: Any) -> int:
    m = svc.metrics
    with m.lock:
        return sum(v for (code, _method), v in m.requests.items() if code.startswith("5"))
