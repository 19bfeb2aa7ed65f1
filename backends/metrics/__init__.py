"""Metrics sources: Prometheus HTTP API, direct ``/metrics`` scrape, HTTP probes, pod crashes.

Each source implements :class:`cockpit.ports.MetricsSource` — ``name`` and
``sample(window_s, now) -> cockpit.decision.Reading`` — and never raises for a failed fetch:
it returns ``Reading(ok=False, error=...)`` so the engine can mark it *stale since T*.
"""
