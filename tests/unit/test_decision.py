"""The decision engine: matrix edges, tree, triggers, stale/inconclusive, stabilization, compare."""
from __future__ import annotations

import pytest

from cockpit.config import DecisionConfig, Settings, WatchConfig
from cockpit.decision import (
    Engine,
    EngineState,
    OperatorInputs,
    Policy,
    Reading,
    Sample,
    Verdict,
    WindowStats,
    band,
    compare,
    decision_tree,
    evaluate,
    step,
    window_stats,
)

CFG = DecisionConfig()
EVERY_SECOND = WatchConfig(interval_s=1)
"""These tests tick once a second: one check per tick."""


def engine(**triggers) -> Engine:
    return Engine(Policy(decision=DecisionConfig.model_validate({"triggers": triggers}), watch=EVERY_SECOND))


def r(at: float, **kw) -> Reading:
    kw.setdefault("window_s", 60.0)
    return Reading("scrape", at=at, **kw)


def verdict_of(**values) -> Verdict:
    v, _, _ = evaluate(Sample(at=0, window_s=60, **values), CFG)
    return v


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (0.0, Verdict.OK),
        (0.0099, Verdict.OK),
        (0.01, Verdict.MONITOR),
        (0.0199, Verdict.MONITOR),
        (0.02, Verdict.CONSIDER),
        (0.0499, Verdict.CONSIDER),
        (0.05, Verdict.CONSIDER),
        (0.0501, Verdict.ROLLBACK_NOW),
        (0.3, Verdict.ROLLBACK_NOW),
    ],
)
def test_error_rate_edges(rate, expected):
    assert verdict_of(error_rate=rate, p95_ms=100) is expected


@pytest.mark.parametrize(
    ("p95", "expected"),
    [(499, Verdict.OK), (500, Verdict.MONITOR), (999, Verdict.MONITOR), (1000, Verdict.CONSIDER),
     (1999, Verdict.CONSIDER), (2000, Verdict.CONSIDER), (2001, Verdict.ROLLBACK_NOW)],
)
def test_latency_edges(p95, expected):
    assert verdict_of(error_rate=0.0, p95_ms=p95) is expected


@pytest.mark.parametrize(("crashes", "expected"), [(0, Verdict.OK), (1, Verdict.MONITOR), (3, Verdict.MONITOR), (4, Verdict.ROLLBACK_NOW)])
def test_crashes_more_than_three_in_five_minutes(crashes, expected):
    v, reasons, _ = evaluate(Sample(at=0, window_s=60, error_rate=0.0, p95_ms=10, crashes=crashes, crash_window_s=300), CFG)
    assert v is expected
    crash = next(x for x in reasons if x.metric == "crashes")
    assert crash.window_s == 300 and crash.value == crashes


def test_reason_names_value_threshold_and_window():
    _, reasons, _ = evaluate(Sample(at=0, window_s=60, error_rate=0.0501, p95_ms=2001), CFG)
    err = next(x for x in reasons if x.metric == "error_rate")
    assert (err.value, err.threshold, err.window_s) == (0.0501, 0.05, 60)
    assert err.text == "error rate 5.01% > 5% over 1m 00s"
    lat = next(x for x in reasons if x.metric == "p95_ms")
    assert lat.text == "p95 2001 ms > 2000 ms over 1m 00s"


def test_band_is_strict_above_and_inclusive_below():
    assert band(5.0, 5.0, 2.0, 1.0) is Verdict.CONSIDER
    assert band(2.0, 5.0, 2.0, 1.0) is Verdict.CONSIDER
    assert band(1.0, 5.0, 2.0, 1.0) is Verdict.MONITOR


# ------------------------------------------------------------------ missing data


def test_missing_required_metric_is_inconclusive_never_ok():
    v, reasons, _ = evaluate(Sample(at=0, window_s=60, error_rate=0.0), CFG, missing=[])
    # evaluate alone does not know what is required; the engine does:
    e = Engine()
    d = e.tick([r(1, error_rate=0.0)], 1)  # no p95
    assert d.verdict is Verdict.INCONCLUSIVE
    assert any("p95 latency" in x.text for x in d.reasons)


def test_no_readings_at_all_is_inconclusive():
    d = Engine().tick([], 1)
    assert d.verdict is Verdict.INCONCLUSIVE


