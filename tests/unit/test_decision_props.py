"""Property tests: threshold edges, counter laws, stale/inconclusive never healthy."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.config import DecisionConfig, WatchConfig
from cockpit.decision import Engine, Policy, Reading, Sample, Verdict, band, evaluate

CFG = DecisionConfig()
ORDER = [Verdict.OK, Verdict.MONITOR, Verdict.CONSIDER, Verdict.ROLLBACK_NOW]
rates = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
latencies = st.floats(min_value=0.0, max_value=60_000.0, allow_nan=False)


def level(**values) -> Verdict:
    return evaluate(Sample(at=0, window_s=60, **values), CFG)[0]


@given(st.sampled_from([(0.0499, Verdict.CONSIDER), (0.05, Verdict.CONSIDER), (0.0501, Verdict.ROLLBACK_NOW),
                        (0.0199, Verdict.MONITOR), (0.02, Verdict.CONSIDER), (0.0201, Verdict.CONSIDER),
                        (0.0099, Verdict.OK), (0.01, Verdict.MONITOR), (0.0101, Verdict.MONITOR)]),
       st.floats(min_value=0, max_value=499.99))
def test_error_rate_edges_whatever_the_latency_below_monitor(edge, p95):
    value, expected = edge
    assert level(error_rate=value, p95_ms=p95) is expected


@given(st.sampled_from([(1999, Verdict.CONSIDER), (2000, Verdict.CONSIDER), (2001, Verdict.ROLLBACK_NOW),
                        (2000.0001, Verdict.ROLLBACK_NOW), (999, Verdict.MONITOR), (1000, Verdict.CONSIDER),
                        (499.999, Verdict.OK), (500, Verdict.MONITOR)]),
       st.floats(min_value=0, max_value=0.0099))
def test_latency_edges_whatever_the_error_rate_below_monitor(edge, err):
    value, expected = edge
    assert level(error_rate=err, p95_ms=value) is expected


@given(rates, rates)
def test_matrix_is_monotonic_in_error_rate(a, b):
    lo, hi = sorted((a, b))
    assert ORDER.index(level(error_rate=lo, p95_ms=1)) <= ORDER.index(level(error_rate=hi, p95_ms=1))


@given(latencies, latencies)
def test_matrix_is_monotonic_in_latency(a, b):
    lo, hi = sorted((a, b))
    assert ORDER.index(level(error_rate=0, p95_ms=lo)) <= ORDER.index(level(error_rate=0, p95_ms=hi))


@given(rates, latencies)
def test_verdict_is_the_worst_metric(err, p95):
    e = CFG.matrix.error_rate
    lt = CFG.matrix.p95_ms
    worst = max(band(err, e.rollback_above, e.consider_from, e.monitor_from),
                band(p95, lt.rollback_above, lt.consider_from, lt.monitor_from), key=ORDER.index)
    assert level(error_rate=err, p95_ms=p95) is worst


@given(rates | st.none(), latencies | st.none())
def test_missing_required_metric_is_never_ok_or_monitor(err, p95):
    d = Engine().tick([Reading("s", at=1, window_s=60, error_rate=err, p95_ms=p95)], 1)
    if err is None or p95 is None:
        assert d.verdict in (Verdict.INCONCLUSIVE, Verdict.CONSIDER, Verdict.ROLLBACK_NOW)
    else:
        assert d.verdict is not Verdict.INCONCLUSIVE


# A check: bad (> 5 %), good, or missing (source failed).
checks = st.lists(st.sampled_from(["bad", "good", "gap"]), min_size=1, max_size=40)


def run(seq: list[str], **triggers):
    pol = Policy(decision=DecisionConfig.model_validate({"triggers": triggers}), watch=WatchConfig(interval_s=1))
    e = Engine(pol)
    out = []
    for i, c in enumerate(seq):
        if c == "gap":
            rd = Reading("s", at=i, ok=False, error="down")
        else:
            rd = Reading("s", at=i, window_s=60, error_rate=0.06 if c == "bad" else 0.0, p95_ms=10)
        out.append(e.tick([rd], i))
    return out


def longest_bad_run_before(seq: list[str], i: int) -> int:
    n = 0
    for c in seq[: i + 1]:
        n = n + 1 if c == "bad" else 0
    return n


@settings(max_examples=300)
@given(checks)
def test_error_counter_is_the_current_run_of_bad_checks(seq):
    out = run(seq, success_min_checks=1000)
    for i, d in enumerate(out):
        assert d.counters.error_high == longest_bad_run_before(seq, i)


@settings(max_examples=300)
@given(checks)
def test_error_trigger_fires_exactly_at_the_first_run_of_five(seq):
    out = run(seq, success_min_checks=1000)
    fired = [i for i, d in enumerate(out) if d.trigger is not None]
    runs = [i for i in range(len(seq)) if longest_bad_run_before(seq, i) == 5]
    assert fired == runs[:1]
    for i in fired:
        assert seq[i] == "bad"  # never on a gap


@settings(max_examples=300)
@given(checks)
def test_success_rate_trigger_law(seq):
    out = run(seq, error_consecutive=1000)
    fired = [i for i, d in enumerate(out) if d.trigger is not None]
    expected = None
    total = passed = 0
    for i, c in enumerate(seq):
        if c == "gap":
            continue
        total += 1
        passed += c == "good"
        if total >= 5 and passed / total < 0.7:
            expected = i
            break
    assert fired == ([] if expected is None else [expected])


@given(checks)
def test_a_gap_never_fires_and_never_says_ok(seq):
    for c, d in zip(seq, run(seq)):
        if c == "gap":
            assert d.trigger is None
            assert d.verdict is Verdict.INCONCLUSIVE
