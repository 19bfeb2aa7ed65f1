"""The Prometheus source's history (``query_range``) against a real Prometheus scraping the
simulated world: the panes start with it, so the moment of a bad release is visible."""
from __future__ import annotations

import time

import pytest

from backends.metrics.prometheus import PrometheusClient, PrometheusSource
from cockpit.config import PrometheusConfig, PrometheusQueries
from cockpit.errors import ConfigError, UnreachableError
from cockpit.world.world import World

pytestmark = [pytest.mark.xdist_group("prometheus"), pytest.mark.slow]

BAD = "registry.example/shop/checkout:1.5.0"  # bad-image's ~30 % errors, p95 ~400 ms


@pytest.fixture(scope="module")
def world():
    with World("bad-image", speed=10) as w:
        yield w


@pytest.fixture(scope="module")
def prom(world, prometheus_factory):
    server = prometheus_factory([{"url": world.service_url("shop", "cart") + "/metrics",
                                  "labels": {"namespace": "shop", "deployment": "cart"}, "job": "cart"}])
    server.wait_for('min(count_over_time(up[10s])) >= 6', timeout=30)
    return server


def source(server, deployment: str = "cart", queries: PrometheusQueries | None = None) -> PrometheusSource:
    cfg = PrometheusConfig(url=server.url)
    return PrometheusSource(PrometheusClient(server.url, timeout=3), namespace="shop", deployment=deployment,
                            selector=cfg.selector, queries=queries or cfg.queries)


def test_history_shows_the_moment_of_a_bad_release(prom, world):
    src = source(prom)
    assert src.sample(3).error_rate < 0.02  # cart is healthy
    release = time.time()
    world.apply_template("shop", "cart", BAD, change_cause="release 3.2.0")
    deadline = time.monotonic() + 30
    while (src.sample(3).error_rate or 0) < 0.15:
        assert time.monotonic() < deadline, "cart never went bad"
        time.sleep(0.5)
    went_bad = time.time()  # when Prometheus itself said so (by the clock, not by a guess of its pace)
    time.sleep(2)
    now = time.time()
    points = src.history(now - release + 6, now, step_s=1, rate_window_s=3)
    times = [t for t, _e, _p in points]
    assert times == sorted(times) and all(release - 7 <= t <= now for t in times)
    before = [(e, p) for t, e, p in points if t < release]
    after = [(e, p) for t, e, p in points if t >= went_bad]
    assert len(before) >= 3 and after, points
    assert all(e is not None and e < 0.02 and p < 200 for e, p in before), before
    assert all(e > 0.15 and p > 150 for e, p in after), after
    # the first bad step lies between the release and the moment the instant query saw it bad
    # (step 1 s, rates over 3 s: up to a step after it)
    first_bad = next(t for t, e, _p in points if e is not None and e > 0.05)
    assert release - 1 <= first_bad <= went_bad + 1, (first_bad - release, went_bad - release, points)


def test_history_default_step_covers_the_window(prom):
    now = time.time()
    points = source(prom).history(60, now)
    assert points and 1.0 <= points[1][0] - points[0][0] <= 1.001  # 60 s / 240, at least 1 s
    assert now - 61 <= points[0][0] and points[-1][0] <= now


def test_history_of_nothing_is_empty_never_zero(prom):
    assert source(prom, "no-such-deployment").history(30, step_s=1) == []


def test_history_raises_for_a_rejected_query_and_for_no_answer(prom):
    q = PrometheusQueries(error_rate="sum(rate(http_requests_total{{{selector}}}[{window}])", p95_ms="1",
                          request_rate="1")
    with pytest.raises(ConfigError, match="rejected the query"):
        source(prom, queries=q).history(30, step_s=1)
    gone = PrometheusSource(PrometheusClient("http://127.0.0.1:9", timeout=1), namespace="shop", deployment="cart",
                            selector='service="{deployment}"', queries=PrometheusQueries())
    with pytest.raises(UnreachableError):
        gone.history(30)
