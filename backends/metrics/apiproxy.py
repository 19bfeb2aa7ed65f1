"""Scrape a deployment's ``/metrics`` through the Kubernetes API server's proxy.

Needs nothing but the user's own Kubernetes access (``get`` on ``services/proxy`` or
``pods/proxy``): no Prometheus, no URL, no network path to the pods. :func:`discover` finds
where the metrics are, the way Prometheus' ``kubernetes_sd`` conventions say:

1. a Service in the deployment's namespace whose selector picks the deployment's pods (one
   named like the deployment first; one annotated ``prometheus.io/scrape: "true"`` before
   that; ``"false"`` is never scraped) — through
   ``/api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH``, PORT from ``prometheus.io/port``
   (a service port's number, name or target port) else a port named ``metrics`` or
   ``http-metrics``, else the first; PATH from ``prometheus.io/path``, else ``/metrics``;
2. else the deployment's Ready pods, each through ``/api/v1/namespaces/NS/pods/NAME:PORT/proxy/PATH``
   (the pod template's annotations, else its container port named ``metrics``, else the
   first), their expositions summed.

The text is parsed and windowed by :mod:`.scrape` (:func:`~.scrape.parse`, :class:`~.scrape.Windowed`).
A failed proxy call is a failed reading naming the API server's answer, never an exception.
Only GETs are sent (the transport refuses anything else when readonly).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from cockpit.decision import Reading
from cockpit.errors import CockpitError, NotFoundError
from cockpit.model import Target
from cockpit.text import sanitize

from backends.metrics.scrape import Snapshot, Windowed, parse

SCRAPE = "prometheus.io/scrape"
PORT = "prometheus.io/port"
PATH = "prometheus.io/path"
METRICS_PORT_NAMES = ("metrics", "http-metrics", "prometheus")
MAX_PODS = 20
"""At most this many pods are scraped per check (a deployment of hundreds is summed from a sample)."""

HOW_TO_CONFIGURE = ("configure one of: a Prometheus URL (metrics.prometheus.url / --prometheus-url), a /metrics URL "
                    "(metrics.scrape.url / --metrics-url), or prometheus.io/scrape, prometheus.io/port and "
                    "prometheus.io/path annotations on the deployment's Service")
"""The three ways to give the cockpit metrics, named wherever none could be found."""

HOW_TO_CONFIGURE_SETTINGS = ("set a Prometheus URL (metrics.prometheus.url), a /metrics URL (metrics.scrape.url) or "
                             "prometheus.io/scrape annotations on the Service")
"""The same three ways for the full-screen cockpit, which takes them from its settings (the
flags are ``cockpit watch``'s): short enough for a metric pane of an 80x24 terminal."""


@dataclass(frozen=True)
class Endpoint:
    """Where the metrics are: a service port, or the pods' port."""

    kind: str
    """``service`` or ``pods``."""
    namespace: str
    name: str
    """The service's name, or the deployment's (for ``pods``)."""
    port: str
    path: str
    selector: str = ""
    """The pods' label selector (``pods`` only)."""

    def describe(self) -> str:
        what = f"service {self.name}:{self.port}" if self.kind == "service" else f"pods of {self.name} port {self.port}"
        return f"{self.path} of {what} through the API server"


class NoMetricsFound(CockpitError):
    """Nothing to scrape: no service and no pod port for the deployment."""


def _ann(obj: dict[str, Any]) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _path(ann: dict[str, str]) -> str:
    p = (ann.get(PATH) or "/metrics").strip()
    return p if p.startswith("/") else "/" + p


def _service_port(svc: dict[str, Any]) -> str | None:
    ports = (svc.get("spec") or {}).get("ports") or []
    if not ports:
        return None
    want = (_ann(svc).get(PORT) or "").strip()
    if want:
        for p in ports:
            if want in (str(p.get("port")), str(p.get("name") or ""), str(p.get("targetPort"))):
                return str(p.get("name") or p.get("port"))
    for p in ports:
        if p.get("name") in METRICS_PORT_NAMES:
            return str(p["name"])
    p = ports[0]
    return str(p.get("name") or p.get("port"))


def _pod_port(template: dict[str, Any]) -> str | None:
    want = (_ann(template).get(PORT) or "").strip()
    ports = [p for c in (template.get("spec") or {}).get("containers") or [] for p in c.get("ports") or []]
    if want.isdigit():
        return want
    for p in ports:
        if (p.get("name") == want) if want else (p.get("name") in METRICS_PORT_NAMES):
            return str(p["containerPort"])
    return str(ports[0]["containerPort"]) if ports else None


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def discover(t: Any, target: Target) -> Endpoint:
    """Where ``target``'s metrics can be scraped through the API server (:class:`NoMetricsFound`
    when nowhere; the API's own errors — 404, 403 — as they come)."""
    ns = quote(target.namespace)
    dep = t.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/{quote(target.name)}")
    template = (dep.get("spec") or {}).get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    services = t.request("GET", f"/api/v1/namespaces/{ns}/services").get("items") or []
    candidates = [s for s in services
                  if _selects((s.get("spec") or {}).get("selector") or {}, labels)
                  and _ann(s).get(SCRAPE, "").lower() != "false"]
    candidates.sort(key=lambda s: (_ann(s).get(SCRAPE, "").lower() != "true",
                                   s["metadata"]["name"] != target.name, s["metadata"]["name"]))
    for svc in candidates:
        port = _service_port(svc)
        if port:
            return Endpoint("service", target.namespace, svc["metadata"]["name"], port, _path(_ann(svc)))
    if _ann(template).get(SCRAPE, "").lower() != "false":
        port = _pod_port(template)
        match = ((dep.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if port and match:
            sel = ",".join(f"{k}={v}" for k, v in sorted(match.items()))
            return Endpoint("pods", target.namespace, target.name, port, _path(_ann(template)), sel)
    raise NoMetricsFound(
        f"no metrics source found for {target}: no Service selects its pods and its containers declare no port",
        title="No metrics source", hint=HOW_TO_CONFIGURE)


def _ready(pod: dict[str, Any]) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def combine(snaps: list[Snapshot], at: float) -> Snapshot:
    """The sum of several pods' snapshots (buckets by upper bound)."""
    buckets: dict[float, float] = {}
    for s in snaps:
        for le, c in s.buckets:
            buckets[le] = buckets.get(le, 0.0) + c
    return Snapshot(at, sum(s.total for s in snaps), sum(s.errors for s in snaps), tuple(sorted(buckets.items())))


class ApiProxySource(Windowed):
    """``MetricsSource``: the deployment's ``/metrics`` through the API server's proxy.

    ``t`` is the Kubernetes backend's transport (``request``, ``request_text``). Where the
    metrics are is found on the first check (or given as ``endpoint``) and found again after a
    check that met 404 (the service or pod went away)."""

    def __init__(self, t: Any, target: Target, *, endpoint: Endpoint | None = None, timeout: float = 5.0,
                 name: str = "apiproxy", keep_s: float = 3600.0) -> None:
        super().__init__(name, keep_s)
        self.t = t
        self.target = target
        self.endpoint = endpoint
        self.timeout = timeout

    def describe(self) -> str:
        if self.endpoint is None:
            return f"/metrics of {self.target} through the API server (not found yet)"
        return self.endpoint.describe()

    def discover(self) -> Endpoint:
        self.endpoint = discover(self.t, self.target)
        return self.endpoint

    def _get(self, path: str) -> str:
        return self.t.request_text("GET", path, timeout=self.timeout)

    def fetch(self, now: float) -> Snapshot:
        """One scrape of the endpoint (CockpitError or ValueError when it fails)."""
        ep = self.endpoint or self.discover()
        ns = quote(ep.namespace)
        if ep.kind == "service":
            return parse(self._get(f"/api/v1/namespaces/{ns}/services/{quote(ep.name)}:{quote(ep.port)}/proxy{ep.path}"),
                         now)
        pods = self.t.request("GET", f"/api/v1/namespaces/{ns}/pods", {"labelSelector": ep.selector}).get("items") or []
        ready = sorted((p["metadata"]["name"] for p in pods if _ready(p)))[:MAX_PODS]
        if not ready:
            raise CockpitError(f"no ready pod of {self.target} to scrape", title="No ready pods")
        return combine([parse(self._get(f"/api/v1/namespaces/{ns}/pods/{quote(n)}:{quote(ep.port)}/proxy{ep.path}"), now)
                        for n in ready], now)

    def sample(self, window_s: float, now: float | None = None) -> Reading:
        now = time.time() if now is None else now
        try:
            snap = self.fetch(now)
        except NoMetricsFound as exc:
            return self.track.judge(Reading(self.name, at=now, ok=False, error=sanitize(str(exc), max_len=300)))
        except CockpitError as exc:
            if isinstance(exc, NotFoundError):
                self.endpoint = None  # found again next time
            return self.track.judge(Reading(self.name, at=now, ok=False,
                                            error=sanitize(f"{exc.title}: {exc}", max_len=300)))
        except ValueError as exc:
            return self.track.judge(Reading(self.name, at=now, ok=False,
                                            error=sanitize(f"unparsable metrics: {str(exc)[:120]}", max_len=200)))
        return self.track.judge(self.add(snap, window_s))

    def close(self) -> None:
        pass
