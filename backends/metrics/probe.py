"""HTTP probes: the health endpoint's status and latency, and the ``/version`` a service reports.

A probe that cannot connect or times out is a *failed health check* (the service did not
answer), not a failed source: that is exactly what the health trigger counts.
"""
from __future__ import annotations

import time

import httpx

from cockpit.decision import Reading
from cockpit.text import redact_url, sanitize

from backends.metrics.http import client, short_error


class ProbeSource:
    def __init__(self, base_url: str, *, health_path: str = "/health", version_path: str | None = "/version",
                 timeout: float = 3.0, name: str = "probe", http: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.health_path = health_path
        self.version_path = version_path
        self.name = name
        self._http = http or client(timeout)

    def describe(self) -> str:
        return f"probe {redact_url(self.base_url)}{self.health_path}"

    def sample(self, window_s: float = 0.0, now: float | None = None) -> Reading:
        now = time.time() if now is None else now
        t0 = time.perf_counter()
        try:
            resp = self._http.get(self.base_url + self.health_path)
            ok = 200 <= resp.status_code < 300
            error = "" if ok else f"health HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            ok, error = False, f"health: {short_error(exc)}"
        elapsed_ms = (time.perf_counter() - t0) * 1000.0
        version = None
        if ok and self.version_path:
            try:
                v = self._http.get(self.base_url + self.version_path)
                if v.status_code == 200:
                    version = sanitize(v.text.strip().splitlines()[0] if v.text.strip() else "", max_len=120) or None
            except httpx.HTTPError:
                version = None
        return Reading(self.name, at=now, ok=True, error=error, health_ok=ok, probe_ms=elapsed_ms, version=version)

    def close(self) -> None:
        self._http.close()
