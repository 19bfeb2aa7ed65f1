"""Missing data never triggers: health checks count only while the Kubernetes API answers; and
one check per ``watch.interval_s`` whatever the caller's tick rate."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.config import DecisionConfig, WatchConfig
from cockpit.decision import Engine, Policy, Reading, Verdict
from cockpit.triggers import slack


def policy(interval_s: float = 5.0, **triggers) -> Policy:
    return Policy(decision=DecisionConfig.model_validate({"triggers": triggers}), watch=WatchConfig(interval_s=interval_s))


# What the real sources return when the bastion's own network is down (see backends/metrics):
# the probe answers "unhealthy" (it could not connect), the scrape and the pod list fail.
def outage(now: float) -> list[Reading]:
    return [Reading("probe", at=now, health_ok=False, error="health: connection refused"),
            Reading("scrape", at=now, ok=False, error="scrape: connection refused"),
            Reading("pods", at=now, ok=False, error="Unreachable: the API did not answer", cluster=True)]


def healthy(now: float, health: bool = True) -> list[Reading]:
    return [Reading("probe", at=now, health_ok=health),
            Reading("scrape", at=now, window_s=60, error_rate=0.0, p95_ms=50),
            Reading("pods", at=now, crashes=0, crash_window_s=300, cluster=True)]


# ------------------------------------------------------------------ all sources unreachable


@settings(max_examples=60, deadline=None)
@given(before=st.integers(0, 8), ticks=st.integers(1, 60), gap=st.sampled_from([0.5, 1.0, 5.0]),
       tell=st.sampled_from(["reading", "flag", "both"]))
def test_everything_unreachable_is_inconclusive_and_never_triggers(before, ticks, gap, tell):
    """The reported defect: 12 ticks of a dead network became ROLLBACK_NOW "12 consecutive health
    checks failed". However many ticks, however fast, however the engine learns of the API."""
    e = Engine(policy())
    t = 0.0
    for _ in range(before):  # a healthy start (the cluster answered)
        e.tick(healthy(t), t, cluster_ok=True if tell != "reading" else None)
        t += gap
    for _ in range(ticks):
        readings = outage(t) if tell != "flag" else outage(t)[:2]
        d = e.tick(readings, t, cluster_ok=False if tell != "reading" else None)
        assert d.verdict is Verdict.INCONCLUSIVE, d.line()
        assert d.trigger is None and e.state.fired is None
        assert d.counters.health_failures == 0 and d.counters.error_high == 0
        assert d.sample.health_ok is None and d.cluster is False
        t += gap
    assert "not counted" in d.line() and "Kubernetes API does not answer" in d.line()


def test_when_the_network_comes_back_counting_starts_from_zero():
    e = Engine(policy(interval_s=1))
    for t in range(12):
        assert e.tick(outage(t), t, cluster_ok=False).trigger is None
    # the cluster answers again but the service is really down: three fresh checks to fire
    fired = [e.tick(healthy(t, health=False), t, cluster_ok=True).trigger for t in range(12, 15)]
    assert [f is not None for f in fired] == [False, False, True]
    assert fired[2].name == "health" and fired[2].count == 3


# ------------------------------------------------------------------ the API answers


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 6), by_reading=st.booleans())
def test_health_failing_while_the_cluster_answers_triggers_as_before(n, by_reading):
    """Metrics unreachable, the API answering, the probe failing: the service is down."""
    e = Engine(policy(interval_s=1, health_failures=n, success_min_checks=1000))
    out = []
    for t in range(n + 2):
        readings = [Reading("probe", at=t, health_ok=False, error="health HTTP 503"),
                    Reading("scrape", at=t, ok=False, error="scrape: connection refused")]
        if by_reading:
            readings.append(Reading("pods", at=t, crashes=0, crash_window_s=300, cluster=True))
        out.append(e.tick(readings, t, cluster_ok=None if by_reading else True))
    assert [d.trigger is not None for d in out] == [i == n - 1 for i in range(n + 2)]
    assert out[n - 1].trigger.name == "health" and out[n - 1].verdict is Verdict.ROLLBACK_NOW
    assert out[0].verdict in (Verdict.CONSIDER, Verdict.ROLLBACK_NOW)


