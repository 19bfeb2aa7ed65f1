"""Pod logs for evidence: ``logs(backend, target, since_seconds)``.

``GET /api/v1/namespaces/{ns}/pods/{pod}/log?container=..&sinceSeconds=..&timestamps=true``
for every container of every pod of the target's Deployment (the last hour by default), via
the backend's transport (``request_text``: the log endpoint answers ``text/plain``). Every line passes :func:`cockpit.text.sanitize`.
Reads only: allowed readonly.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from cockpit.errors import CockpitError
from cockpit.model import Target
from cockpit.text import sanitize

MAX_BYTES = 20 * 1024 * 1024


def _get_text(t: Any, path: str, query: dict[str, Any], timeout: float) -> str:
    return t.request_text("GET", path, query, timeout=timeout)[:MAX_BYTES]


def pod_log(backend: Any, namespace: str, pod: str, container: str | None, since_seconds: int,
            timeout: float = 30.0) -> str:
    query: dict[str, Any] = {"sinceSeconds": int(since_seconds), "timestamps": "true"}
    if container:
        query["container"] = container
    text = _get_text(backend.t, f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}/log", query, timeout)
    return "\n".join(sanitize(line, max_len=8192) for line in text.splitlines()) + ("\n" if text else "")


def logs(backend: Any, target: Target, since_seconds: int = 3600) -> list[tuple[str, str, str]]:
    """``[(pod, container, text)]`` for every container of the target's pods."""
    d = backend.get_deployment(target)
    labels = ((d.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    doc = backend.t.request("GET", f"/api/v1/namespaces/{quote(target.namespace)}/pods", {"labelSelector": selector})
    wanted = []
    for pod in doc.get("items") or []:
        name = (pod.get("metadata") or {}).get("name", "")
        containers = [c.get("name", "") for c in ((pod.get("spec") or {}).get("containers") or [])] or [None]
        wanted += [(name, c) for c in containers]

    def one(item: tuple[str, str | None]) -> tuple[str, str, str]:
        name, c = item
        try:
            text = pod_log(backend, target.namespace, name, c, since_seconds)
        except CockpitError as exc:
            text = f"[cockpit: could not fetch logs: {exc.title}: {exc}]\n"
        return sanitize(name, max_len=253), sanitize(c or "", max_len=253), text

    if len(wanted) <= 1:
        return [one(w) for w in wanted]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, len(wanted)), thread_name_prefix="pod-logs") as pool:
        return list(pool.map(one, wanted))  # in the pods' order, fetched concurrently


def capture_before_rollback(backend: Any, target: Target, journal: Any, base: Any = None,
                            since_seconds: int = 3600) -> Any:
    """Evidence before a rollback (the runbooks: capture first): the last hour of the
    target's pod logs, its events and its rollout history, into an evidence directory beside
    the journal (or ``base``) with a sha256 manifest the journal references.

    Returns the :class:`cockpit.evidence.EvidenceResult`; a source that fails is listed in its
    ``errors`` and never stops the rollback.
    """
    import time
    from pathlib import Path

    from cockpit.evidence import EvidenceDir, collect, events_collector, metrics_collector, pod_logs_collector
    from cockpit.output import jsonable

    where = Path(base) if base is not None else Path(str(journal.path) + ".evidence")
    ev = EvidenceDir.create(where, time.strftime("before-rollback-%Y%m%dT%H%M%SZ", time.gmtime()))
    return collect(ev, {
        "logs": pod_logs_collector(lambda: logs(backend, target, since_seconds)),
        "events": events_collector(lambda: backend.events(target, limit=500)),
        "rollout": metrics_collector(lambda: jsonable(backend.history(target)), name="history.json"),
    }, journal=journal)
