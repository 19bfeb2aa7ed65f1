"""The ``traffic.shift`` step through the executor against a real HAProxy: the plan in the
intent, each weight change its own intent/outcome, a pause that ``resume`` continues, a crash
whose resume sends no step twice, readonly sends nothing."""
from __future__ import annotations

import json
import threading

import pytest

import backends.traffic.steps  # noqa: F401  registers traffic.shift
from backends.traffic.haproxy import HAProxyTraffic
from cockpit.executor import Executor
from cockpit.journal import Journal
from cockpit.runbook import parse_runbook
from cockpit.steps import StepContext


def runbook(socket, **extra):
    params = {"provider": "haproxy", "socket": str(socket), "route": "app", "to": "old",
              "steps": "90,50,0", "hold": "0s", **extra}
    return parse_runbook("name: shift\ntarget: {namespace: shop, name: app}\nsteps:\n"
                         f"  - kind: traffic.shift\n    params: {json.dumps(params)}\n")


def weights_intents(journal):
    return [r for r in journal.read() if r["type"] == "intent" and r["action"] == "traffic.weights"]


def test_step_shifts_and_journals_each_weight_change(haproxy, tmp_path):
    journal = Journal.open(tmp_path / "j.jsonl")
    res = Executor(runbook(haproxy.socket), journal, StepContext(backends={}, log=lambda s: None)).run()
    assert res.ok, res.error
    assert HAProxyTraffic(haproxy.socket).get_weights("app") == {"old": 100, "new": 0}
    recs = journal.read()
    step_intent = next(r for r in recs if r["type"] == "intent" and r["action"] == "traffic.shift")
    assert step_intent["start"] == {"old": 0, "new": 100} and step_intent["steps"] == [90, 50, 0]
    assert [w["index"] for w in weights_intents(journal)] == [0, 1, 2]
    assert res.steps[0].data["status"] == "done"
    assert haproxy.hits(10)["old"] == 10


@pytest.fixture
def traffic(haproxy):
    """Requests through HAProxy all along (so each hold has some to judge by)."""
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            haproxy.hits(5)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield
    stop.set()
    t.join(timeout=10)


def test_worse_verdict_pauses_then_resume_continues(haproxy, traffic, tmp_path):
    journal = Journal.open(tmp_path / "j.jsonl")

    def log(line):  # the old release starts failing once step 2 is set: the verdict gets worse
        if line.startswith("step 2/"):
            haproxy.backends["old"].error_every = 1

    ctx = StepContext(backends={}, log=log)
    rb = runbook(haproxy.socket, steps="90,70,50,0", hold="0.5s")
    res = Executor(rb, journal, ctx).run()
    assert res.status == "failed" and res.error.title == "Paused", res.error
    assert HAProxyTraffic(haproxy.socket).get_weights("app") == {"old": 30, "new": 70}
    haproxy.backends["old"].error_every = 0
    before = len(weights_intents(journal))
    res = Executor(rb, journal, StepContext(backends={}, log=lambda s: None)).resume()
    assert res.ok, res.error
    assert [w["index"] for w in weights_intents(journal)[before:]] == [2, 3]  # steps 1 and 2 not sent again
    assert HAProxyTraffic(haproxy.socket).get_weights("app") == {"old": 100, "new": 0}
    starts = [r["start"] for r in journal.read() if r["type"] == "intent" and r["action"] == "traffic.shift"]
    assert starts == [{"old": 0, "new": 100}] * 2  # the continued shift keeps the split it started from


class Crash(BaseException):
    """Stands in for the process dying between two steps of the shift (the one test double)."""


def test_crash_between_steps_resume_sends_no_step_twice(haproxy, tmp_path, monkeypatch):
    journal = Journal.open(tmp_path / "j.jsonl")

    def log(line):  # dies once step 2 is confirmed, before step 3
        if line.startswith("step 2/"):
            raise Crash()

    with pytest.raises(Crash):
        Executor(runbook(haproxy.socket), journal, StepContext(backends={}, log=log)).run()
    ctx = StepContext(backends={}, log=lambda s: None)
    assert HAProxyTraffic(haproxy.socket).get_weights("app") == {"old": 50, "new": 50}
    writes = []  # a spy on the real runtime-API writes
    orig = HAProxyTraffic._set
    monkeypatch.setattr(HAProxyTraffic, "_set", lambda self, *a: (writes.append(a), orig(self, *a))[1])
    journal.close()
    journal = Journal.open(tmp_path / "j.jsonl")
    res = Executor(runbook(haproxy.socket), journal, ctx).resume()
    assert res.ok, res.error
    assert writes == [("app", "old", "weight 100"), ("app", "new", "weight 0")]  # only step 3
    assert [w["index"] for w in weights_intents(journal)] == [0, 1, 2]


def test_readonly_sends_nothing(haproxy, tmp_path):
    journal = Journal.open(tmp_path / "j.jsonl")
    res = Executor(runbook(haproxy.socket), journal, StepContext(backends={}, log=lambda s: None, readonly=True)).run()
    assert res.status == "failed" and res.error.title == "Readonly"
    assert HAProxyTraffic(haproxy.socket).get_weights("app") == {"old": 0, "new": 100}
    assert weights_intents(journal) == []


