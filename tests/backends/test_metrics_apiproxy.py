"""Metrics through the API server's proxy: discovery from Services, annotations and pods, and
readings over HTTP through the world's API (both transports), readonly (GETs only)."""
from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends.kubernetes.backend import KubeBackend, connect
from backends.metrics.apiproxy import HOW_TO_CONFIGURE, ApiProxySource, Endpoint, NoMetricsFound, combine, discover
from backends.metrics.scrape import Snapshot
from cockpit.decision import Engine, Verdict
from cockpit.model import Target
from cockpit.world.resources import RESOURCES
from cockpit.world.scenario import load_scenario
from cockpit.world.world import World

CHECKOUT = Target("checkout", "shop")


def busy_bad_image():
    """bad-image with ten times its traffic: enough requests for a steady ratio in a second."""
    return load_scenario("bad-image").model_copy(update={"traffic_rps": 400.0})


@pytest.fixture(params=["light", "official"])
def kube(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
         ) -> Iterator[tuple[World, KubeBackend]]:
    if request.param == "official":
        monkeypatch.setenv("COCKPIT_KUBE_CLIENT", "official")
    with World(busy_bad_image(), speed=10.0) as w:
        backend = connect(str(w.write_kubeconfig(tmp_path / "kubeconfig")), readonly=True)
        yield w, backend
        backend.close()


def until_grown(src: ApiProxySource, at: float, more: float = 600) -> None:
    """Wait (no timing asserted) until the counters behind ``src`` grew by ``more`` requests."""
    import time

    first = src.fetch(at).total
    for _ in range(600):
        if src.fetch(at).total >= first + more:
            return
        time.sleep(0.05)
    raise AssertionError("the world's traffic did not grow")


def test_bad_image_through_the_service_proxy(kube) -> None:
    w, backend = kube
    w.clear_request_log()
    src = ApiProxySource(backend.t, CHECKOUT)
    assert src.discover() == Endpoint("service", "shop", "checkout", "http", "/metrics")
    assert "service checkout:http" in src.describe()
    first = src.sample(60.0, now=1000.0)
    assert first.ok and first.error_rate is None  # one scrape: not measured, never zero
    until_grown(src, 1000.0)
    r = src.sample(60.0, now=1060.0)
    assert r.ok, r.error
    assert 0.2 < r.error_rate < 0.4  # bad-image: ~30 % 5xx
    assert 150 < r.p95_ms < 1000  # lognormal p95 400 ms, bucketed
    assert r.request_rate and r.request_rate > 0
    assert Engine().tick([r], r.at).verdict is Verdict.ROLLBACK_NOW
    # readonly, and only reads: nothing but GETs reached the world
    assert set(w.request_counts) == {"GET"}
    assert any("/services/checkout:http/proxy/metrics" in p for _m, p in w.request_log)


def _service(name: str, annotations: dict[str, str], ports: list[dict], selector: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "shop", "annotations": annotations},
            "spec": {"selector": selector if selector is not None else {"app": "checkout"}, "ports": ports}}


def test_annotations_choose_the_service_port_and_path(world) -> None:
    w: World = world("bad-image", speed=10, services=True)
    backend = connect(str(w.kubeconfig_path), readonly=True)
    ports = [{"name": "http", "port": 80, "targetPort": 8080}, {"name": "admin", "port": 9090, "targetPort": 9090}]
    # an annotated service wins over the one named like the deployment
    w.api.create(RESOURCES["services"], "shop", _service("checkout-metrics", {
        "prometheus.io/scrape": "true", "prometheus.io/port": "9090", "prometheus.io/path": "stats"}, ports), False)
    assert discover(backend.t, CHECKOUT) == Endpoint("service", "shop", "checkout-metrics", "admin", "/stats")
    # scrape: "false" is never scraped; a service selecting other pods is not ours
    svc = copy.deepcopy(w.store.require("services", "shop", "checkout-metrics"))
    svc["metadata"]["annotations"]["prometheus.io/scrape"] = "false"
    w.store.update("services", svc)
    w.api.create(RESOURCES["services"], "shop", _service("aaa-other", {}, ports, {"app": "cart"}), False)
    w.api.create(RESOURCES["services"], "shop", _service("aaa-checkout", {}, [
        {"name": "web", "port": 81, "targetPort": 8080}, {"name": "metrics", "port": 82, "targetPort": 8080}]), False)
    assert discover(backend.t, CHECKOUT) == Endpoint("service", "shop", "checkout", "http", "/metrics")
    w.store.delete("services", "shop", "checkout")
    assert discover(backend.t, CHECKOUT) == Endpoint("service", "shop", "aaa-checkout", "metrics", "/metrics")
    backend.close()


