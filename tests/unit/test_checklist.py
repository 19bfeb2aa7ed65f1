"""cockpit/checklist.py: pure checks over evidence, rows, ticks, phases."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from cockpit.checklist import (Evidence, MetricPoint, Probe, all_done, check_health, check_pods, check_restarts,
                               check_rollout, check_version, evaluate, expected_versions, fmt_elapsed, phase_rows,
                               rows, ticks_to_journal)
from cockpit.model import PodInfo, RolloutProgress
from cockpit.runbook import DEFAULT_CHECKLIST
from cockpit.state import replay

T = 1_700_000_000.0
SINCE = T - 120


def pod(name="p", phase="Running", ready=True, restarts=0, last_restart=None, created=None):
    return PodInfo(name=name, phase=phase, ready=ready, restarts=restarts, image="shop/checkout:1.4.2",
                   last_restart=last_restart, created=created)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z")


def test_expected_versions_tags_and_digests():
    assert expected_versions(["reg:5000/shop/checkout:1.4.2", "x/y@sha256:ab"]) == (
        "reg:5000/shop/checkout:1.4.2", "1.4.2", "x/y@sha256:ab", "sha256:ab")


def test_rollout_pending_complete_failed():
    assert check_rollout(Evidence(T)).ok is None
    assert check_rollout(Evidence(T, progress=RolloutProgress(4, 4, 4, 4, 4, True, True))).ok is True
    assert check_rollout(Evidence(T, progress=RolloutProgress(4, 2, 2, 2, 5, True, False, True, "deadline"))).ok is False


def test_pods_none_empty_bad_good():
    assert check_pods(Evidence(T)).ok is None
    assert check_pods(Evidence(T, pods=())).ok is False  # no pods is never a pass
    bad = check_pods(Evidence(T, pods=(pod(), pod("q", phase="Pending", ready=False))))
    assert bad.ok is False and "q" in bad.evidence
    assert check_pods(Evidence(T, pods=(pod(), pod("q")))).ok is True


def test_restarts_only_after_the_rollback_count():
    before = datetime.fromtimestamp(SINCE - 10, timezone.utc)
    after = datetime.fromtimestamp(SINCE + 10, timezone.utc)
    assert check_restarts(Evidence(T, pods=(pod(),))).ok is None  # no rollback yet
    assert check_restarts(Evidence(T, since=SINCE, pods=(pod(restarts=2, last_restart=before),))).ok is True
    assert check_restarts(Evidence(T, since=SINCE, pods=(pod(restarts=3, last_restart=after),))).ok is False


def test_health_needs_three_ok_ten_seconds_apart_since_the_last_failure():
    close = [Probe(SINCE + i, True) for i in range(1, 6)]
    assert check_health(Evidence(T, since=SINCE, probes=close)).ok is None  # 5 OK, but 1 s apart
    spaced = [Probe(SINCE + 10 * i, True) for i in range(1, 4)]
    assert check_health(Evidence(T, since=SINCE, probes=spaced)).ok is True
    failed_last = spaced + [Probe(SINCE + 40, False)]
    assert check_health(Evidence(T, since=SINCE, probes=failed_last)).ok is None
    old = [Probe(SINCE - 30 + 10 * i, True) for i in range(3)]  # before the rollback: not evidence
    assert check_health(Evidence(T, since=SINCE, probes=old)).ok is None


def test_version_against_the_chosen_images():
    exp = expected_versions(["shop/checkout:1.4.2"])
    assert check_version(Evidence(T, expected=exp)).ok is None
    assert check_version(Evidence(T, expected=exp, version="1.4.2\n")).ok is True
    assert check_version(Evidence(T, expected=exp, version="1.5.0")).ok is False


def test_metrics_need_the_window_covered_then_judge_the_mean():
    short = [MetricPoint(SINCE + i, 0.001, 100.0) for i in range(0, 30)]
    res = evaluate(Evidence(T, since=SINCE, samples=short, window_s=60))
    assert res["error_rate_ok"].ok is None and "collecting" in res["error_rate_ok"].evidence
    good = [MetricPoint(SINCE + i, 0.001, 100.0) for i in range(0, 121)]
    res = evaluate(Evidence(T, since=SINCE, samples=good, window_s=60))
    assert res["error_rate_ok"].ok is True and res["latency_ok"].ok is True
    bad = [MetricPoint(SINCE + i, 0.2, 900.0) for i in range(0, 121)]
    res = evaluate(Evidence(T, since=SINCE, samples=bad, window_s=60))
    assert res["error_rate_ok"].ok is False and res["latency_ok"].ok is False


def _state(*recs):
    out, t = [], T - 600
    for i, (typ, data) in enumerate(recs):
        out.append({"type": typ, "ts": iso(t + 60 * i), "seq": i + 1, "actor": "alice", **data})
    return replay(out)


def test_ticks_to_journal_newly_proven_only_and_rows_merge():
    items = DEFAULT_CHECKLIST
    auto_item = next(i for i in items if i.auto)
    auto = {auto_item.auto: evaluate(Evidence(T, progress=RolloutProgress(4, 4, 4, 4, 4, True, True), pods=(pod(),)))[auto_item.auto]}
    st = _state(("incident_opened", {"target": "shop/checkout"}))
    if auto[auto_item.auto].ok:
        ticks = ticks_to_journal(items, st, auto)
        assert [t["id"] for t in ticks] == [auto_item.id] and ticks[0]["who"] == "cockpit"
        st2 = _state(("incident_opened", {"target": "shop/checkout"}),
                     ("check", {"id": auto_item.id, "ok": True, "who": "cockpit", "evidence": "e"}))
        assert ticks_to_journal(items, st2, auto) == []  # already journaled: not again
    r = rows(items, st, auto)
    assert [x.id for x in r] == [i.id for i in items]
    assert not all_done(items, st)
    everything = _state(("incident_opened", {"target": "shop/checkout"}),
                        *[("check", {"id": i.id, "ok": True, "who": "bob", "evidence": ""}) for i in items])
    assert all_done(items, everything)


def test_phase_rows_elapsed_against_budget_and_overdue():
    st = _state(("incident_opened", {"target": "shop/checkout"}), ("phase", {"phase": "declare"}),
                ("phase", {"phase": "identify"}))
    now = datetime.fromtimestamp(T - 600 + 120 + 400, timezone.utc)  # identify running for 400 s
    by = {r.name: r for r in phase_rows(st, now)}
    assert by["declare"].started and not by["declare"].running and abs(by["declare"].elapsed - 60) < 1
    assert by["identify"].running and by["identify"].overdue  # budget 3 min
    assert not by["execute"].started
    assert now - timedelta(seconds=1) < now  # the clock is the argument, never read inside


def test_fmt_elapsed():
    assert fmt_elapsed(75) == "1:15" and fmt_elapsed(3725) == "1:02:05" and fmt_elapsed(-3) == "0:00"


def test_a_delivered_slack_message_ticks_communication_sent():
    from cockpit.checklist import ticks_to_journal
    from cockpit.runbook import DEFAULT_CHECKLIST
    from cockpit.state import replay

    rec = {"seq": 1, "ts": "2026-12-02T06:41:00.000Z", "actor": "a@b", "type": "notification",
           "channel": "slack", "ok": True, "purpose": "started"}
    ticks = ticks_to_journal(DEFAULT_CHECKLIST, replay([rec]), {})
    comm = [t for t in ticks if t["id"] == "communication_sent"]
    assert comm and comm[0]["ok"] is True and "Slack" in comm[0]["evidence"]
    failed = dict(rec, ok=False)
    assert not [t for t in ticks_to_journal(DEFAULT_CHECKLIST, replay([failed]), {}) if t["id"] == "communication_sent"]
