"""The in-cluster watcher's probes: ``/healthz`` (liveness) and ``/readyz`` (readiness).

A stdlib HTTP server in a daemon thread (``cockpit watch --health-port N``), answering from a
``status()`` callable the command gives it:

- ``/healthz`` is 200 while the watch loop keeps ticking (each watcher ticked within
  ``max(3 × interval, 30 s)``; a stuck loop is restarted by the kubelet), else 503;
- ``/readyz`` is 200 once every watcher ticked at least once, else 503.

Both answer JSON: ``{"ok", "leader", "holder", "targets": {target: seconds since its last
tick}}``. Nothing else is served; requests are not logged.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Status = Callable[[], tuple[bool, bool, dict[str, Any]]]
"""() -> (alive, ready, details)."""


class HealthServer:
    def __init__(self, port: int, status: Status, host: str = "0.0.0.0") -> None:
        self.status = status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "cockpit-watch"
            sys_version = ""

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path not in ("/healthz", "/readyz", "/livez"):
                    self._send(404, {"ok": False, "error": "not found"})
                    return
                try:
                    alive, ready, details = outer.status()
                except Exception as exc:  # noqa: BLE001 - a probe answers, whatever happened
                    self._send(503, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
                    return
                ok = ready if path == "/readyz" else alive
                self._send(200 if ok else 503, {"ok": ok, **details})

            def _send(self, code: int, doc: dict[str, Any]) -> None:
                body = json.dumps(doc, sort_keys=True).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server((host, port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.5},
                                        name="watch-healthz", daemon=True)

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
