"""A tiny HTTP server that speaks the Prometheus query API (``/api/v1/query``), misbehaving on cue.

A real Prometheus cannot be made to answer NaN, garbage or fail four times out of five on
demand; this stand-in can, and is the only one the fault tests use for it. It tells the three
queries of the cockpit's default PromQL apart (error ratio: ``code=~"5.."``; p95:
``histogram_quantile``; else the request rate) and counts *checks* by the error-ratio query,
which each check sends first.

Modes (``server.mode``, changeable while it runs):

- ``ok``: the ``values`` (default: 0.1 % errors, p95 80 ms, 20 req/s);
- ``nan``: every value ``"NaN"`` (0/0: no traffic in the window);
- ``empty``: no series at all;
- ``flaky``: every query of four checks out of five answers HTTP 503 (``errorType:
  unavailable``); the fifth check gets the ``values``;
- ``garbage``: HTTP 200 with something that is not a query result (``garbage`` picks which).

It also serves ``/metrics`` (a service's own exposition, for the scrape source): counters that
grow by 100 requests a scrape, with the same modes (``flaky``: four scrapes in five fail).
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

GOOD = {"error_rate": 0.001, "p95_ms": 80.0, "request_rate": 20.0}
GARBAGE: dict[str, Any] = {
    "not-json": b"<html>502 Bad Gateway</html>",
    "no-data": {"status": "success"},
    "value-not-a-number": {"status": "success", "data": {"resultType": "vector",
                                                         "result": [{"metric": {}, "value": [1, "fast"]}]}},
    "value-missing": {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}}]}},
    "result-not-a-list": {"status": "success", "data": {"resultType": "vector", "result": 7}},
    "matrix": {"status": "success", "data": {"resultType": "matrix", "result": []}},
}


def which(query: str) -> str:
    if 'code=~"5..' in query:
        return "error_rate"
    if "histogram_quantile" in query:
        return "p95_ms"
    return "request_rate"


class FakePrometheus:
    def __init__(self, mode: str = "ok", values: dict[str, float] | None = None, garbage: str = "no-data") -> None:
        self.mode = mode
        self.values = dict(values or GOOD)
        self.garbage = garbage
        self.checks = 0
        self.scrapes = 0
        self.queries: list[str] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                u = urlsplit(self.path)
                q = (parse_qs(u.query).get("query") or [""])[0]
                status, body = fake.answer(u.path, q)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET

            def log_message(self, *a: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def start(self) -> "FakePrometheus":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def exposition(self) -> tuple[int, Any]:
        with self._lock:
            self.scrapes += 1
            n = self.scrapes
        if self.mode == "flaky" and n % 5 != 0:
            return 503, b"unavailable"
        if self.mode == "garbage":
            return 200, b"http_requests_total{code=200 nonsense\n"
        total = 100.0 * n
        errors = total * self.values["error_rate"]
        lines = ["# TYPE http_requests_total counter",
                 f'http_requests_total{{code="200"}} {total - errors}', f'http_requests_total{{code="500"}} {errors}',
                 "# TYPE http_request_duration_seconds histogram"]
        for le, share in (("0.05", 0.5), ("0.1", 0.97), ("+Inf", 1.0)):
            lines.append(f'http_request_duration_seconds_bucket{{le="{le}"}} {total * share}')
        lines += [f"http_request_duration_seconds_count {total}", f"http_request_duration_seconds_sum {total * 0.05}"]
        return 200, ("\n".join(lines) + "\n").encode()

    def answer(self, path: str, query: str) -> tuple[int, Any]:
        if path == "/metrics":
            return self.exposition()
        with self._lock:
            self.queries.append(query)
            kind = which(query)
            if kind == "error_rate":
                self.checks += 1
            check = self.checks
        if path != "/api/v1/query":
            return 404, {"status": "error", "errorType": "not_found", "error": path}
        if self.mode == "flaky" and check % 5 != 0:
            return 503, {"status": "error", "errorType": "unavailable", "error": "injected: 4 checks in 5 fail"}
        if self.mode == "garbage":
            return 200, GARBAGE[self.garbage]
        if self.mode == "empty":
            return 200, {"status": "success", "data": {"resultType": "vector", "result": []}}
        value = "NaN" if self.mode == "nan" else repr(float(self.values[kind]))
        return 200, {"status": "success", "data": {"resultType": "vector",
                                                   "result": [{"metric": {}, "value": [1700000000.0, value]}]}}


@pytest.fixture
def fake_prometheus() -> Iterator[Any]:
    started: list[FakePrometheus] = []

    def make(mode: str = "ok", **kw: Any) -> FakePrometheus:
        p = FakePrometheus(mode, **kw).start()
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()
