"""The Prometheus source against a real Prometheus scraping the simulated world."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from backends.metrics.prometheus import PrometheusClient, PrometheusSource
from backends.metrics.scrape import ScrapeSource
from cockpit.config import PrometheusConfig, PrometheusQueries
from cockpit.decision import Engine, Policy, Verdict
from cockpit.config import WatchConfig
from cockpit.world.world import World
from cockpit.errors import ConfigError, UnreachableError

pytestmark = pytest.mark.xdist_group("prometheus")


@pytest.fixture(scope="module")
def world():
    with World("bad-image", speed=10) as w:
        yield w


def targets(world):
    return [
        {"url": world.service_url("shop", name) + "/metrics", "labels": {"namespace": "shop", "deployment": name}, "job": name}
        for name in ("checkout", "cart")
    ]


@pytest.fixture(scope="module")
def prom(world, prometheus_factory):
    server = prometheus_factory(targets(world))
    # enough history for 5 s windows: at least 6 scrapes of each target
    server.wait_for('min(count_over_time(up[10s])) >= 6', timeout=30)
    return server


def source(server, deployment: str, **kw) -> PrometheusSource:
    cfg = PrometheusConfig(url=server.url)
    return PrometheusSource(PrometheusClient(server.url, timeout=3, **kw), namespace="shop", deployment=deployment,
                            selector=cfg.selector, queries=cfg.queries)


def test_error_rate_p95_and_traffic_from_default_promql(prom, world):
    bad = source(prom, "checkout").sample(5)
    assert bad.ok, bad.error
    assert 0.15 < bad.error_rate < 0.45 and 150 < bad.p95_ms < 1000 and bad.request_rate > 10
    good = source(prom, "cart").sample(5)
    assert good.ok and good.error_rate < 0.02 and good.p95_ms < 200
    assert Engine().tick([bad], bad.at).verdict is Verdict.ROLLBACK_NOW


def test_scrape_and_prometheus_agree_on_the_p95(prom, world):
    # the same histogram through our quantile and through Prometheus' histogram_quantile
    scrape = ScrapeSource(world.service_url("shop", "checkout") + "/metrics")
    scrape.sample(3)
    time.sleep(3.1)
    ours = scrape.sample(3)
    theirs = source(prom, "checkout").sample(3)
    assert ours.p95_ms == pytest.approx(theirs.p95_ms, rel=0.5)


def test_no_series_is_not_measured_never_zero(prom):
    r = source(prom, "no-such-deployment").sample(5)
    assert r.ok and r.error_rate is None and r.p95_ms is None and r.request_rate is None
    assert Engine().tick([r], r.at).verdict is Verdict.INCONCLUSIVE


def test_range_query(prom):
    c = PrometheusClient(prom.url)
    end = time.time()
    rows = c.query_range('sum(rate(http_requests_total{service="checkout"}[10s]))', end - 4, end, 1)
    assert rows and len(rows[0][1]) >= 2 and all(v > 0 for _, v in rows[0][1])


def test_window_stats_for_before_after(prom):
    st = source(prom, "cart").window_stats(time.time() - 5, time.time())
    assert st.error_rate is not None and st.error_rate < 0.02 and st.request_rate > 0


def test_bad_query_is_a_config_error_naming_the_query(prom):
    q = PrometheusQueries(error_rate="sum(rate(http_requests_total{{{selector}}}[{window}])", p95_ms="1", request_rate="1")
    src = PrometheusSource(PrometheusClient(prom.url), namespace="shop", deployment="checkout",
                           selector='service="{deployment}"', queries=q)
    with pytest.raises(ConfigError, match="rejected the query"):
        src.sample(5)


def test_prometheus_stopped_goes_stale_and_inconclusive(world, prometheus_factory):
    prom = prometheus_factory(targets(world)[:1])
    prom.wait_for('sum(rate(http_requests_total{service="checkout"}[5s])) > 0')
    src = source(prom, "checkout")
    e = Engine(Policy(watch=WatchConfig(interval_s=1)))
    first = src.sample(5)
    assert e.tick([first], first.at).verdict is Verdict.ROLLBACK_NOW
    prom.stop()
    r = src.sample(5)
    assert not r.ok and "did not answer" in r.error
    d = e.tick([r], r.at)
    assert d.verdict is Verdict.INCONCLUSIVE and d.trigger is None
    assert "prometheus stale since" in d.line()


class _Auth(BaseHTTPRequestHandler):
    seen: list = []

    def do_GET(self):  # noqa: N802
        _Auth.seen.append(dict(self.headers))
        body = b'{"status":"error","errorType":"internal","error":"boom"}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def test_credentials_are_sent_labelled_and_never_shown():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Auth)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}"
        c = PrometheusClient(url, token=PrometheusConfig(token="tok-s3cret").token)
        with pytest.raises(Exception) as ei:
            c.query("up")
        assert "tok-s3cret" not in str(ei.value) and "tok-s3cret" not in repr(c)
        assert _Auth.seen[-1]["Authorization"] == "Bearer tok-s3cret"
        assert _Auth.seen[-1]["User-Agent"] == "cockpit/0.1.0"
        c = PrometheusClient(f"http://alice:pw-s3cret@127.0.0.1:{srv.server_address[1]}")
        with pytest.raises(Exception) as ei:
            c.query("up")
        assert "pw-s3cret" not in str(ei.value)
        src = PrometheusSource(PrometheusClient(url, username="bob", password=PrometheusConfig(password="pw2-s3cret").password),
                               namespace="a", deployment="b", selector="x", queries=PrometheusQueries())
        r = src.sample(5)
        assert not r.ok and "pw2-s3cret" not in r.error and "401" in r.error
        assert _Auth.seen[-1]["Authorization"].startswith("Basic ")
    finally:
        srv.shutdown()
        srv.server_close()


def test_unreachable_prometheus():
    with pytest.raises(UnreachableError, match="did not answer"):
        PrometheusClient("http://127.0.0.1:9", timeout=1).query("up")
    with pytest.raises(ConfigError):
        PrometheusClient("prometheus:9090")


def test_the_full_screen_cockpit_reads_prometheus_from_its_settings(prom, world, tmp_path):
    """``metrics.source: prometheus`` and its URL in the settings: the TUI's sources (built by the composition
    root, as the app builds them) read the bad release from the real Prometheus."""
    from backends.kubernetes.backend import connect
    from cockpit.compose import build_metrics
    from cockpit.config import load_settings
    from cockpit.model import Target

    settings = load_settings(use_file=False, env={"COCKPIT_METRICS__SOURCE": "prometheus",
                                                  "COCKPIT_METRICS__PROMETHEUS__URL": prom.url})
    backend = connect(str(world.write_kubeconfig(tmp_path / "kc")), readonly=True)
    try:
        _engine, sources, note = build_metrics(settings, backend, None, Target("checkout", "shop"))
        proms = [s for s in sources if isinstance(s, PrometheusSource)]
        assert note == "" and len(proms) == 1
        reading = proms[0].sample(5)
        assert reading.ok, reading.error
        assert reading.error_rate > 0.15
    finally:
        backend.close()
