"""The rollback screen's traffic fold (cockpit.traffic_view) and its line (screens.render_traffic),
over journals written by the real shift loop (cockpit.traffic.run_shift) in a real Journal.

The port is an in-memory split (a stand-in for HAProxy/HTTPRoute, which have their own tests
against the real software): this test is about what the journal says, not how weights land."""
from __future__ import annotations

import threading

from cockpit.journal import Journal
from cockpit.matrix import Verdict
from cockpit.state import replay
from cockpit.traffic import Judgement, make_plan, run_shift
from cockpit.traffic_view import rates_from_lines, shift_view
from screens.render_traffic import split_lines


class MemoryPort:
    """An in-memory route (stand-in: see the module's docstring)."""

    def __init__(self, split):
        self.split = dict(split)
        self.fail_at: dict | None = None

    def get_weights(self, route):
        return dict(self.split)

    def set_weights(self, route, weights):
        if self.fail_at is not None and dict(weights) == self.fail_at:
            raise RuntimeError("admin socket did not answer")
        self.split = dict(weights)
        return dict(self.split)


def judges(*rates):
    seq = iter(rates)

    def judge():
        rate, req = next(seq)
        return Judgement(Verdict.OK if rate < 0.01 else Verdict.ROLLBACK_NOW,
                         f"old: {100 * rate:.1f}% errors over {req} requests", rate, req)
    return judge


def test_no_shift_no_view(tmp_path):
    j = Journal.open(tmp_path / "j.jsonl")
    j.append("log", line="hello")
    assert shift_view(replay(j.read())) is None
    assert split_lines(None).plain == ""


def test_the_split_moves_step_by_step_with_the_rate(tmp_path):
    j = Journal.open(tmp_path / "j.jsonl")
    port = MemoryPort({"old": 0, "new": 100})
    plan = make_plan(port, "shop-route", "old", (70, 0), 0)
    seen = []

    def hold(ev, s):  # after each weight change: what the screen would show now
        seen.append(shift_view(replay(j.read())))
        return False

    result = run_shift(port, plan, j, judge=judges((0.004, 812), (0.002, 1500)), wait=hold)
    assert result.status == "done"
    first, second = seen
    assert (first.route, first.to, first.step, first.steps, first.status) == ("shop-route", "old", 1, 2, "running")
    assert first.split == {"old": 30, "new": 70} and first.moving_to is None
    assert second.split == {"old": 100, "new": 0} and second.step == 2
    assert first.rates == {}  # judged after the hold: not yet
    end = shift_view(replay(j.read()))
    assert end.status == "done" and end.split == {"old": 100, "new": 0}
    assert end.rates["old"].requests == 1500 and abs(end.rates["old"].rate - 0.002) < 1e-9
    assert end.rates["old"].step == 2
    text = split_lines(end).plain
    assert "traffic shop-route  step 2/2 · done" in text
    assert "old  ████████████████████  100%   0.2% errors (1500 req, step 2)" in text
    assert "new  ░░░░░░░░░░░░░░░░░░░░    0%   error rate not measured" in text
    assert "#" * 20 in split_lines(end, ascii=True).plain


def test_an_intent_without_outcome_is_moving(tmp_path):
    j = Journal.open(tmp_path / "j.jsonl")
    j.intent("traffic.shift", route="r", to="old", steps=[50, 0], start={"old": 0, "new": 100}, hold_s=0,
             shift="s1", stop_when_healthy=False)
    j.intent("traffic.weights", route="r", shift="s1", index=0, weights={"old": 50, "new": 50},
             previous={"old": 0, "new": 100})
    view = shift_view(replay(j.read()))
    assert view.split == {"old": 0, "new": 100} and view.moving_to == {"old": 50, "new": 50}
    assert view.step == 0 and view.status == "running"
    assert "moving to old 50% · new 50%…" in split_lines(view).plain


def test_a_cancel_restores_the_split(tmp_path):
    j = Journal.open(tmp_path / "j.jsonl")
    port = MemoryPort({"old": 0, "new": 100})
    plan = make_plan(port, "r", "old", (70, 0), 0)
    cancel = threading.Event()

    def hold(ev, s):
        cancel.set()  # the operator cancels during the first hold
        return True

    result = run_shift(port, plan, j, wait=hold, cancel=cancel)
    assert result.status == "aborted"
    view = shift_view(replay(j.read()))
    assert view.status == "aborted" and view.split == {"old": 0, "new": 100}


def test_rates_name_each_version_and_keep_the_step():
    lines = ["step 1 old=30% new=70%: OK — old: 0.4% errors over 812 requests",
             "  verdict for old: OK — old: 0.4% errors over 812 requests",
             "step 2 old=100% new=0%: ROLLBACK_NOW — new: 7.5% errors over 40 requests",
             "old: no requests during the hold"]
    rates = rates_from_lines(lines)
    assert rates["old"].step == 1 and rates["old"].requests == 812
    assert rates["new"].rate == 0.075 and rates["new"].step == 2


def test_hostile_route_names_are_inert(tmp_path):
    j = Journal.open(tmp_path / "j.jsonl")
    j.intent("traffic.weights", route="r\x1b]52;c;aGk=\x07[b]x[/b]", shift="s", index=0,
             weights={"old\u202e": 100}, previous={"old\u202e": 0})
    text = split_lines(shift_view(replay(j.read()))).plain
    assert "\x1b" not in text and "\u202e" not in text and "[b]x[/b]" in text


def test_a_failed_weight_change_is_said(tmp_path):
    j = Journal.open(tmp_path / "j.jsonl")
    port = MemoryPort({"old": 0, "new": 100})
    port.fail_at = {"old": 100, "new": 0}
    plan = make_plan(port, "r", "old", (70, 0), 0)
    try:
        run_shift(port, plan, j, wait=lambda ev, s: False)
    except RuntimeError:
        pass
    view = shift_view(replay(j.read()))
    assert view.split == {"old": 30, "new": 70} and view.step == 1
    assert view.status == "failed" and "admin socket did not answer" in view.failed
    assert "last weight change failed: admin socket did not answer" in split_lines(view).plain