def test_without_any_cluster_information_probes_count_as_before():
    """A caller that watches no Kubernetes target (no pod source, no cluster_ok) keeps the rule."""
    e = Engine(policy(interval_s=1, success_min_checks=1000))
    out = [e.tick([Reading("probe", at=t, health_ok=False)], t) for t in range(3)]
    assert out[2].trigger is not None and out[2].cluster is None


# ------------------------------------------------------------------ API down, metrics fine


@settings(max_examples=40, deadline=None)
@given(ticks=st.integers(1, 30), err=st.floats(0.0, 0.0099))
def test_cluster_unreachable_with_failing_health_and_fine_metrics_is_not_counted(ticks, err):
    e = Engine(policy(interval_s=1))
    for t in range(ticks):
        d = e.tick([Reading("probe", at=t, health_ok=False, error="health: timed out"),
                    Reading("scrape", at=t, window_s=60, error_rate=err, p95_ms=40)], t, cluster_ok=False)
        assert d.trigger is None and d.counters.health_failures == 0
        assert d.verdict is Verdict.INCONCLUSIVE
        assert not any(r.metric == "health" and r.level is Verdict.CONSIDER for r in d.reasons)


def test_cluster_unreachable_but_metrics_show_the_problem_still_triggers_on_metrics():
    e = Engine(policy(interval_s=1, success_min_checks=1000))
    out = [e.tick([Reading("probe", at=t, health_ok=False),
                   Reading("scrape", at=t, window_s=60, error_rate=0.2, p95_ms=40)], t, cluster_ok=False)
           for t in range(5)]
    assert [d.trigger is not None for d in out] == [False] * 4 + [True]
    assert out[4].trigger.name == "error_rate" and out[4].counters.health_failures == 0


def test_a_passing_health_check_is_used_even_when_the_api_is_down():
    e = Engine(policy())
    d = e.tick([Reading("probe", at=0, health_ok=True),
                Reading("scrape", at=0, window_s=60, error_rate=0.0, p95_ms=40)], 0, cluster_ok=False)
    assert d.sample.health_ok is True and d.verdict is Verdict.OK


def test_one_alert_for_the_api_however_many_sources_read_through_it():
    e = Engine(policy(interval_s=1))
    alerts = []
    for t in range(6):
        alerts += e.tick(outage(t), t, cluster_ok=False, cluster_error="Unreachable: no route to host").alerts
    assert sum("Kubernetes API did not answer" in a for a in alerts) == 1
    assert sum("metrics source scrape" in a for a in alerts) == 1


# ------------------------------------------------------------------ one interval


def bad(now: float) -> list[Reading]:
    return [Reading("scrape", at=now, window_s=60, error_rate=0.2, p95_ms=40)]


def first_trigger(tick_every: float, interval_s: float = 5.0, horizon: float = 120.0) -> float | None:
    e = Engine(policy(interval_s=interval_s, success_min_checks=1000))
    t = 0.0
    while t <= horizon:
        if e.tick(bad(t), t).trigger is not None:
            return t
        t += tick_every
    return None


def test_tui_at_one_second_and_watch_at_five_trigger_at_the_same_time():
    """"errors > 5 % for 5 checks" is 5 checks × interval_s for every consumer (was 5 s vs 25 s)."""
    assert first_trigger(5.0) == 20.0
    assert first_trigger(1.0) == 20.0
    assert first_trigger(2.5) == 20.0
    for fast in (0.1, 0.25, 0.3, 0.7):  # faster ticks gain at most the jitter allowance per check
        assert 20.0 - 4 * slack(5.0) - 1e-9 <= first_trigger(fast) <= 20.0 + fast


def test_a_timer_that_comes_a_little_early_still_makes_every_check():
    e = Engine(policy(interval_s=5.0, success_min_checks=1000))
    times = [0.0, 4.98, 9.7, 14.99, 19.6]  # sleep(interval) with jitter on a busy machine
    out = [e.tick(bad(t), t) for t in times]
    assert all(d.checked for d in out) and out[-1].trigger is not None


