"""Simulated services: one loopback HTTP server per deployment of the scenario.

Each answers ``/health`` (200 while at least one pod is Ready, else 503), ``/version`` (the
image tag of the pod that served), ``/metrics`` (Prometheus text format: the counter
``http_requests_total{code,method}`` and the histogram ``http_request_duration_seconds``) and
any other path with the status and latency the serving image dictates. Which image serves is
drawn from the Ready pods, so during a rolling update the mix follows the rollout.

Traffic is generated inside the world: :meth:`Services.tick` adds ``traffic_rps`` simulated
requests per real second to each service's counters, drawn from the same distributions, in
batches (a few times a second), so the counters move without outside load.
"""
from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cockpit.world import selectors as sel
from cockpit.world.scenario import Behaviour
from cockpit.world.store import Store

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
Z95 = 1.6448536269514722


def sample_latency(b: Behaviour, rng: random.Random) -> float:
    """Seconds, lognormal with the behaviour's p50 and p95."""
    p50 = max(b.latency_ms.p50, 0.1) / 1000.0
    p95 = max(b.latency_ms.p95, b.latency_ms.p50, 0.1) / 1000.0
    sigma = math.log(p95 / p50) / Z95 if p95 > p50 else 0.0
    return p50 * math.exp(sigma * rng.gauss(0.0, 1.0))


@dataclass
class Metrics:
    """One service's counters (thread-safe)."""

    requests: dict[tuple[str, str], int] = field(default_factory=dict)
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0
    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, code: int, seconds: float, method: str = "GET", n: int = 1) -> None:
        with self.lock:
            key = (str(code), method)
            self.requests[key] = self.requests.get(key, 0) + n
            i = next((i for i, b in enumerate(BUCKETS) if seconds <= b), len(BUCKETS))
            self.buckets[i] += n
            self.total += seconds * n
            self.count += n

    def render(self, service: str) -> str:
        with self.lock:
            lines = [
                "# HELP http_requests_total Total HTTP requests served, by status code and method.",
                "# TYPE http_requests_total counter",
            ]
            for (code, method), v in sorted(self.requests.items()):
                lines.append(f'http_requests_total{{code="{code}",method="{method}",service="{service}"}} {v}')
            lines += [
                "# HELP http_request_duration_seconds HTTP request latency in seconds.",
                "# TYPE http_request_duration_seconds histogram",
            ]
            cum = 0
            for b, n in zip(BUCKETS, self.buckets):
                cum += n
                lines.append(f'http_request_duration_seconds_bucket{{service="{service}",le="{b}"}} {cum}')
            cum += self.buckets[-1]
            lines.append(f'http_request_duration_seconds_bucket{{service="{service}",le="+Inf"}} {cum}')
            lines.append(f'http_request_duration_seconds_sum{{service="{service}"}} {self.total:.6f}')
            lines.append(f'http_request_duration_seconds_count{{service="{service}"}} {self.count}')
        return "\n".join(lines) + "\n"


