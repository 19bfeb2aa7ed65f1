"""Evidence directory + manifest referenced from the journal, and pod logs via the transport."""
from __future__ import annotations

import hashlib
from pathlib import Path

from cockpit.evidence import EvidenceDir, collect, events_collector, metrics_collector, pod_logs_collector, verify
from cockpit.journal import Journal
from cockpit.report import build_report


def test_collect_writes_manifest_and_journals_it(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.jsonl", clock=lambda: "2024-05-01T14:40:00.000Z") as j:
        j.append("incident_opened", target="shop/checkout", reason="x")
        ev = EvidenceDir.create(tmp_path / "evidence", "20240501T143000Z-shop/checkout")

        def broken():
            raise RuntimeError("metrics server down")

        res = collect(ev, {
            "pod-logs": pod_logs_collector(lambda: [("web-1", "app", "line 1\n"), ("../../etc", "x", "y")]),
            "events": events_collector(lambda: [{"reason": "BackOff"}]),
            "metrics": metrics_collector(broken),
        }, journal=j)
        records = j.read()
    names = [f["name"] for f in res.files]
    assert names == ["events/events.json", "pod-logs/etc/x.log", "pod-logs/web-1/app.log"]  # confined
    assert (ev.path / "pod-logs/web-1/app.log").read_text() == "line 1\n"
    assert res.errors == ["metrics: RuntimeError: metrics server down"]
    manifest = res.manifest.read_text()
    assert res.manifest_sha256 == hashlib.sha256(manifest.encode()).hexdigest()
    assert verify(ev.path) == []
    (ev.path / "pod-logs/web-1/app.log").write_text("tampered")
    assert verify(ev.path) == ["pod-logs/web-1/app.log"]
    (rec,) = [r for r in records if r["type"] == "evidence"]
    assert rec["manifest_sha256"] == res.manifest_sha256 and len(rec["files"]) == 3
    rep = build_report(records)
    assert rep.evidence[0]["files"] == 3 and rep.evidence[0]["errors"] == res.errors


def test_pod_logs_over_the_light_transport(receiver) -> None:
    from backends.kubernetes.backend import KubeBackend
    from backends.kubernetes.kubeconfig import Connection
    from backends.kubernetes.logs import logs
    from backends.kubernetes.transport import HttpTransport
    from cockpit.model import Target

    receiver.respond("GET", "/apis/apps/v1/namespaces/shop/deployments/checkout", 200,
                     {"metadata": {"name": "checkout", "namespace": "shop"}, "spec": {"selector": {"matchLabels": {"app": "checkout"}}}})
    receiver.respond("GET", "/api/v1/namespaces/shop/pods?", 200, {"items": [
        {"metadata": {"name": "checkout-1"}, "spec": {"containers": [{"name": "app"}, {"name": "sidecar"}]}}]})
    receiver.respond("GET", "/api/v1/namespaces/shop/pods/checkout-1/log", 200,
                     "2024-05-01T14:00:00Z boom \x1b[31mred\x1b[0m\n2024-05-01T14:00:01Z again\n", "text/plain")
    backend = KubeBackend(HttpTransport(Connection(server=receiver.url("")), readonly=True), namespace="shop")
    got = logs(backend, Target("checkout", "shop"), since_seconds=3600)
    assert [(p, c) for p, c, _ in got] == [("checkout-1", "app"), ("checkout-1", "sidecar")]
    assert got[0][2] == "2024-05-01T14:00:00Z boom \\e[31mred\\e[0m\n2024-05-01T14:00:01Z again\n"
    log_reqs = [r for r in receiver.requests if "/log" in r.path]
    # fetched concurrently: in any order, one request per container, each with the same query
    assert len(log_reqs) == 2 and all("sinceSeconds=3600" in r.path and "timestamps=true" in r.path for r in log_reqs)
    assert sorted(r.path.split("container=")[1].split("&")[0] for r in log_reqs) == ["app", "sidecar"]
    assert all(r.headers["user-agent"].startswith("cockpit/") for r in log_reqs)