def test_pods_when_no_service(world) -> None:
    w: World = world(busy_bad_image(), speed=10, services=True)
    for name in ("checkout", "cart"):
        w.store.delete("services", "shop", name)
    backend = connect(str(w.kubeconfig_path), readonly=True)
    src = ApiProxySource(backend.t, CHECKOUT)
    assert src.discover() == Endpoint("pods", "shop", "checkout", "8080", "/metrics", "app=checkout")
    src.sample(60.0, now=0.0)
    until_grown(src, 0.0, 2400)  # 4 pods, each answering with all of the service's counters
    r = src.sample(60.0, now=60.0)
    assert r.ok, r.error
    # every simulated pod answers with the service's counters, so the sum keeps the ratios
    assert 0.2 < r.error_rate < 0.4
    assert any("/pods/checkout-" in p and p.endswith(":8080/proxy/metrics") for _m, p in w.request_log)
    backend.close()


def test_nothing_listening_is_a_failed_reading_with_the_servers_words(world) -> None:
    w: World = world("bad-image", speed=10, services=False)  # no simulated service answers
    backend = connect(str(w.kubeconfig_path), readonly=True)
    src = ApiProxySource(backend.t, CHECKOUT, timeout=3.0)
    r = src.sample(60.0, now=0.0)
    assert not r.ok and "connection refused" in r.error
    w.store.create("services", _service("checkout", {}, [{"name": "http", "port": 80, "targetPort": 8080}]))
    src = ApiProxySource(backend.t, CHECKOUT, timeout=3.0)
    r = src.sample(60.0, now=0.0)
    assert not r.ok and 'no endpoints available for service "checkout:http"' in r.error
    backend.close()


def test_no_service_and_no_port_names_the_three_ways(world) -> None:
    w: World = world("bad-image", speed=10, services=False)
    dep = w.deployment_object("shop", "bare", "bare:1", replicas=1, port=None)
    w.api.create(RESOURCES["deployments"], "shop", dep, False)
    backend = connect(str(w.kubeconfig_path), readonly=True)
    with pytest.raises(NoMetricsFound) as e:
        discover(backend.t, Target("bare", "shop"))
    assert e.value.hint == HOW_TO_CONFIGURE
    for way in ("metrics.prometheus.url", "metrics.scrape.url", "prometheus.io/scrape"):
        assert way in HOW_TO_CONFIGURE
    r = ApiProxySource(backend.t, Target("bare", "shop")).sample(60.0, now=0.0)
    assert not r.ok and "no metrics source found for shop/bare" in r.error
    backend.close()


def test_a_service_that_goes_away_is_found_again(world) -> None:
    w: World = world("bad-image", speed=10, services=True)
    backend = connect(str(w.kubeconfig_path), readonly=True)
    src = ApiProxySource(backend.t, CHECKOUT, endpoint=Endpoint("service", "shop", "gone", "http", "/metrics"))
    r = src.sample(60.0, now=0.0)
    assert not r.ok and 'services "gone" not found' in r.error
    assert src.endpoint is None
    assert src.sample(60.0, now=1.0).ok
    assert src.endpoint == Endpoint("service", "shop", "checkout", "http", "/metrics")
    backend.close()


def test_combine_sums_pods() -> None:
    a = Snapshot(0, 10, 2, ((0.1, 5.0), (0.5, 8.0), (float("inf"), 10.0)))
    b = Snapshot(0, 30, 3, ((0.1, 20.0), (0.5, 25.0), (float("inf"), 30.0)))
    s = combine([a, b], 5.0)
    assert (s.at, s.total, s.errors) == (5.0, 40, 5)
    assert s.buckets == ((0.1, 25.0), (0.5, 33.0), (float("inf"), 40.0))


# --------------------------------------------------------------------------- cockpit watch

