"""Metrics sources without Prometheus: /metrics parsing and windows, quantiles, probes, crashes."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from backends.metrics.crashes import CrashSource
from backends.metrics.probe import ProbeSource
from backends.metrics.scrape import ScrapeSource, Snapshot, histogram_quantile, parse
from cockpit.decision import Engine, Verdict
from cockpit.world.world import World
from cockpit.errors import UnreachableError
from cockpit.model import PodInfo, Target

EXPO = """\
# TYPE http_requests_total counter
http_requests_total{code="200",method="GET",service="x"} %(ok)d
http_requests_total{code="500",method="GET",service="x"} %(bad)d
http_requests_total{code="503",method="POST",service="x"} %(bad2)d
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{service="x",le="0.1"} %(b1)d
http_request_duration_seconds_bucket{service="x",le="0.5"} %(b2)d
http_request_duration_seconds_bucket{service="x",le="1.0"} %(b3)d
http_request_duration_seconds_bucket{service="x",le="+Inf"} %(b4)d
http_request_duration_seconds_sum{service="x"} 1.0
http_request_duration_seconds_count{service="x"} %(b4)d
"""


def expo(ok, bad, bad2=0, b=(0, 0, 0, 0)):
    return EXPO % {"ok": ok, "bad": bad, "bad2": bad2, "b1": b[0], "b2": b[1], "b3": b[2], "b4": b[3]}


def test_parse_sums_label_sets_and_counts_5xx():
    s = parse(expo(90, 7, 3, (50, 90, 99, 100)), at=1.0)
    assert (s.total, s.errors) == (100, 10)
    assert s.buckets[-1] == (float("inf"), 100)


@pytest.mark.parametrize(
    ("buckets", "q", "expected"),
    [
        (((0.1, 50), (0.5, 90), (1.0, 100), (float("inf"), 100)), 0.95, 0.75),  # within (0.5, 1.0]
        (((0.1, 50), (0.5, 90), (1.0, 100), (float("inf"), 100)), 0.5, 0.1),
        (((0.1, 100), (float("inf"), 100)), 0.95, 0.095),  # first bucket starts at 0
        (((0.1, 10), (float("inf"), 100)), 0.95, 0.1),  # in +Inf: the highest finite bound
        (((0.1, 0), (float("inf"), 0)), 0.95, None),  # no observations
    ],
)
def test_histogram_quantile_matches_prometheus_rules(buckets, q, expected):
    got = histogram_quantile(q, buckets)
    assert got == (pytest.approx(expected) if expected is not None else None)


def test_window_rates_and_reset():
    src = ScrapeSource("http://unused/metrics")
    assert src.add(parse(expo(0, 0), 0.0), 10).error_rate is None  # one scrape: nothing yet
    r = src.add(parse(expo(95, 5, 0, (90, 100, 100, 100)), 10.0), 10)
    assert r.error_rate == pytest.approx(0.05) and r.request_rate == pytest.approx(10.0) and r.window_s == 10
    # sliding window: the base is the newest scrape at least 10 s older
    r = src.add(parse(expo(195, 5, 0, (190, 200, 200, 200)), 20.0), 10)
    assert r.error_rate == pytest.approx(0.0) and r.window_s == 10
    # counters went down: the process restarted; start over, no rate yet
    r = src.add(parse(expo(3, 0), 21.0), 10)
    assert r.ok and r.error_rate is None and r.request_rate is None
    # no traffic in the window: no error rate (not 0 %)
    src.add(parse(expo(3, 0), 31.0), 10)
    r = src.add(parse(expo(3, 0), 41.0), 10)
    assert r.error_rate is None and r.request_rate == 0 and r.p95_ms is None


def test_scrape_of_a_dead_url_is_a_failed_reading():
    r = ScrapeSource("http://127.0.0.1:9/metrics", timeout=1).sample(10)
    assert not r.ok and r.error


class _Recorder(BaseHTTPRequestHandler):
    seen: list = []

    def do_GET(self):  # noqa: N802
        _Recorder.seen.append(dict(self.headers))
        body = b"not metrics {{{" if self.path == "/metrics" else b"v9.9.9\x1b[31m\n"
        code = 503 if self.path == "/health" and "down" in self.server.mode else 200
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def recorder():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    srv.mode = "up"
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    _Recorder.seen = []
    yield srv
    srv.shutdown()
    srv.server_close()


def test_probe_labels_traffic_and_sanitizes_version(recorder):
    url = f"http://127.0.0.1:{recorder.server_address[1]}"
    r = ProbeSource(url).sample()
    assert r.health_ok is True and r.version == "v9.9.9\\e[31m" and r.probe_ms is not None  # the escape shown inert
    assert all(h.get("User-Agent") == "cockpit/0.1.0" for h in _Recorder.seen)
    recorder.mode = "down"
    r = ProbeSource(url).sample()
    assert r.ok and r.health_ok is False and "503" in r.error


def test_probe_connection_refused_is_a_failed_health_check():
    r = ProbeSource("http://127.0.0.1:9", timeout=1).sample()
    assert r.ok and r.health_ok is False and "refused" in r.error


def test_unparsable_metrics_is_a_failed_reading(recorder):
    r = ScrapeSource(f"http://127.0.0.1:{recorder.server_address[1]}/metrics").sample(10)
    assert not r.ok and "unparsable" in r.error


def test_crash_source_counts_restarts_within_the_window():
    now = time.time()
    backend = type("B", (), {})()
    state = {"pods": []}
    backend.pods = lambda target: state["pods"]
    src = CrashSource(backend, Target("x", "ns"), window_s=300)
    old = datetime.fromtimestamp(now - 3600, timezone.utc)
    recent = datetime.fromtimestamp(now - 10, timezone.utc)
    state["pods"] = [PodInfo("a", "Running", True, 7, last_restart=old), PodInfo("b", "Running", True, 2, last_restart=recent)]
    r = src.sample(now=now)
    assert r.crashes == 1 and r.crash_window_s == 300  # a: old restarts; b: at least one recent
    state["pods"] = [PodInfo("a", "Running", True, 9, last_restart=recent), PodInfo("b", "Running", True, 4, last_restart=recent)]
    assert src.sample(now=now + 60).crashes == 5
    # at +400 the window starts at +100: the baseline is the +60 observation
    state["pods"] = [PodInfo("a", "Running", True, 10, last_restart=recent), PodInfo("b", "Running", True, 4, last_restart=recent)]
    assert src.sample(now=now + 400).crashes == 1
    assert src.sample(now=now + 1000).crashes == 0

    def boom(target):
        raise UnreachableError("api down")

    backend.pods = boom
    r = src.sample(now=now + 1001)
    assert not r.ok and "api down" in r.error


@pytest.fixture(scope="module")
def bad_world():
    with World("bad-image", speed=10) as w:
        yield w


def test_scrape_the_simulated_bad_release(bad_world):
    src = ScrapeSource(bad_world.service_url("shop", "checkout") + "/metrics")
    src.sample(2.0)
    time.sleep(2.2)
    r = src.sample(2.0)
    assert r.ok and r.request_rate and r.request_rate > 5
    assert 0.15 < r.error_rate < 0.45  # ~30 % 5xx
    assert 150 < r.p95_ms < 1000  # lognormal p95 400 ms, bucketed
    e = Engine()
    d = e.tick([r], r.at)
    assert d.verdict is Verdict.ROLLBACK_NOW


def test_probe_the_simulated_service(bad_world):
    r = ProbeSource(bad_world.service_url("shop", "checkout")).sample()
    assert r.health_ok is True and r.version in ("1.5.0", "1.4.2", "1.4.1")
