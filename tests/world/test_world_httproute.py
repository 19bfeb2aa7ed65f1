"""HTTPRoutes in the world: served like a real API server serves the Gateway API CRD
(discovery, defaults, 422s, kubectl), and the world's traffic follows their weights."""
from __future__ import annotations

import json
import time

import pytest

from cockpit.world.resources import RESOURCES
from cockpit.world.scenario import Scenario
from cockpit.world.store import StoreError
from cockpit.world.world import World

CANARY = {
    "name": "canary",
    "namespaces": ["shop"],
    "traffic_rps": 2000,
    "deployments": [
        {"name": "checkout-v1", "namespace": "shop", "replicas": 2, "port": 8080,
         "revisions": [{"image": "registry.example/shop/checkout:1.4.2", "error_rate": 0.002,
                        "latency_ms": {"p50": 40, "p95": 120}}]},
        {"name": "checkout-v2", "namespace": "shop", "replicas": 2, "port": 8080,
         "revisions": [{"image": "registry.example/shop/checkout:1.5.0", "error_rate": 0.3,
                        "latency_ms": {"p50": 60, "p95": 400}}]},
    ],
}
HTTPROUTES = RESOURCES["httproutes"]


def route(v1: int, v2: int, name: str = "checkout") -> dict:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"parentRefs": [{"name": "public"}], "hostnames": ["shop.example"],
                     "rules": [{"backendRefs": [{"name": "checkout-v1", "port": 80, "weight": v1},
                                                {"name": "checkout-v2", "port": 80, "weight": v2}]}]}}


def canary_world(world) -> World:
    return world(Scenario.model_validate(CANARY), speed=50, services=True)


def route_rate(w: World, seconds: float = 1.6) -> tuple[dict, float]:
    before = w.services.routes.snapshot("shop", "checkout")
    time.sleep(seconds)
    after = w.services.routes.snapshot("shop", "checkout")
    delta = {k: (v[0] - before.get(k, (0, 0))[0], v[1] - before.get(k, (0, 0))[1]) for k, v in after.items()}
    req = sum(v[0] for v in delta.values())
    err = sum(v[1] for v in delta.values())
    return delta, (err / req if req else 0.0)


def test_defaults_and_validation(world):
    w = world()
    w.ensure_namespace("shop")
    body = route(0, 100)
    del body["spec"]["rules"][0]["backendRefs"][0]["weight"]
    out = w.api.create(HTTPROUTES, "shop", body, dry_run=False)
    ref = out["spec"]["rules"][0]["backendRefs"][0]
    assert ref == {"name": "checkout-v1", "port": 80, "weight": 1, "group": "", "kind": "Service"}
    assert out["spec"]["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    for bad, field, msg in (
        (route(-1, 100, "a"), "spec.rules[0].backendRefs[0].weight", "greater than or equal to 0"),
        (route(0, 1_000_001, "b"), "spec.rules[0].backendRefs[1].weight", "less than or equal to 1000000"),
    ):
        with pytest.raises(StoreError) as e:
            w.api.create(HTTPROUTES, "shop", bad, dry_run=False)
        assert e.value.code == 422 and field in e.value.message and msg in e.value.message
    noport = route(1, 1, "c")
    del noport["spec"]["rules"][0]["backendRefs"][0]["port"]
    with pytest.raises(StoreError, match="Must have port for Service reference"):
        w.api.create(HTTPROUTES, "shop", noport, dry_run=False)


def test_kubectl_applies_gets_and_patches(world, kubectl, tmp_path):
    w = world()
    w.ensure_namespace("shop")
    k = kubectl(w)
    f = tmp_path / "route.json"
    f.write_text(json.dumps(route(0, 100)))
    r = k("apply", "-f", str(f))
    assert r.returncode == 0, r.stderr
    r = k("get", "httproutes", "-n", "shop")
    assert r.returncode == 0, r.stderr
    assert "checkout" in r.stdout and "shop.example" in r.stdout
    r = k("patch", "httproute", "checkout", "-n", "shop", "--type", "json",
          "-p", '[{"op":"replace","path":"/spec/rules/0/backendRefs/0/weight","value":70}]')
    assert r.returncode == 0, r.stderr
    assert w.store.require("httproutes", "shop", "checkout")["spec"]["rules"][0]["backendRefs"][0]["weight"] == 70
    r = k("api-resources", "--api-group", "gateway.networking.k8s.io")
    assert "httproutes" in r.stdout and "HTTPRoute" in r.stdout


def test_route_traffic_follows_the_weights(world):
    w = canary_world(world)
    v1, v2 = (w.services.items[("shop", n)] for n in ("checkout-v1", "checkout-v2"))
    w.api.create(HTTPROUTES, "shop", route(0, 100), dry_run=False)
    time.sleep(0.6)
    delta, rate = route_rate(w)
    assert "checkout-v1" not in delta and delta["checkout-v2"][0] > 1000
    assert 0.2 < rate < 0.4  # all on the bad release: about its 30 %
    v1_before = v1.metrics.count
    w.api.patch(HTTPROUTES, "shop", "checkout", None,
                {"spec": {"rules": [{"backendRefs": [{"name": "checkout-v1", "port": 80, "weight": 50},
                                                     {"name": "checkout-v2", "port": 80, "weight": 50}]}]}},
                "application/merge-patch+json", False)
    time.sleep(0.6)
    delta, rate = route_rate(w)
    share = delta["checkout-v1"][0] / (delta["checkout-v1"][0] + delta["checkout-v2"][0])
    assert 0.4 < share < 0.6 and 0.1 < rate < 0.2
    assert v1.metrics.count > v1_before  # the old release's own /metrics see the traffic arrive
    w.api.patch(HTTPROUTES, "shop", "checkout", None,
                {"spec": {"rules": [{"backendRefs": [{"name": "checkout-v1", "port": 80, "weight": 100},
                                                     {"name": "checkout-v2", "port": 80, "weight": 0}]}]}},
                "application/merge-patch+json", False)
    time.sleep(0.6)
    v2_count = v2.metrics.count
    delta, rate = route_rate(w)
    assert delta.get("checkout-v2", (0, 0))[0] == 0 and v2.metrics.count == v2_count
    assert rate < 0.02


def test_backend_without_a_service_answers_500(world):
    w = canary_world(world)
    body = route(50, 50)
    body["spec"]["rules"][0]["backendRefs"][1]["name"] = "ghost"
    w.api.create(HTTPROUTES, "shop", body, dry_run=False)
    time.sleep(0.6)
    delta, _ = route_rate(w, 1.0)
    assert delta["ghost"][0] > 0 and delta["ghost"][0] == delta["ghost"][1]