def test_evidence_of_a_problem_survives_missing_data():
    d = Engine().tick([r(1, error_rate=0.3)], 1)
    assert d.verdict is Verdict.ROLLBACK_NOW
    assert any(x.level is Verdict.INCONCLUSIVE for x in d.reasons)


def test_failed_source_goes_stale_and_its_numbers_are_not_used():
    e = Engine()
    assert e.tick([r(1, error_rate=0.0, p95_ms=10)], 1).verdict is Verdict.OK
    d = e.tick([Reading("scrape", at=2, ok=False, error="connection refused")], 2)
    assert d.verdict is Verdict.INCONCLUSIVE
    assert d.sample.error_rate is None
    assert "scrape stale since" in d.line() and "connection refused" in d.line()


def test_quiet_source_goes_stale_after_stale_after():
    pol = Policy(watch=WatchConfig(interval_s=1))  # stale after 3 s
    e = Engine(pol)
    assert e.tick([r(10, error_rate=0.0, p95_ms=10)], 10).verdict is Verdict.OK
    assert e.tick([], 13).verdict is Verdict.OK
    d = e.tick([], 13.5)
    assert d.verdict is Verdict.INCONCLUSIVE
    assert e.state.sources["scrape"].stale_since == 13


def test_source_error_limit_raises_one_alert():
    pol = Policy(watch=WatchConfig(source_error_limit=3))
    e = Engine(pol)
    alerts = []
    for i in range(5):
        d = e.tick([Reading("prometheus", at=i, ok=False, error="timeout")], i)
        alerts += d.alerts
        assert d.verdict is Verdict.INCONCLUSIVE and d.trigger is None
    assert alerts == ["metrics source prometheus failed 3 times in a row: timeout"]


def test_freshest_source_wins_and_stale_one_is_ignored():
    e = Engine()
    d = e.tick([Reading("a", at=1, window_s=60, error_rate=0.3, p95_ms=10),
                Reading("b", at=2, window_s=60, error_rate=0.0, p95_ms=10)], 2)
    assert d.sample.error_rate == 0.0 and d.sample.sources["error_rate"] == "b"
    d = e.tick([Reading("a", at=3, window_s=60, error_rate=0.3, p95_ms=10),
                Reading("b", at=3, ok=False, error="x")], 3)
    assert d.sample.error_rate == 0.3


# ------------------------------------------------------------------ triggers


def feed(e: Engine, n: int, start: float = 0, **values) -> list:
    return [e.tick([r(start + i, **values)], start + i) for i in range(n)]


def test_error_rate_trigger_needs_five_consecutive_checks():
    e = engine()
    ds = feed(e, 4, error_rate=0.06, p95_ms=10)
    assert all(d.trigger is None for d in ds)
    d = feed(e, 1, start=4, error_rate=0.06, p95_ms=10)[0]
    assert d.trigger is not None and d.trigger.name == "error_rate" and d.trigger.count == 5
    assert d.verdict is Verdict.ROLLBACK_NOW


def test_error_counter_resets_on_a_good_check_and_on_a_gap():
    e = engine(success_min_checks=100)
    feed(e, 4, error_rate=0.06, p95_ms=10)
    feed(e, 1, start=4, error_rate=0.01, p95_ms=10)
    assert e.state.counters.error_high == 0
    feed(e, 4, start=5, error_rate=0.06, p95_ms=10)
    e.tick([r(9, p95_ms=10)], 9)  # error rate missing: a gap
    assert e.state.counters.error_high == 0
    ds = feed(e, 4, start=10, error_rate=0.06, p95_ms=10)
    assert all(d.trigger is None for d in ds)


def test_trigger_fires_once_per_incident():
    e = engine()
    fired = [d.trigger for d in feed(e, 20, error_rate=0.5, p95_ms=10) if d.trigger]
    assert len(fired) == 1


def test_health_trigger_three_consecutive_failures():
    e = engine(success_min_checks=100)
    for i, ok in enumerate([False, False, True, False, False]):
        d = e.tick([r(i, error_rate=0.0, p95_ms=10, health_ok=ok)], i)
        assert d.trigger is None
    d = e.tick([r(5, error_rate=0.0, p95_ms=10, health_ok=False)], 5)
    assert d.trigger is not None and d.trigger.name == "health"


