"""Before/after comparison with a real Prometheus (Debian ``prometheus``) scraping the world.

The watch starts *after* the bad release, so it never saw the service healthy: the baseline
must come from Prometheus (``PrometheusSource.window_stats`` over the window that ends at the
bad revision's creation time in the rollout history). The world, the Kubernetes backend and
Prometheus are all real; waits are for conditions, never timing assertions.
"""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

import cockpit as cockpit_pkg

from backends.kubernetes.backend import connect
from backends.metrics.prometheus import PrometheusClient, PrometheusSource
from cockpit.config import PrometheusConfig, WatchConfig
from cockpit.decision import Policy
from cockpit.world.world import World
from cockpit.model import Target
from cockpit.watch import Watcher, comparison_lines
from tests.e2e.test_watch import cockpit, env_for

pytestmark = pytest.mark.xdist_group("prometheus")

T = Target("checkout", "shop")
W = 3.0  # the watch's window, seconds


def wait_until(cond, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"never reached: {what}")
        time.sleep(0.1)


def scenario(tmp) -> Path:
    """bad-image without its bad revision (1.4.2 is live and healthy) and with every image the
    scenario does not name misbehaving (30 % errors): a *new* image released during the test is
    a new ReplicaSet created now. (Re-releasing an old template would reuse its ReplicaSet,
    whose creation time is then not the release time.)"""
    data = yaml.safe_load((Path(cockpit_pkg.__file__).parent / "world" / "scenarios" / "bad-image.yaml").read_text())
    data["name"] = "compare"
    checkout = next(d for d in data["deployments"] if d["name"] == "checkout")
    checkout["revisions"] = [r for r in checkout["revisions"] if r["image"] != "registry.example/shop/checkout:1.5.0"]
    data.pop("goal", None)
    data["default_behaviour"] = {"error_rate": 0.3, "latency_ms": {"p50": 60, "p95": 400}}
    path = tmp / "compare.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def release(world: World, b, image: str) -> float:
    """Roll out a new image; return its revision's creation time from the rollout history."""
    world.apply_template("shop", "checkout", image, f"release {image}")
    wait_until(lambda: b.progress(T).complete and b.deployment(T).images == (image,), f"{image} rolled out")
    live = next(r for r in b.history(T) if r.live)
    assert live.images == (image,)
    return live.created.timestamp()


@pytest.fixture(scope="module")
def setup(tmp_path_factory, prometheus_factory):
    """1.4.2 healthy under Prometheus for a while, then a bad 1.6.0 released *now*."""
    tmp = tmp_path_factory.mktemp("compare")
    world = World(scenario(tmp), speed=10).start()
    try:
        kubeconfig = world.write_kubeconfig(tmp / "kubeconfig")
        prom = prometheus_factory([{"url": world.service_url("shop", "checkout") + "/metrics",
                                    "labels": {"namespace": "shop"}, "job": "checkout"}])
        b = connect(str(kubeconfig))
        src = source(prom)
        healthy_from = time.time()
        wait_until(lambda: time.time() > healthy_from + W + 2, "a healthy window recorded")
        pre = src.window_stats(healthy_from, healthy_from + W)
        assert pre.error_rate is not None and pre.error_rate < 0.05, pre  # precondition: healthy before
        released = release(world, b, "registry.example/shop/checkout:1.6.0")
        wait_until(lambda: (src.sample(W).error_rate or 0) > 0.1, "Prometheus sees the errors")
        yield world, kubeconfig, prom, released, tmp
    finally:
        world.stop()


def source(prom) -> PrometheusSource:
    cfg = PrometheusConfig(url=prom.url)
    return PrometheusSource(PrometheusClient(prom.url, timeout=3), namespace="shop", deployment="checkout",
                            selector=cfg.selector, queries=cfg.queries)


def test_watch_after_the_release_still_compares_with_a_prometheus_baseline(setup):
    world, kubeconfig, prom, released, tmp = setup
    journal = tmp / "incident.jsonl"
    p = subprocess.run(
        cockpit() + ["--kubeconfig", str(kubeconfig), "--journal", str(journal), "watch", "checkout", "-n", "shop",
                     "--auto-rollback", "--source", "prometheus", "--prometheus-url", prom.url, "--no-probe",
                     "--interval", "0.5", "--window", str(W), "--countdown", "1", "--stabilization", "4",
                     "--exit-when-verified", "--duration", "60"],
        capture_output=True, text=True, env=env_for(tmp), timeout=90,
    )
    out = p.stdout
    assert p.returncode == 0, out + p.stderr
    assert "rolled back shop/checkout" in out and "VERIFIED shop/checkout: OK" in out
    assert "no baseline" not in out, out
    line = next(x for x in out.splitlines() if "before/after: before the release (prometheus, 3s until" in x)
    assert "→ after the rollback" in line and "error ratio after/before" in line
    comp = next(json.loads(x) for x in journal.read_text().splitlines() if json.loads(x)["type"] == "comparison")
    assert comp["before_from"] == "prometheus"
    assert comp["before"]["end"] == pytest.approx(released)
    assert comp["before"]["error_rate"] is not None and comp["before"]["error_rate"] < 0.05  # the healthy baseline
    assert comp["after"]["error_rate"] is not None and comp["after"]["error_rate"] < 0.05
    assert comp["error_ratio"] is not None
    assert world.request_counts.get("PATCH", 0) >= 1


def test_warns_when_errors_after_exceed_the_baseline_by_more_than_1_1(setup):
    """The 'after' samples are what an in-process watch sees while the bad release is live again
    (as if the rollback had not helped); the baseline is Prometheus' window before that release."""
    world, kubeconfig, prom, _released, _tmp = setup
    b = connect(str(kubeconfig))
    # a fresh bad release (whatever the other test left live), with a healthy window before it
    good = "registry.example/shop/checkout:1.4.2"
    if b.deployment(T).images != (good,):  # run alone: the bad 1.6.0 is still live
        b.rollback(T, next(r.number for r in b.history(T) if r.images == (good,)))
    wait_until(lambda: b.progress(T).complete and b.deployment(T).images == (good,), "1.4.2 live")
    settled = time.time()
    wait_until(lambda: time.time() > settled + W + 2, "a window recorded before the next release")
    released = release(world, b, "registry.example/shop/checkout:1.6.1")
    src = source(prom)
    wait_until(lambda: (src.sample(W).error_rate or 0) > 0.1, "Prometheus sees the errors")
    out: list[str] = []
    watcher = Watcher(T, [src], b, Policy(watch=WatchConfig(interval_s=0.5, window_s=W, stabilization_s=0)),
                      out=out.append)
    start = time.time()
    for _ in range(3):
        watcher.tick()
        time.sleep(0.5)
    c, where = watcher.before_after(released, start, time.time())
    assert where == "prometheus" and c is not None
    assert c.before.error_rate is not None and c.before.error_rate < 0.05
    assert c.after.error_rate is not None and c.after.error_rate > 0.1
    assert c.error_ratio > 1.1 and any("error rate still elevated after rollback" in w for w in c.warnings)
    lines = comparison_lines(c, where, 1.1)
    assert "(> 1.1)" in lines[0] and lines[1].startswith("WARNING error rate still elevated")
