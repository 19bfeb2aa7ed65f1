"""A metrics source that answers NaN, nothing, garbage, or fails four checks out of five: the
verdict is INCONCLUSIVE, never OK, and nothing is rolled back automatically.

The Prometheus (and the scraped service) is the tiny stand-in in ``promfake.py``; the sources
and the decision engine are the real ones, ticked check by check on a simulated clock."""
from __future__ import annotations

from typing import Any

import pytest

from backends.metrics.prometheus import PrometheusClient, PrometheusSource
from backends.metrics.scrape import ScrapeSource
from cockpit.config import PrometheusConfig, WatchConfig
from cockpit.decision import Engine, Policy, Verdict
from cockpit.errors import CockpitError

from .promfake import GARBAGE, fake_prometheus  # noqa: F401 — a fixture

BAD = {"error_rate": 0.6, "p95_ms": 9000.0, "request_rate": 20.0}
CHECKS = 20
INTERVAL = 5.0


def prometheus_source(server: Any) -> PrometheusSource:
    cfg = PrometheusConfig(url=server.url)
    return PrometheusSource(PrometheusClient(server.url, timeout=3), namespace="shop", deployment="checkout",
                            selector=cfg.selector, queries=cfg.queries)


def run_checks(source: Any, checks: int = CHECKS) -> list[Any]:
    """Tick the real engine once per check, as ``cockpit watch`` does (no stabilization)."""
    engine = Engine(Policy(watch=WatchConfig(interval_s=INTERVAL, window_s=10, stabilization_s=0)))
    now, decisions = 1_700_000_000.0, []
    for _ in range(checks):
        now += INTERVAL
        decisions.append(engine.tick([source.sample(engine.policy.watch.window_s, now)], now, cluster_ok=True))
    return decisions


def test_a_healthy_prometheus_gives_ok(fake_prometheus) -> None:
    """The harness can say OK: the tests below would see it if the faults let it through."""
    decisions = run_checks(prometheus_source(fake_prometheus("ok")))
    assert decisions[-1].verdict is Verdict.OK


@pytest.mark.parametrize("mode", ["nan", "empty"])
def test_nan_or_no_series_is_inconclusive(fake_prometheus, mode: str) -> None:
    decisions = run_checks(prometheus_source(fake_prometheus(mode)))
    assert {d.verdict for d in decisions} == {Verdict.INCONCLUSIVE}
    assert all(d.trigger is None for d in decisions)
    assert any("error rate" in r.text for r in decisions[-1].reasons)


@pytest.mark.parametrize("values", [None, BAD], ids=["good-numbers", "bad-numbers"])
def test_a_prometheus_failing_four_checks_in_five_is_never_ok_and_never_triggers(fake_prometheus, values) -> None:
    """Before: the fifth check's answer made the source fresh again, and that tick was OK
    (or, with bad numbers, evidence for a rollback) from a source that mostly fails."""
    server = fake_prometheus("flaky", values=values)
    decisions = run_checks(prometheus_source(server))
    assert server.checks == CHECKS  # every check asked
    assert {d.verdict for d in decisions} == {Verdict.INCONCLUSIVE}
    assert all(d.trigger is None for d in decisions)
    last = decisions[-1]
    assert any("4 of the last 5 checks failed" in r.text for r in last.reasons), [r.text for r in last.reasons]


def test_a_source_that_recovers_becomes_conclusive_again(fake_prometheus) -> None:
    server = fake_prometheus("flaky")
    source = prometheus_source(server)
    assert {d.verdict for d in run_checks(source, 10)} == {Verdict.INCONCLUSIVE}
    server.mode = "ok"
    assert run_checks(source, 5)[-1].verdict is Verdict.OK


def test_one_failed_check_in_five_does_not_make_a_source_unreliable(fake_prometheus) -> None:
    server = fake_prometheus("ok")
    source = prometheus_source(server)
    run_checks(source, 4)
    server.mode = "flaky"  # the next check fails (check 5 of 5 succeeds in flaky mode; 6 fails)
    decisions = run_checks(source, 2)
    server.mode = "ok"
    decisions += run_checks(source, 1)
    assert decisions[-1].verdict is Verdict.OK