def test_p95_trigger_after_n_consecutive():
    e = engine()
    ds = feed(e, 3, error_rate=0.0, p95_ms=5001)
    assert [d.trigger is not None for d in ds] == [False, False, True]
    e2 = engine()
    assert all(d.trigger is None for d in feed(e2, 10, error_rate=0.0, p95_ms=5000) if d.trigger and d.trigger.name == "p95")


def test_success_rate_only_after_five_checks():
    # 2 failed checks out of 4: 50 % but fewer than 5 checks → nothing.
    e = engine()
    ds = feed(e, 2, error_rate=0.2, p95_ms=10) + feed(e, 2, start=2, error_rate=0.0, p95_ms=10)
    assert all(d.trigger is None for d in ds)
    d = feed(e, 1, start=4, error_rate=0.0, p95_ms=10)[0]  # 3/5 = 60 % < 70 %
    assert d.trigger is not None and d.trigger.name == "success_rate"
    assert "3/5 checks passed" in d.trigger.reason.text


def test_success_rate_exactly_seventy_percent_does_not_fire():
    e = engine()
    ds = feed(e, 3, error_rate=0.2, p95_ms=10) + feed(e, 7, start=3, error_rate=0.0, p95_ms=10)
    # after 10 checks: 7/10 = 70 % (not < 70 %); but at 5 checks it was 2/5: fired earlier
    fired = [d for d in ds if d.trigger]
    assert fired and fired[0].counters.checks == 5
    e = engine()
    seq = [0.0] * 7 + [0.2] * 3
    out = [e.tick([r(i, error_rate=x, p95_ms=10)], i) for i, x in enumerate(seq)]
    assert all(d.trigger is None for d in out)  # 7/10 at the end, ≥ 70 % all along


def test_never_triggers_on_inconclusive_data():
    e = engine()
    feed(e, 4, error_rate=0.5, p95_ms=10)
    for i in range(10):
        d = e.tick([Reading("scrape", at=10 + i, ok=False, error="down")], 10 + i)
        assert d.trigger is None and d.verdict is Verdict.INCONCLUSIVE


# ------------------------------------------------------------------ stabilization


def test_stabilization_does_not_judge_and_does_not_count():
    e = Engine(Policy(watch=WatchConfig(stabilization_s=30)))
    e.stabilize(0, "rollback to revision 3")
    ds = feed(e, 29, start=1, error_rate=0.5, p95_ms=10)
    assert all(d.verdict is Verdict.INCONCLUSIVE and d.stabilizing and d.trigger is None for d in ds)
    assert "stabilizing after rollback to revision 3" in ds[0].reasons[0].text
    d = e.tick([r(30, error_rate=0.0, p95_ms=10)], 30)
    assert d.verdict is Verdict.OK and not d.stabilizing


def test_operator_data_loss_counts_even_while_stabilizing():
    e = Engine()
    e.stabilize(0, "deploy")
    e.operator_input("data_loss", "yes")
    d = e.tick([], 1)
    assert d.verdict is Verdict.ROLLBACK_NOW and d.tree == "immediate"


# ------------------------------------------------------------------ tree and inputs


@pytest.mark.parametrize(
    ("inputs", "err", "path"),
    [
        (OperatorInputs(data_loss=True), None, "immediate"),
        (OperatorInputs(security_breach=True), None, "immediate"),
        (OperatorInputs(), 0.51, "immediate"),
        (OperatorInputs(), 0.50, None),
        (OperatorInputs(users_affected=0.11), 0.0, "standard"),
        (OperatorInputs(users_affected=0.10), 0.0, "hotfix"),
        (OperatorInputs(data_loss=False, security_breach=False), 0.0, "hotfix"),
    ],
)
def test_decision_tree(inputs, err, path):
    got, reason = decision_tree(inputs, err, CFG)
    assert got == path
    if path in ("immediate", "standard"):
        assert reason.level is Verdict.ROLLBACK_NOW


def test_user_reports_over_ten_is_consider():
    v, reasons, _ = evaluate(Sample(at=0, window_s=60, error_rate=0.0, p95_ms=10), CFG, OperatorInputs(user_reports=11))
    assert v is Verdict.CONSIDER and "11 user reports > 10" in reasons[0].text
    v, _, _ = evaluate(Sample(at=0, window_s=60, error_rate=0.0, p95_ms=10), CFG, OperatorInputs(user_reports=10))
    assert v is Verdict.OK


