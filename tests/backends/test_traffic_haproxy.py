"""The traffic port against a real HAProxy: weights and drain/maint through the runtime API,
the split of real requests moving as the shift goes, abort, resume, bad input."""
from __future__ import annotations

import threading

import pytest

from backends.traffic.haproxy import HAProxyTraffic
from cockpit.errors import ConfigError, NotFoundError, ReadonlyError, UnreachableError
from cockpit.journal import Journal
from cockpit.matrix import Verdict
from cockpit.traffic import (CountsJudge, Judgement, abort_pending, make_plan, pending_shift, plan_from_intent,
                             run_shift)


def no_wait(ev: threading.Event, s: float) -> bool:
    return ev.is_set()


def test_weights_move_the_real_split(haproxy):
    port = HAProxyTraffic(haproxy.socket)
    assert port.get_weights("app") == {"old": 0, "new": 100}
    assert haproxy.hits(20)["new"] == 20
    assert port.set_weights("app", {"old": 75, "new": 25}) == {"old": 75, "new": 25}
    seen = haproxy.hits(40)
    assert seen["old"] == 30 and seen["new"] == 10
    assert port.writes == 2


def test_drain_maint_ready(haproxy):
    port = HAProxyTraffic(haproxy.socket)
    port.set_weights("app", {"old": 50, "new": 50})
    port.set_state("app", "new", "maint")
    assert port.states("app")["new"] == "maint"
    assert haproxy.hits(10)["old"] == 10
    port.set_state("app", "new", "drain")
    assert port.states("app")["new"] == "drain"
    assert haproxy.hits(10)["old"] == 10
    port.set_state("app", "new", "ready")
    assert port.states("app") == {"old": "ready", "new": "ready"}
    assert haproxy.hits(10)["new"] == 5


def test_error_counts_per_server(haproxy):
    port = HAProxyTraffic(haproxy.socket)
    port.set_weights("app", {"old": 50, "new": 50})
    judge = CountsJudge(port, "app", "old")
    haproxy.hits(20)
    j = judge()
    assert j.verdict is Verdict.OK and 8 <= j.requests <= 12  # weighted round robin: about half
    bad = CountsJudge(port, "app", "new")
    haproxy.hits(20)
    assert bad().verdict is Verdict.ROLLBACK_NOW


def test_shift_moves_traffic_step_by_step(haproxy, tmp_path):
    port = HAProxyTraffic(haproxy.socket)
    journal = Journal.open(tmp_path / "j.jsonl")
    plan = make_plan(port, "app", "old", (90, 70, 50, 25, 0), 0)
    shares = []

    def wait(ev, s):
        shares.append(haproxy.hits(50)["new"])
        return False

    res = run_shift(port, plan, journal, judge=CountsJudge(port, "app", "old"), wait=wait)
    assert res.status == "done"
    # the share of real requests answered by new follows the steps (weighted round robin: ±2 of 50)
    assert all(abs(got - want) <= 2 for got, want in zip(shares, [45, 35, 25, 12, 0])), shares
    assert shares[-1] == 0
    assert port.get_weights("app") == {"old": 100, "new": 0}
    recs = journal.read()
    weights = [r for r in recs if r["type"] == "intent" and r["action"] == "traffic.weights"]
    assert [w["index"] for w in weights] == [0, 1, 2, 3, 4]
    outs = {r["id"]: r for r in recs if r["type"] == "outcome"}
    assert all(outs[w["id"]]["ok"] for w in weights)
    assert pending_shift(recs) is None


def test_stop_when_healthy(haproxy, tmp_path):
    port = HAProxyTraffic(haproxy.socket)
    journal = Journal.open(tmp_path / "j.jsonl")
    plan = make_plan(port, "app", "old", (90, 70, 50, 25, 0), 0, stop_when_healthy=True)
    res = run_shift(port, plan, journal, judge=CountsJudge(port, "app", "old"),
                    wait=lambda ev, s: bool(haproxy.hits(20)) and False)
    assert res.status == "stopped"
    assert port.get_weights("app") == {"old": 10, "new": 90}


def test_abort_puts_the_split_back(haproxy, tmp_path):
    port = HAProxyTraffic(haproxy.socket)
    journal = Journal.open(tmp_path / "j.jsonl")
    plan = make_plan(port, "app", "old", (90, 70, 50), 0)
    cancel = threading.Event()
    calls = []

    def wait(ev, s):
        calls.append(1)
        if len(calls) == 2:
            ev.set()
        return ev.is_set()

    res = run_shift(port, plan, journal, wait=wait, cancel=cancel)
    assert res.status == "aborted"
    assert port.get_weights("app") == {"old": 0, "new": 100}
    assert haproxy.hits(10)["new"] == 10
    recs = journal.read()
    restore = [r for r in recs if r["type"] == "intent" and r.get("restore")]
    assert len(restore) == 1
    assert pending_shift(recs) is None