class SimService:
    def __init__(self, namespace: str, name: str, store: Store, behaviour: Callable[[str], Behaviour],
                 speed: float, selector: dict[str, Any]) -> None:
        self.namespace = namespace
        self.name = name
        self.store = store
        self.behaviour = behaviour
        self.speed = speed
        self.selector = sel.selector_from_label_selector(selector)
        self.metrics = Metrics()
        self.rng = random.Random(hash((namespace, name)))
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # ---------------------------------------------------------------- what serves now
    def mix(self) -> list[tuple[str, int]]:
        """(image, number of Ready pods) for the deployment's pods."""
        counts: dict[str, int] = {}
        with self.store.lock:
            for pod in self.store.list("pods", self.namespace, self.selector):
                conds = (pod.get("status") or {}).get("conditions") or []
                if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds):
                    image = pod["spec"]["containers"][0].get("image", "")
                    counts[image] = counts.get(image, 0) + 1
        return sorted(counts.items())

    def pick(self, mix: list[tuple[str, int]]) -> str | None:
        total = sum(n for _, n in mix)
        if not total:
            return None
        r = self.rng.random() * total
        for image, n in mix:
            r -= n
            if r < 0:
                return image
        return mix[-1][0]

    def serve_one(self) -> tuple[int, float, str | None]:
        """Draw one request: (status code, latency seconds, image)."""
        image = self.pick(self.mix())
        if image is None:
            return 503, 0.001, None
        b = self.behaviour(image)
        latency = sample_latency(b, self.rng)
        code = 500 if self.rng.random() < b.error_rate else 200
        return code, latency, image

    def generate(self, n: int) -> None:
        """Add ``n`` simulated requests to the counters."""
        mix = self.mix()
        total = sum(c for _, c in mix)
        if not total:
            self.metrics.observe(503, 0.001, n=n)
            return
        for _ in range(n):
            image = self.pick(mix)
            assert image is not None
            b = self.behaviour(image)
            code = 500 if self.rng.random() < b.error_rate else 200
            self.metrics.observe(code, sample_latency(b, self.rng))

    # ---------------------------------------------------------------- HTTP
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        svc = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "drill-service"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _send(self, code: int, body: str, ctype: str = "text/plain; charset=utf-8", image: str | None = None):
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                if image:
                    self.send_header("X-Drill-Image", image)
                self._headers_buffer.append(b"\r\n")
                head = b"".join(self._headers_buffer)
                self._headers_buffer = []
                self.wfile.write(head if self.command == "HEAD" else head + data)

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, svc.metrics.render(svc.name), "text/plain; version=0.0.4; charset=utf-8")
                    return
                mix = svc.mix()
                if path in ("/health", "/healthz"):
                    ok = bool(mix)
                    self._send(200 if ok else 503, "ok\n" if ok else "no ready pods\n")
                    return
                image = svc.pick(mix)
                if path == "/version":
                    if image is None:
                        self._send(503, "no ready pods\n")
                    else:
                        self._send(200, image.rsplit(":", 1)[-1] + "\n", image=image)
                    return
                if image is None:
                    svc.metrics.observe(503, 0.001, self.command)
                    self._send(503, "no healthy upstream\n")
                    return
                b = svc.behaviour(image)
                latency = sample_latency(b, svc.rng)
                code = 500 if svc.rng.random() < b.error_rate else 200
                time.sleep(min(latency / svc.speed, 30.0))
                svc.metrics.observe(code, latency, self.command)
                self._send(code, "ok\n" if code == 200 else "internal error\n", image=image)

            do_HEAD = do_GET
            do_POST = do_GET

        self.server = ThreadingHTTPServer((host, port), H)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.5},
                                       name=f"drill-svc-{self.name}", daemon=True)
        self.thread.start()
        return f"http://{host}:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class Services:
    """All simulated services of a world, and the traffic generator."""

    def __init__(self, rps: float) -> None:
        self.rps = rps
        self.items: dict[tuple[str, str], SimService] = {}
        self.urls: dict[tuple[str, str], str] = {}
        self._carry: dict[tuple[str, str], float] = {}
        self._last = time.monotonic()
        self.routes: Any = None
        """The HTTPRoutes' traffic (:class:`cockpit.world.gateway.RouteTraffic`): a Service a
        route names gets its traffic through the route, by weight, instead of its own."""

    def add(self, svc: SimService, host: str = "127.0.0.1") -> str:
        url = svc.start(host)
        self.items[(svc.namespace, svc.name)] = svc
        self.urls[(svc.namespace, svc.name)] = url
        return url

    def tick(self) -> None:
        now = time.monotonic()
        dt, self._last = now - self._last, now
        routed = self.routes.routed() if self.routes is not None else set()
        for key, svc in self.items.items():
            if key in routed:
                continue
            want = self.rps * dt + self._carry.get(key, 0.0)
            n = int(want)
            self._carry[key] = want - n
            if n:
                svc.generate(n)
        if self.routes is not None:
            self.routes.tick(dt)

    def stop(self) -> None:
        # in parallel: each server's shutdown waits for its poll interval
        threads = [threading.Thread(target=svc.stop, daemon=True) for svc in self.items.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=5)