def test_operator_input_parsing():
    i = OperatorInputs().with_input("users_affected", "15%").with_input("data_loss", "no").with_input("user_reports", "4")
    assert i.users_affected == pytest.approx(0.15) and i.data_loss is False and i.user_reports == 4
    with pytest.raises(ValueError):
        i.with_input("mood", "bad")
    with pytest.raises(ValueError):
        i.with_input("users_affected", 2)


# ------------------------------------------------------------------ change detection, purity


def test_changed_only_when_the_verdict_changes():
    e = Engine()
    changes = [d.changed for d in feed(e, 3, error_rate=0.0, p95_ms=10)]
    changes += [d.changed for d in feed(e, 2, start=3, error_rate=0.03, p95_ms=10)]
    assert changes == [True, False, False, True, False]


def test_step_is_pure():
    s0 = EngineState()
    a = step(s0, [r(1, error_rate=0.3, p95_ms=10)], 1, Policy())
    b = step(s0, [r(1, error_rate=0.3, p95_ms=10)], 1, Policy())
    assert a == b and s0 == EngineState()


def test_policy_from_settings():
    s = Settings.model_validate({"decision": {"triggers": {"error_consecutive": 2}}})
    s.watch.interval_s = 1
    e = Engine(Policy.from_settings(s))
    assert e.interval_s == 1 and Policy.from_settings(s).interval_s == 1
    assert [d.trigger is not None for d in feed(e, 2, error_rate=0.3, p95_ms=10)] == [False, True]


# ------------------------------------------------------------------ before/after


def test_compare_warns_when_errors_stay_elevated():
    before = WindowStats(0, 60, 60, error_rate=0.01, p95_ms=100, request_rate=50)
    after = WindowStats(100, 160, 60, error_rate=0.02, p95_ms=110, request_rate=50)
    c = compare(before, after)
    assert not c.ok and "still elevated" in c.warnings[0]
    assert c.latency_ratio == pytest.approx(1.1) and c.throughput_ratio == 1.0


def test_compare_within_ratio_is_ok_and_floor_absorbs_noise():
    before = WindowStats(0, 60, 60, error_rate=0.0, p95_ms=100, request_rate=50)
    after = WindowStats(100, 160, 60, error_rate=0.00005, p95_ms=100, request_rate=50)
    assert compare(before, after).ok
    assert not compare(before, WindowStats(0, 0, 0, None, None, None)).ok


def test_window_stats_weights_by_traffic():
    samples = [Sample(at=1, error_rate=0.5, request_rate=1), Sample(at=2, error_rate=0.0, request_rate=9)]
    st = window_stats(samples)
    assert st.error_rate == pytest.approx(0.05) and st.samples == 2


def test_a_handful_of_requests_is_no_error_rate_and_never_counts_towards_a_trigger():
    """1 error in 3 requests is no 33 % error rate: below decision.matrix.min_requests (20) the
    window's error rate and p95 are missing data — INCONCLUSIVE, the counters reset, nothing fires."""
    e = engine(error_consecutive=2)
    for t in range(1, 6):  # 3 requests in a 2 s window, one an error
        d = e.tick([r(t, window_s=2.0, error_rate=1 / 3, p95_ms=4000.0, request_rate=1.5)], float(t))
        assert d.verdict is Verdict.INCONCLUSIVE and d.trigger is None and d.counters.error_high == 0
    texts = [x.text for x in d.reasons]
    assert "error rate: too little traffic to judge (3 requests in 2s; at least 20: decision.matrix.min_requests)" in texts
    assert any(x.startswith("p95 latency: too little traffic to judge") for x in texts)
    assert d.sample.error_rate is None and d.sample.request_rate == 1.5  # the traffic itself is shown
    # enough requests in the window: judged, and the trigger fires as before
    for t in range(6, 9):
        d = e.tick([r(t, window_s=2.0, error_rate=0.3, p95_ms=100.0, request_rate=30.0)], float(t))
    assert d.verdict is Verdict.ROLLBACK_NOW and e.state.fired is not None
    # 0 turns the rule off
    off = Engine(Policy(decision=DecisionConfig.model_validate({"matrix": {"min_requests": 0}}), watch=EVERY_SECOND))
    d = off.tick([r(1, window_s=2.0, error_rate=1 / 3, p95_ms=100.0, request_rate=1.5)], 1.0)
    assert d.verdict is Verdict.ROLLBACK_NOW
