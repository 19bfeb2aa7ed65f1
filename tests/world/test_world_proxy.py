"""The API server's proxy: services/NAME:PORT/proxy/PATH and pods/NAME:PORT/proxy/PATH answer
as a real API server does — the upstream's answer passed through, 404/503 Status otherwise."""
from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request

import pytest

from cockpit.world.proxy import match
from cockpit.world.world import World

SVC = "/api/v1/namespaces/shop/services"
PODS = "/api/v1/namespaces/shop/pods"


def get(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, str, str]:
    req = urllib.request.Request(url, method=method, data=body)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def status(text: str) -> dict:
    doc = json.loads(text)
    assert doc["kind"] == "Status" and doc["status"] == "Failure"
    return doc


def test_match_names_the_forms_a_real_server_accepts() -> None:
    m = match(SVC + "/checkout:http/proxy/metrics")
    assert (m.resource, m.namespace, m.name, m.port, m.path) == ("services", "shop", "checkout", "http", "/metrics")
    m = match(SVC + "/https:checkout:443/proxy/a/b")
    assert (m.name, m.port, m.path) == ("checkout", "443", "/a/b")
    m = match(PODS + "/web-1/proxy")
    assert (m.resource, m.name, m.port, m.path) == ("pods", "web-1", "", "/")
    assert match(SVC + "/checkout") is None
    assert match("/apis/apps/v1/namespaces/shop/deployments/checkout/proxy/x") is None


def test_service_proxy_serves_the_services_metrics(world) -> None:
    w: World = world("bad-image", speed=100, services=True)
    direct = get(w.service_url("shop", "checkout") + "/metrics")
    for port in (":http", ":80", ""):
        code, ctype, text = get(w.url + f"{SVC}/checkout{port}/proxy/metrics")
        assert code == 200, text
        assert ctype.startswith("text/plain; version=0.0.4")
        assert "# TYPE http_requests_total counter" in text
        assert 'service="checkout"' in text and 'service="cart"' not in text
    assert direct[0] == 200
    # other paths are forwarded too, with the upstream's status
    code, _, text = get(w.url + f"{SVC}/checkout:http/proxy/version")
    assert (code, text) == (200, "1.5.0\n")
    assert ("GET", f"{SVC}/checkout:http/proxy/version") in w.request_log


def test_service_proxy_errors_are_status_objects(world) -> None:
    w: World = world("bad-image", speed=100, services=True)
    code, ctype, text = get(w.url + f"{SVC}/nope:80/proxy/metrics")
    assert code == 404 and ctype == "application/json"
    assert status(text)["message"] == 'services "nope" not found'
    code, _, text = get(w.url + f"{SVC}/checkout:9999/proxy/metrics")
    doc = status(text)
    assert (code, doc["reason"]) == (503, "ServiceUnavailable")
    assert doc["message"] == 'no service port "9999" found for service "checkout"'
    code, _, text = get(w.url + f"{SVC}/checkout:grpc/proxy/metrics")
    assert code == 503 and "no service port" in status(text)["message"]
    # a service whose selector matches no pod has no endpoints
    ghost = {"metadata": {"name": "ghost"},
             "spec": {"selector": {"app": "ghost"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
    code, _, _ = get(w.url + SVC, "POST", json.dumps(ghost).encode())
    assert code == 201
    code, _, text = get(w.url + f"{SVC}/ghost:http/proxy/metrics")
    assert code == 503 and status(text)["message"] == 'no endpoints available for service "ghost:http"'


def test_pod_proxy(world) -> None:
    w: World = world("bad-image", speed=100, services=True)
    pods = [p for p in w.store.list("pods", "shop") if p["metadata"]["name"].startswith("checkout-")]
    assert pods
    name = pods[0]["metadata"]["name"]
    for port in (":8080", ""):
        code, _, text = get(w.url + f"{PODS}/{name}{port}/proxy/metrics")
        assert code == 200 and 'service="checkout"' in text
    code, _, text = get(w.url + f"{PODS}/{name}:9/proxy/metrics")
    assert code == 503 and "connect: connection refused" in status(text)["message"]
    code, _, text = get(w.url + f"{PODS}/nope:8080/proxy/metrics")
    assert code == 404 and status(text)["message"] == 'pods "nope" not found'


def test_world_without_services_has_no_endpoints(world) -> None:
    w: World = world("bad-image", speed=100, services=False)
    w.store.create("services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "checkout", "namespace": "shop"},
                                "spec": {"selector": {"app": "checkout"},
                                         "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
    code, _, text = get(w.url + f"{SVC}/checkout:http/proxy/metrics")
    assert code == 503 and "no endpoints available" in status(text)["message"]


def test_forbidden_proxy_is_403(world) -> None:
    w: World = world("bad-image", speed=100, services=True)
    w.forbid("services")
    code, _, text = get(w.url + f"{SVC}/checkout:http/proxy/metrics")
    doc = status(text)
    assert code == 403 and 'cannot get resource "services/proxy"' in doc["message"]


@pytest.mark.skipif(not shutil.which("kubectl"), reason="no kubectl on PATH")
def test_kubectl_get_raw_reads_the_proxy(world, kubectl) -> None:
    w: World = world("bad-image", speed=100, services=True)
    out = kubectl(w).ok("get", "--raw", f"{SVC}/checkout:http/proxy/metrics")
    assert "# TYPE http_request_duration_seconds histogram" in out
    p = kubectl(w).fails("get", "--raw", f"{SVC}/checkout:9999/proxy/metrics")
    assert "no service port" in p.stderr