def test_worse_verdict_pauses_and_resume_continues(haproxy, tmp_path):
    port = HAProxyTraffic(haproxy.socket)
    journal = Journal.open(tmp_path / "j.jsonl")
    plan = make_plan(port, "app", "old", (90, 70, 50, 25, 0), 0)
    verdicts = iter([Verdict.OK, Verdict.CONSIDER])
    judge = lambda: Judgement(next(verdicts), "scripted")  # noqa: E731 — a scripted verdict: the test double
    res = run_shift(port, plan, journal, judge=judge, wait=no_wait)
    assert res.status == "paused" and port.get_weights("app") == {"old": 30, "new": 70}
    assert port.writes == 4
    rec = pending_shift(journal.read(), "app")
    assert rec is not None
    again = HAProxyTraffic(haproxy.socket)
    res2 = run_shift(again, plan_from_intent(rec), journal, resume=True, wait=no_wait)
    assert res2.status == "done"
    assert again.writes == 6  # steps 3, 4, 5 — two servers each; steps 1 and 2 not sent again
    assert port.get_weights("app") == {"old": 100, "new": 0}


class Crash(BaseException):
    """Stands in for the process dying (kill -9) at a chosen point: the one test double here."""


def test_crash_between_steps_resume_repeats_no_step(haproxy, tmp_path):
    port = HAProxyTraffic(haproxy.socket)
    journal = Journal.open(tmp_path / "j.jsonl")
    plan = make_plan(port, "app", "old", (90, 70, 50, 25, 0), 0)
    holds = []

    def crashing_wait(ev, s):
        holds.append(1)
        if len(holds) == 3:
            raise Crash()
        return False

    with pytest.raises(Crash):
        run_shift(port, plan, journal, wait=crashing_wait)
    assert port.writes == 6 and port.get_weights("app") == {"old": 50, "new": 50}
    journal.close()
    journal = Journal.open(tmp_path / "j.jsonl")
    rec = pending_shift(journal.read(), "app")
    again = HAProxyTraffic(haproxy.socket)
    res = run_shift(again, plan_from_intent(rec), journal, resume=True, wait=no_wait)
    assert res.status == "done" and again.writes == 4
    idx = [r["index"] for r in journal.read() if r["type"] == "intent" and r["action"] == "traffic.weights"]
    assert idx == [0, 1, 2, 3, 4]


def test_crash_after_the_write_before_the_outcome(haproxy, tmp_path):
    class DiesAfterWrite(HAProxyTraffic):
        def set_weights(self, route, weights):
            out = super().set_weights(route, weights)
            if weights.get("old") == 30:
                raise Crash()
            return out

    port = DiesAfterWrite(haproxy.socket)
    journal = Journal.open(tmp_path / "j.jsonl")
    plan = make_plan(port, "app", "old", (90, 70, 50), 0)
    with pytest.raises(Crash):
        run_shift(port, plan, journal, wait=no_wait)
    rec = pending_shift(journal.read(), "app")
    again = HAProxyTraffic(haproxy.socket)
    logs = []
    res = run_shift(again, plan_from_intent(rec), journal, resume=True, wait=no_wait, log=logs.append)
    assert res.status == "done"
    assert again.writes == 2  # only step 3; step 2 had taken effect and is reconciled
    assert any("had taken effect" in line for line in logs)


def test_abort_pending_puts_the_start_back(haproxy, tmp_path):
    port = HAProxyTraffic(haproxy.socket)
    journal = Journal.open(tmp_path / "j.jsonl")
    plan = make_plan(port, "app", "old", (90, 70, 50), 0)
    run_shift(port, plan, journal, judge=iter([Judgement(Verdict.OK, ""), Judgement(Verdict.ROLLBACK_NOW, "")]).__next__,
              wait=no_wait)
    assert abort_pending(port, journal, "app") is not None
    assert port.get_weights("app") == {"old": 0, "new": 100}
    assert pending_shift(journal.read(), "app") is None


def test_bad_input(haproxy, tmp_path):
    port = HAProxyTraffic(haproxy.socket)
    with pytest.raises(NotFoundError, match="no backend 'nope'; its backends: app, other"):
        port.get_weights("nope")
    with pytest.raises(NotFoundError, match="route app has no backend 'older'; its backends: old, new"):
        make_plan(port, "app", "older", (50,), 0)
    with pytest.raises(NotFoundError, match="no server 'ghost'"):
        port.set_weights("app", {"old": 50, "ghost": 50})
    with pytest.raises(ConfigError, match="0 to 256"):
        port.set_weights("app", {"old": 300, "new": 0})
    assert port.writes == 0 and port.get_weights("app") == {"old": 0, "new": 100}
    with pytest.raises(ReadonlyError):
        HAProxyTraffic(haproxy.socket, readonly=True).set_weights("app", {"old": 100, "new": 0})
    with pytest.raises(ReadonlyError):
        HAProxyTraffic(haproxy.socket, readonly=True)._send("set server app/old weight 1")
    with pytest.raises(UnreachableError, match="does not answer"):
        HAProxyTraffic(tmp_path / "no.sock").get_weights("app")


def test_socket_that_never_answers(tmp_path):
    import socket as s

    srv = s.socket(s.AF_UNIX)
    srv.bind(str(tmp_path / "mute.sock"))
    srv.listen(1)
    try:
        with pytest.raises(UnreachableError, match="did not answer"):
            HAProxyTraffic(tmp_path / "mute.sock", timeout=0.3).get_weights("app")
    finally:
        srv.close()
