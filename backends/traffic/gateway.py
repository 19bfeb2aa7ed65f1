"""The Gateway API: the weights of an ``HTTPRoute`` 's backendRefs (gateway.networking.k8s.io/v1).

A *route* is an HTTPRoute (in the backend's namespace), its *backends* are the Services its
rules' backendRefs name. Weights are read from the first rule that has backendRefs and set on
every rule that names those backends, in one JSON merge patch of ``spec.rules`` that carries
the ``resourceVersion`` read — so a route changed by someone else in between is a 409
(:class:`~cockpit.errors.ConflictError`), never overwritten, and the write is all or nothing.
Per-backend counts for the verdict come from each Service's ``/metrics`` through the API
server's proxy (``http_requests_total`` by ``code``), needing nothing but cluster access.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from cockpit.errors import ConfigError, NotFoundError, ReadonlyError
from cockpit.text import sanitize

GROUP = "gateway.networking.k8s.io"
_COUNTER = re.compile(r'^http_requests_total\{([^}]*)\}\s+([0-9.eE+]+)')
_CODE = re.compile(r'code="(\d{3})"')


class GatewayTraffic:
    """The traffic port over HTTPRoutes; ``t`` is a Kubernetes transport (``KubeBackend.t``)."""

    def __init__(self, t: Any, namespace: str = "default", *, readonly: bool | None = None) -> None:
        self.t = t
        self.namespace = namespace
        self.readonly = bool(t.readonly if readonly is None else readonly)
        self.writes = 0

    def _path(self, route: str) -> str:
        return f"/apis/{GROUP}/v1/namespaces/{quote(self.namespace)}/httproutes/{quote(route)}"

    def route(self, route: str) -> dict[str, Any]:
        try:
            return self.t.request("GET", self._path(route))
        except NotFoundError:
            names = self.routes()
            raise NotFoundError(f"HTTPRoute {sanitize(self.namespace)}/{sanitize(route)} does not exist; "
                                f"routes in {sanitize(self.namespace)}: {', '.join(names) or 'none'}") from None

    def routes(self) -> list[str]:
        try:
            items = self.t.request("GET", f"/apis/{GROUP}/v1/namespaces/{quote(self.namespace)}/httproutes").get("items") or []
        except NotFoundError:
            return []
        return [sanitize(i["metadata"]["name"]) for i in items]

    @staticmethod
    def _refs(obj: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
        out = []
        for i, rule in enumerate((obj.get("spec") or {}).get("rules") or []):
            for ref in (rule or {}).get("backendRefs") or []:
                if ref.get("kind", "Service") == "Service" and ref.get("group", "") == "":
                    out.append((i, ref))
        return out

    def get_weights(self, route: str) -> dict[str, int]:
        refs = self._refs(self.route(route))
        if not refs:
            raise NotFoundError(f"HTTPRoute {sanitize(route)} has no Service backendRefs")
        first = refs[0][0]
        return {sanitize(str(r.get("name", ""))): int(r.get("weight", 1)) for i, r in refs if i == first}

    def set_weights(self, route: str, weights: Mapping[str, int]) -> dict[str, int]:
        if self.readonly:
            raise ReadonlyError(f"readonly: not changing the weights of HTTPRoute {sanitize(route)} (nothing was sent)")
        obj = self.route(route)
        refs = self._refs(obj)
        names = {str(r.get("name", "")) for _i, r in refs}
        unknown = [n for n in weights if n not in names]
        if unknown:
            raise NotFoundError(f"HTTPRoute {sanitize(route)} has no backend {sanitize(unknown[0])!r}; "
                                f"its backends: {', '.join(sanitize(n) for n in sorted(names))}")
        for n, w in weights.items():
            if not isinstance(w, int) or isinstance(w, bool) or not 0 <= w <= 1_000_000:
                raise ConfigError(f"weight {w!r} for {sanitize(n)}: Gateway API weights are whole numbers from 0 to 1000000")
        rules = copy.deepcopy((obj.get("spec") or {}).get("rules") or [])
        for rule in rules:
            for ref in (rule or {}).get("backendRefs") or []:
                if ref.get("kind", "Service") == "Service" and ref.get("group", "") == "" and ref.get("name") in weights:
                    ref["weight"] = int(weights[ref["name"]])
        body = {"metadata": {"resourceVersion": obj["metadata"].get("resourceVersion")}, "spec": {"rules": rules}}
        self.t.request("PATCH", self._path(route), body=body, content_type="application/merge-patch+json")
        self.writes += 1
        return self.get_weights(route)

    def error_counts(self, route: str) -> dict[str, tuple[int, int]]:
        """backend → (requests, 5xx) from each backend Service's ``/metrics`` (through the API
        server's proxy, at the backendRef's port); a Service that cannot be read is left out."""
        out: dict[str, tuple[int, int]] = {}
        obj = self.route(route)
        first = None
        for i, ref in self._refs(obj):
            first = i if first is None else first
            if i != first:
                continue
            name, port = str(ref.get("name", "")), ref.get("port")
            path = (f"/api/v1/namespaces/{quote(self.namespace)}/services/{quote(name)}"
                    f"{':' + str(port) if port else ''}/proxy/metrics")
            try:
                text = self.t.request_text("GET", path)
            except Exception:  # noqa: BLE001 — a backend without metrics is no reading, not a failure
                continue
            out[sanitize(name)] = parse_counts(text)
        return out


def parse_counts(text: str) -> tuple[int, int]:
    """(requests, 5xx) summed over ``http_requests_total`` series."""
    total = errors = 0
    for line in text.splitlines():
        m = _COUNTER.match(line)
        if not m:
            continue
        v = int(float(m.group(2)))
        total += v
        code = _CODE.search(m.group(1))
        if code and code.group(1).startswith("5"):
            errors += v
    return total, errors
