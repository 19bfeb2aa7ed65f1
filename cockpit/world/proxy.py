"""The API server's proxy subresources, as a real API server serves them:

    /api/v1/namespaces/NS/services/[SCHEME:]NAME[:PORT]/proxy[/PATH]
    /api/v1/namespaces/NS/pods/[SCHEME:]NAME[:PORT]/proxy[/PATH]

A service's PORT is one of its ports, by name or number (none: its first); the request goes to
a Ready pod behind the service (its endpoints), at the port's ``targetPort``. A pod's PORT is
a number (none: its first container port). What answers there is the world's simulated
service in front of the pod's deployment (:mod:`.services`), reached on loopback: its status,
content type and body are passed through unchanged.

Failures are the API server's: 404 when the service or pod does not exist, 503
ServiceUnavailable when the service has no such port ("no service port ... found") or no ready
endpoint ("no endpoints available for service"), 503 when nothing listens at the pod's port
("error trying to reach service: dial tcp ...: connect: connection refused").
"""
from __future__ import annotations

import http.client
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cockpit.world import selectors as sel
from cockpit.world.store import Obj, Store, StoreError

PROXY_KINDS = ("services", "pods")
TIMEOUT = 10.0


@dataclass(frozen=True)
class ProxyRequest:
    resource: str
    """``services`` or ``pods``."""
    namespace: str
    name: str
    port: str
    """As given: a name, a number or ``""``."""
    path: str
    """The path forwarded, from its leading ``/``."""


def match(path: str) -> ProxyRequest | None:
    """The proxy request a path names, or None (not a proxy path)."""
    parts = path.split("/")
    # "", "api", "v1", "namespaces", NS, KIND, NAME, "proxy", ...
    if len(parts) < 8 or parts[1:4] != ["api", "v1", "namespaces"] or parts[5] not in PROXY_KINDS \
            or parts[7] != "proxy" or not parts[4] or not parts[6]:
        return None
    target = parts[6].split(":")
    if len(target) == 3:  # scheme:name:port
        target = target[1:]
    if len(target) > 2 or not target[0]:
        return None
    port = target[1] if len(target) == 2 else ""
    return ProxyRequest(parts[5], parts[4], target[0], port, "/" + "/".join(parts[8:]))


def _unavailable(message: str) -> StoreError:
    return StoreError(503, "ServiceUnavailable", message)


def _ready(pod: Obj) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def _container_ports(pod: Obj) -> list[dict[str, Any]]:
    return [p for c in (pod.get("spec") or {}).get("containers") or [] for p in c.get("ports") or []]


def _refused(pod: Obj, port: Any) -> StoreError:
    ip = (pod.get("status") or {}).get("podIP") or "0.0.0.0"
    return _unavailable(f"error trying to reach service: dial tcp {ip}:{port}: connect: connection refused")


class Proxy:
    """Resolves a proxy request to the loopback URL that answers it and forwards it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # pod → the base URL of the simulated service serving it (None: nothing listens);
        # the World plugs it in (a world without services answers 503 for every proxy).
        self.backend: Callable[[Obj], str | None] = lambda pod: None

    def resolve(self, req: ProxyRequest) -> str:
        """The base URL that serves ``req`` (or the API server's StoreError)."""
        if req.resource == "services":
            return self._service(req)
        return self._pod(req)

    def _service(self, req: ProxyRequest) -> str:
        with self.store.lock:
            svc = self.store.require("services", req.namespace, req.name)
            ports = (svc.get("spec") or {}).get("ports") or []
            chosen = None
            if not req.port:
                chosen = ports[0] if ports else None
            elif req.port.isdigit():
                chosen = next((p for p in ports if str(p.get("port")) == req.port), None)
            else:
                chosen = next((p for p in ports if p.get("name") == req.port), None)
            shown = f"{req.name}:{req.port}" if req.port else req.name
            if chosen is None:
                raise _unavailable(f'no service port "{req.port}" found for service "{req.name}"')
            selector = (svc.get("spec") or {}).get("selector") or {}
            pods = self.store.list("pods", req.namespace, sel.selector_from_label_selector({"matchLabels": selector})
                                   ) if selector else []
            target = chosen.get("targetPort", chosen.get("port"))
            for pod in pods:
                if not _ready(pod):
                    continue
                cports = _container_ports(pod)
                if any(str(p.get("containerPort")) == str(target) or (p.get("name") and p.get("name") == target)
                       for p in cports):
                    url = self.backend(pod)
                    if url:
                        return url
        raise _unavailable(f'no endpoints available for service "{shown}"')

    def _pod(self, req: ProxyRequest) -> str:
        with self.store.lock:
            pod = self.store.require("pods", req.namespace, req.name)
            cports = [str(p.get("containerPort")) for p in _container_ports(pod)]
            port = req.port or (cports[0] if cports else "80")
            if not (pod.get("status") or {}).get("podIP"):
                raise StoreError(400, "BadRequest", "address not allowed")
            if port not in cports or not _ready(pod):
                raise _refused(pod, port)
            url = self.backend(pod)
        if not url:
            raise _refused(pod, port)
        return url

    def forward(self, base: str, method: str, path: str, query: str, body: bytes,
                headers: dict[str, str]) -> tuple[int, str, bytes]:
        """Send the request to ``base`` and return (status, content type, body)."""
        u = urlsplit(base)
        conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=TIMEOUT)
        try:
            conn.request(method, path + (f"?{query}" if query else ""), body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.getheader("Content-Type") or "text/plain", data
        except OSError as e:
            raise _unavailable(f"error trying to reach service: {e}") from None
        finally:
            conn.close()