@pytest.mark.parametrize("garbage", sorted(GARBAGE))
def test_an_answer_that_is_not_a_query_result_is_a_failed_check_not_a_crash(fake_prometheus, garbage: str) -> None:
    """Before: a value that is not a number (or no value at all) raised ValueError/KeyError out
    of the source, and `cockpit watch` died with an internal error."""
    source = prometheus_source(fake_prometheus("garbage", garbage=garbage))
    reading = source.sample(10, 1_700_000_000.0)
    assert reading.ok is False and reading.error
    decisions = run_checks(source, 3)
    assert {d.verdict for d in decisions} == {Verdict.INCONCLUSIVE}


def test_the_client_raises_titled_errors_for_garbage(fake_prometheus) -> None:
    client = PrometheusClient(fake_prometheus("garbage", garbage="value-not-a-number").url, timeout=3)
    with pytest.raises(CockpitError) as info:
        client.scalar("up")
    assert info.value.exit_code == 4 and "not a number" in info.value.message


def test_a_scraped_service_failing_four_scrapes_in_five_is_never_ok(fake_prometheus) -> None:
    ok = run_checks(ScrapeSource(fake_prometheus("ok").url + "/metrics", timeout=3), 6)
    assert ok[-1].verdict is Verdict.OK  # the harness can say OK
    server = fake_prometheus("flaky")
    decisions = run_checks(ScrapeSource(server.url + "/metrics", timeout=3))
    assert server.scrapes == CHECKS
    assert {d.verdict for d in decisions} == {Verdict.INCONCLUSIVE}
    assert all(d.trigger is None for d in decisions)


# --------------------------------------------------------------------------- cockpit watch, armed

def _watch(world: Any, prom: Any, tmp_path: Any, seconds: str) -> Any:
    import os
    import subprocess
    import sys

    kc = world.write_kubeconfig(tmp_path / "kc", "shop")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "NO_COLOR": "1", "COCKPIT_LOCK_DIR": str(tmp_path / "locks")}
    cmd = [sys.executable, "-m", "cockpit", "--kubeconfig", str(kc), "--journal", str(tmp_path / "j.jsonl"), "watch",
           "checkout", "-n", "shop", "--auto-rollback", "--source", "prometheus", "--prometheus-url", prom.url,
           "--no-probe", "--no-crashes", "--interval", "0.2", "--window", "2", "--countdown", "0",
           "--stabilization", "0", "--duration", seconds]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("mode", ["nan", "empty", "flaky", "garbage"])
def test_an_armed_watch_never_rolls_back_on_a_prometheus_it_cannot_believe(fake_prometheus, tmp_path, mode) -> None:
    """bad-image: the release is bad, and this Prometheus — when it answers — says so
    (60 % errors, p95 9 s). Answers that are NaN, empty, garbage or one check in five are not
    grounds for an automatic rollback: INCONCLUSIVE throughout, no PATCH reaches the world."""
    from cockpit.world.world import World

    with World("bad-image", speed=10) as world:
        prom = fake_prometheus(mode, values=BAD, garbage="value-not-a-number")
        p = _watch(world, prom, tmp_path, "8")
        patches = [m for m, path in world.request_log if m == "PATCH" and "/deployments/checkout" in path]
        image = world.store.require("deployments", "shop", "checkout")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert p.returncode == 0, p.stdout + p.stderr
    assert prom.checks >= 25  # it was asked, over and over
    words = [line.split()[1] for line in p.stdout.splitlines() if len(line.split()) > 1]  # "HH:MM:SS VERDICT …"
    verdicts = {w for w in words if w.isupper()}
    assert "INCONCLUSIVE" in verdicts
    assert not verdicts & {"OK", "MONITOR", "CONSIDER", "ROLLBACK_NOW", "TRIGGER", "AUTO-ROLLBACK"}, p.stdout
    assert "rolled back" not in p.stdout
    assert patches == [] and image.endswith(":1.5.0")
