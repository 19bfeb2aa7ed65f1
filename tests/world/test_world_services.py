"""Simulated services: health, version, metrics, traffic, and the mix following rollouts."""
from __future__ import annotations

import re
import time
import urllib.error
import urllib.request

from cockpit.world.world import URL_ANNOTATION, World


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def parse_metrics(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_endpoints_and_metrics_format(world) -> None:
    w: World = world("bad-image", speed=100, services=True)
    base = w.service_url("shop", "checkout")
    svc = w.store.require("services", "shop", "checkout")
    assert svc["metadata"]["annotations"][URL_ANNOTATION] == base
    assert get(base + "/health") == (200, "ok\n")
    assert get(base + "/version") == (200, "1.5.0\n")
    codes = [get(base + f"/checkout/{i}")[0] for i in range(40)]
    assert set(codes) <= {200, 500} and 500 in codes
    time.sleep(1.1)
    status, text = get(base + "/metrics")
    assert status == 200
    assert "# TYPE http_requests_total counter" in text
    assert "# TYPE http_request_duration_seconds histogram" in text
    m = parse_metrics(text)
    total = sum(v for k, v in m.items() if k.startswith("http_requests_total"))
    errors = sum(v for k, v in m.items() if k.startswith('http_requests_total{code="500"'))
    assert total >= 40 and errors / total > 0.1
    buckets = [(k, v) for k, v in m.items() if k.startswith("http_request_duration_seconds_bucket")]
    assert buckets[-1][0].endswith('le="+Inf"}') and buckets[-1][1] == m[
        'http_request_duration_seconds_count{service="checkout"}']
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)
    assert re.search(r'le="0\.005"', text) and re.search(r'le="10\.0"', text)


def test_traffic_moves_counters_without_load(world) -> None:
    w: World = world("healthy", speed=100, services=True)
    base = w.service_url("default", "web")
    first = parse_metrics(get(base + "/metrics")[1]).get('http_request_duration_seconds_count{service="web"}', 0)
    deadline, second = time.monotonic() + 15, first  # ~1 s on an idle machine; no load is sent from here
    while second - first < 15 and time.monotonic() < deadline:
        time.sleep(0.2)
        second = parse_metrics(get(base + "/metrics")[1])['http_request_duration_seconds_count{service="web"}']
    assert second - first >= 15


def test_version_follows_rollback(world) -> None:
    w: World = world("bad-image", speed=200, services=True)
    base = w.service_url("shop", "checkout")
    w.apply_template("shop", "checkout", "registry.example/shop/checkout:1.4.2")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        dep = w.store.require("deployments", "shop", "checkout")
        if dep["status"].get("observedGeneration") == dep["metadata"]["generation"] \
                and dep["status"].get("updatedReplicas") == 4 and dep["status"].get("replicas") == 4 \
                and dep["status"].get("availableReplicas") == 4:
            break
        time.sleep(0.05)
    versions = {get(base + "/version")[1] for _ in range(10)}
    assert versions == {"1.4.2\n"}
    codes = [get(base + "/")[0] for _ in range(30)]
    assert codes.count(500) <= 2


def test_no_ready_pods_is_503(world) -> None:
    w: World = world("healthy", speed=100, services=True)
    from cockpit.world.resources import RESOURCES

    w.api.patch(RESOURCES["deployments"], "default", "api", "scale", {"spec": {"replicas": 0}},
                "application/merge-patch+json", dry_run=False)
    deadline = time.monotonic() + 10
    while w.store.list("pods", "default", ()) and time.monotonic() < deadline:
        if not [p for p in w.store.list("pods", "default") if p["metadata"]["labels"]["app"] == "api"]:
            break
        time.sleep(0.05)
    base = w.service_url("default", "api")
    assert get(base + "/health")[0] == 503
    assert get(base + "/")[0] == 503