def test_drain_step_takes_an_instance_out_and_resume_reads_its_state(haproxy, tmp_path):
    HAProxyTraffic(haproxy.socket).set_weights("app", {"old": 50, "new": 50})
    params = {"socket": str(haproxy.socket), "route": "app", "server": "new", "state": "maint"}
    rb = parse_runbook("name: drain\ntarget: {namespace: shop, name: app}\nsteps:\n"
                       f"  - kind: traffic.drain\n    params: {json.dumps(params)}\n")
    journal = Journal.open(tmp_path / "j.jsonl")
    journal.intent("traffic.drain", step=0, **params)  # a crash after the intent; the write never went
    res = Executor(rb, journal, StepContext(backends={}, log=lambda s: None)).resume()
    assert res.ok, res.error
    assert HAProxyTraffic(haproxy.socket).states("app")["new"] == "maint"
    assert haproxy.hits(10)["old"] == 10
    res = Executor(rb, journal, StepContext(backends={}, log=lambda s: None)).resume()
    assert res.ok and res.steps[0].status == "skipped"


def rate_lines(journal):
    return [r["line"] for r in journal.read() if r["type"] == "log" and r.get("source") == "traffic.shift"
            and " error rates — " in r.get("line", "")]


def test_every_versions_rate_is_journaled_after_each_hold(haproxy, traffic, tmp_path):
    from cockpit.state import replay
    from cockpit.traffic_view import shift_view

    journal = Journal.open(tmp_path / "j.jsonl")  # new answers 500 to every request, old never fails
    res = Executor(runbook(haproxy.socket, hold="0.4s"), journal, StepContext(backends={}, log=lambda s: None)).run()
    assert res.ok, res.error
    lines = rate_lines(journal)
    assert [ln.split(" ")[1] for ln in lines] == ["1", "2", "3"]  # one line after each of the 3 holds
    for ln in lines:
        assert "old: " in ln and "new: " in ln, ln  # every version, not only the one keeping traffic
    assert "old: 0.0% errors over" in lines[0] and "new: 100.0% errors over" in lines[0]
    view = shift_view(replay(journal.read()))
    assert set(view.rates) == {"old", "new"}
    assert view.rates["old"].rate == 0.0 and view.rates["new"].rate == 1.0
    assert view.rates["old"].requests > 0 and view.rates["new"].requests > 0


def asked_shift(haproxy, tmp_path, answer):
    journal = Journal.open(tmp_path / "j.jsonl")
    questions = []

    def log(line):  # the old release starts failing once step 2 is set: the verdict gets worse
        if line.startswith("step 2/"):
            haproxy.backends["old"].error_every = 1

    def ask(question):  # what the TUI's modal would answer; the shift waits at its split meanwhile
        questions.append((question, HAProxyTraffic(haproxy.socket).get_weights("app")))
        haproxy.backends["old"].error_every = 0
        return answer

    ctx = StepContext(backends={}, log=log, ask=ask)
    rb = runbook(haproxy.socket, steps="90,70,50,0", hold="0.5s", on_worse="ask")
    return Executor(rb, journal, ctx).run(), questions, journal


def test_ask_continue_goes_on_to_the_end(haproxy, traffic, tmp_path):
    res, questions, journal = asked_shift(haproxy, tmp_path, "continue")
    assert res.ok, res.error
    assert len(questions) == 1
    text, split_when_asked = questions[0]
    assert "got worse after step 2 of 4" in text and "continue" in text and "abort" in text
    assert split_when_asked == {"old": 30, "new": 70}  # paused at step 2's split while asked
    assert HAProxyTraffic(haproxy.socket).get_weights("app") == {"old": 100, "new": 0}
    assert [w["index"] for w in weights_intents(journal)] == [0, 1, 2, 3]


def test_ask_abort_puts_the_split_back(haproxy, traffic, tmp_path):
    res, questions, journal = asked_shift(haproxy, tmp_path, "abort")
    assert res.status == "cancelled" and res.error.title == "Aborted", res.error
    assert len(questions) == 1
    assert HAProxyTraffic(haproxy.socket).get_weights("app") == {"old": 0, "new": 100}
    intents = weights_intents(journal)
    assert [w["index"] for w in intents] == [0, 1, -1] and intents[-1]["restore"] is True


def test_ask_with_no_one_to_ask_pauses(haproxy, traffic, tmp_path):
    journal = Journal.open(tmp_path / "j.jsonl")

    def log(line):
        if line.startswith("step 2/"):
            haproxy.backends["old"].error_every = 1

    rb = runbook(haproxy.socket, steps="90,70,50,0", hold="0.5s", on_worse="ask")
    res = Executor(rb, journal, StepContext(backends={}, log=log)).run()
    assert res.status == "failed" and res.error.title == "Paused", res.error
    assert HAProxyTraffic(haproxy.socket).get_weights("app") == {"old": 30, "new": 70}