def _watch(w: World, tmp_path: Path, *extra: str, target: str = "checkout") -> Any:
    import os
    import subprocess
    import sys

    kc = w.write_kubeconfig(tmp_path / "kc", "shop")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "NO_COLOR": "1", "COCKPIT_LOCK_DIR": str(tmp_path / "locks")}
    env = {k: v for k, v in env.items() if not k.startswith("COCKPIT_METRICS")}
    cmd = [sys.executable, "-m", "cockpit", "--readonly", "--kubeconfig", str(kc), "watch", target, "-n", "shop",
           "--no-crashes", "--interval", "0.3", "--window", "2", "--stabilization", "0", "--duration", "5", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def test_watch_source_apiproxy_reports_a_verdict_without_any_metrics_url(world, tmp_path) -> None:
    w: World = world("bad-image", speed=10, services=True)
    p = _watch(w, tmp_path, "--source", "apiproxy", "--no-probe")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "ROLLBACK_NOW shop/checkout — error rate" in p.stdout, p.stdout
    assert set(w.request_counts) == {"GET"}  # readonly: reads only
    assert any("/services/checkout:http/proxy/metrics" in path for _m, path in w.request_log)


def test_watch_falls_back_to_the_api_proxy_when_nothing_is_configured(world, tmp_path) -> None:
    w: World = world("bad-image", speed=10, services=True)
    svc = copy.deepcopy(w.store.require("services", "shop", "checkout"))
    svc["metadata"]["annotations"] = {}  # no cockpit.drill/url: no URL anywhere
    w.store.update("services", svc)
    p = _watch(w, tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "ROLLBACK_NOW shop/checkout" in p.stdout, p.stdout
    assert any("/proxy/metrics" in path for _m, path in w.request_log)
    assert set(w.request_counts) == {"GET"}


def test_watch_with_nothing_to_scrape_names_the_three_ways(world, tmp_path) -> None:
    w: World = world("bad-image", speed=10, services=False)
    w.api.create(RESOURCES["deployments"], "shop", w.deployment_object("shop", "bare", "bare:1", replicas=1, port=None),
                 False)
    p = _watch(w, tmp_path, target="bare")
    assert p.returncode == 2, p.stdout + p.stderr
    assert "no metrics source found for shop/bare" in p.stderr
    assert "Traceback" not in p.stderr
    for way in ("--prometheus-url", "--metrics-url", "prometheus.io/scrape"):
        assert way in p.stderr


# --------------------------------------------------------------------------- the TUI's sources (compose)

def test_compose_uses_the_api_proxy_when_nothing_is_configured(world) -> None:
    from backends.metrics.scrape import ScrapeSource
    from cockpit.compose import build_metrics

    w: World = world("bad-image", speed=10, services=True)
    backend = connect(str(w.kubeconfig_path), readonly=True)
    # the Service's cockpit.drill/url annotation is a URL: scraped directly, as before
    _engine, sources, note = build_metrics(None, backend, None, CHECKOUT)
    assert note == "" and isinstance(sources[0], ScrapeSource)
    assert sources[0].url == w.service_url("shop", "checkout") + "/metrics"
    svc = copy.deepcopy(w.store.require("services", "shop", "checkout"))
    svc["metadata"]["annotations"] = {}
    w.store.update("services", svc)
    _engine, sources, note = build_metrics(None, backend, None, CHECKOUT)
    assert note == ""
    proxied = [s for s in sources if isinstance(s, ApiProxySource)]
    assert [s.endpoint for s in proxied] == [Endpoint("service", "shop", "checkout", "http", "/metrics")]
    assert proxied[0].sample(60.0).ok
    backend.close()


def test_compose_note_names_the_three_ways_when_nothing_is_found(world) -> None:
    from cockpit.compose import build_metrics

    w: World = world("bad-image", speed=10, services=False)
    w.api.create(RESOURCES["deployments"], "shop", w.deployment_object("shop", "bare", "bare:1", replicas=1, port=None),
                 False)
    backend = connect(str(w.kubeconfig_path), readonly=True)
    _engine, sources, note = build_metrics(None, backend, None, Target("bare", "shop"))
    assert not any(isinstance(s, ApiProxySource) for s in sources)
    assert note.startswith("no metrics source found for shop/bare")
    for way in ("Prometheus URL", "/metrics URL", "prometheus.io/scrape"):
        assert way in note
    backend.close()


def test_the_config_file_can_ask_for_the_api_proxy(tmp_path):
    """``metrics.source: apiproxy`` in the settings: the TUI's sources are the proxy source."""
    from backends.kubernetes.backend import connect
    from cockpit.compose import build_metrics
    from cockpit.config import load_settings
    from cockpit.model import Target
    from cockpit.world.world import World

    with World("bad-image", speed=20.0) as w:
        kc = w.write_kubeconfig(tmp_path / "kc")
        settings = load_settings(use_file=False, env={"COCKPIT_METRICS__SOURCE": "apiproxy"})
        _, sources, note = build_metrics(settings, connect(str(kc)), None, Target("checkout", "shop"))
        assert [type(s).__name__ for s in sources][:1] == ["ApiProxySource"] and note == ""