def test_late_ticks_are_not_made_up_in_a_burst():
    e = Engine(policy(interval_s=5.0))
    e.tick(bad(0), 0)
    d = e.tick(bad(60), 60)  # a minute without ticks: one check, not twelve
    assert d.checked and d.counters.error_high == 2
    assert not e.tick(bad(61), 61).checked


@settings(max_examples=200, deadline=None)
@given(gaps=st.lists(st.floats(0.05, 6.0), min_size=1, max_size=150),
       interval=st.sampled_from([1.0, 2.0, 5.0, 10.0]), need=st.integers(1, 6))
def test_no_tick_rate_triggers_sooner_than_the_interval_allows(gaps, interval, need):
    """Whatever the tick times, n consecutive bad checks span at least (n-1) × (interval − slack)."""
    e = Engine(policy(interval_s=interval, error_consecutive=need, success_min_checks=1000))
    t, checks = 0.0, []
    for gap in [0.0] + gaps:
        t += gap
        d = e.tick(bad(t), t)
        if d.checked:
            checks.append(t)
        if d.trigger is not None:
            assert len(checks) == need
            assert t - checks[0] >= (need - 1) * (interval - slack(interval)) - 1e-9
            break
    for a, b in zip(checks, checks[1:]):
        assert b - a >= interval - slack(interval) - 1e-9


@settings(max_examples=100, deadline=None)
@given(seq=st.lists(st.sampled_from(["bad", "good", "gap"]), min_size=1, max_size=60))
def test_ticks_between_checks_reset_but_never_advance(seq):
    """Ticking at 1 s with a 5 s interval: a good or missing tick between checks breaks the run."""
    e = Engine(policy(interval_s=5.0, success_min_checks=1000))
    for i, c in enumerate(seq):
        before = e.state.counters.error_high
        if c == "gap":
            rd = Reading("scrape", at=i, ok=False, error="down")
        else:
            rd = Reading("scrape", at=i, window_s=60, error_rate=0.2 if c == "bad" else 0.0, p95_ms=40)
        d = e.tick([rd], i)
        if c != "bad":
            assert d.counters.error_high == 0
        elif d.checked:
            assert d.counters.error_high == before + 1
        else:
            assert d.counters.error_high == before


# ------------------------------------------------------------------ the real sources, the world stopped


def test_world_stopped_mid_session_is_inconclusive_with_the_real_sources(world):
    """The reproduction: the real probe, scrape and pod sources against the simulated world; the
    world stops (our network is gone). Without the caller saying anything about the cluster,
    the pod source's failure tells the engine that the API does not answer."""
    from backends.kubernetes.backend import connect
    from backends.metrics.crashes import CrashSource
    from backends.metrics.probe import ProbeSource
    from backends.metrics.scrape import ScrapeSource
    from cockpit.model import Target

    w = world("bad-image", speed=100, services=True)
    target = Target("checkout", "shop")
    base = w.service_url("shop", "checkout")
    kube = connect(str(w.kubeconfig_path))
    def real_sources(kube):  # noqa: ANN001, ANN202
        return [ScrapeSource(base + "/metrics", timeout=2.0), ProbeSource(base, timeout=2.0), CrashSource(kube, target)]

    sources = real_sources(connect(str(w.kubeconfig_path)))
    e = Engine(policy(interval_s=1))
    t = 1_000_000.0
    first = e.tick([s.sample(60.0, t) for s in sources], t)
    assert first.cluster is True
    w.stop()
    for s in sources[:2]:
        s.close()
    # New connections (the stopped world's handler threads still serve kept-alive ones).
    sources = real_sources(connect(str(w.kubeconfig_path)))
    ds = []
    for i in range(1, 13):
        ds.append(e.tick([s.sample(60.0, t + i) for s in sources], t + i))
    assert all(d.verdict is Verdict.INCONCLUSIVE and d.trigger is None for d in ds), ds[-1].line()
    assert ds[-1].counters.health_failures == 0 and ds[-1].cluster is False
    assert "health check failed while the Kubernetes API does not answer" in ds[-1].line()
    for s in sources[:2]:
        s.close()
