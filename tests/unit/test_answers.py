"""The decision tree's answers (runbook 000) without a terminal: what they recommend, how the
answers controller journals them (real journal files, a real session and incident, the real
decision engine), and how journaled answers fold back into the engine and the screen.

``InlineHost`` implements :class:`cockpit.controllers.host.Host` without Textual: thread work
runs inline, toasts and redraw requests are recorded.
"""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from cockpit.config import DecisionConfig, load_settings
from cockpit.controllers.answers import AnswersController, answers_for, changes, describe, from_fold
from cockpit.controllers.incident import Incident
from cockpit.controllers.live import LiveController
from cockpit.decision import Engine, Reading, Verdict
from cockpit.errors import ReadonlyError
from cockpit.journal import Journal, read_journal
from cockpit.matrix import OperatorInputs
from cockpit.model import Target
from cockpit.session import Session
from screens.data import UIData
from screens.render_tree import recommend, recommendation_line, share_text, verdict_pane
from tests.ui.fakes import HOSTILE

TARGET = Target("checkout", "shop")
CFG = DecisionConfig()


@pytest.fixture(autouse=True)
def lock_dir(tmp_path, monkeypatch):
    """The host-wide lock file (no Lease without a cluster) in this test's own directory."""
    monkeypatch.setenv("COCKPIT_LOCK_DIR", str(tmp_path / "locks"))


class InlineHost:
    def __init__(self) -> None:
        self.marked: list[str] = []
        self.toasts: list[tuple[str, str]] = []
        self.errors: list[BaseException] = []
        self.woken = threading.Event()

    def mark(self, *parts: str) -> None:
        self.marked.extend(parts)

    def notify(self, message: str, *, severity: str = "information", timeout: float | None = None) -> None:
        self.toasts.append((severity, message))

    def run_in_thread(self, fn) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 — the app shows it as a modal
            self.errors.append(exc)

    def call_from_thread(self, fn, *args):
        return fn(*args)

    def incident_arrived(self) -> None:
        self.woken.set()


class Cockpit:
    """The answers controller wired as the app wires it: incident, live verdict, answers."""

    def __init__(self, tmp_path, *, readonly: bool = False) -> None:
        self.host = InlineHost()
        self.data = UIData(readonly=readonly)
        self.session = Session(backend=None, readonly=readonly, state_root=tmp_path / "state")
        self.incident = Incident(self.host, self.data, self.session)
        self.built: list[Engine] = []
        self.live = LiveController(self.host, self.data, build=lambda t: self.answers.built(t, self.build(t)))
        self.answers = AnswersController(self.host, self.data, self.incident, self.live)
        self.data.target = TARGET

    def build(self, target):
        engine = Engine()
        self.built.append(engine)
        return engine, [], ""

    def fold(self, n: int) -> None:
        """Wait for the follower to have read ``n`` records, fold them, then sync as the app does."""
        end = time.monotonic() + 10
        while len(self.data.records) < n:
            if time.monotonic() > end:
                raise AssertionError(f"{len(self.data.records)} records folded, expected {n}")
            self.incident.drain()
            time.sleep(0.02)
        self.answers.sync()

    def records(self, type: str = "operator_input") -> list[dict]:
        return [r for r in read_journal(self.session.journal_path) if r["type"] == type]

    def close(self) -> None:
        self.incident.stop()
        if self.session.lock is not None:
            self.session.lock.release()


@pytest.fixture
def cockpit(tmp_path):
    c = Cockpit(tmp_path)
    yield c
    c.close()


def judge(engine: Engine, error_rate: float = 0.0):
    now = time.time()
    return engine.tick([Reading("probe", at=now, error_rate=error_rate, p95_ms=120.0, window_s=60.0)], now)


# --------------------------------------------------------------------------- what the tree recommends


@pytest.mark.parametrize("inputs, error_rate, path, text", [
    (OperatorInputs(data_loss=True), None, "immediate", "IMMEDIATE ROLLBACK (data loss)"),
    (OperatorInputs(data_loss=False, security_breach=True), 0.01, "immediate", "IMMEDIATE ROLLBACK (security breach)"),
    (OperatorInputs(data_loss=True, security_breach=True), None, "immediate",
     "IMMEDIATE ROLLBACK (data loss, security breach)"),
    (OperatorInputs(), 0.62, "immediate", "IMMEDIATE ROLLBACK (errors 62% > 50%)"),
    (OperatorInputs(data_loss=False, security_breach=False, users_affected=0.3), 0.02, "standard",
     "STANDARD ROLLBACK (30% of users affected > 10%)"),
    (OperatorInputs(users_affected=0.3), None, "standard",
     "STANDARD ROLLBACK (30% of users affected > 10%) — not answered: data loss, security breach"),
    (OperatorInputs(data_loss=False, security_breach=False, users_affected=0.05), 0.02, "hotfix",
     "hotfix may be faster (not critical, 5% of users affected ≤ 10%)"),
    (OperatorInputs(data_loss=False, security_breach=False, users_affected=0.10), None, "hotfix",
     "hotfix may be faster (not critical, 10% of users affected ≤ 10%)"),
    (OperatorInputs(data_loss=False, security_breach=False), None, "open",
     "not critical so far (affecting more than 10% of users?) — not answered: share of users"),
])
def test_the_answers_give_the_runbook_recommendation(inputs, error_rate, path, text):
    rec = recommend(inputs, error_rate, CFG)
    assert rec is not None and rec.path == path
    assert rec.text == text
    assert recommendation_line(rec).plain == "tree: " + text


def test_nothing_answered_and_no_critical_errors_recommends_nothing():
    assert recommend(OperatorInputs(), None, CFG) is None
    assert recommend(OperatorInputs(), 0.30, CFG) is None  # the matrix judges 30 %, the tree has nothing to add
    assert recommend(OperatorInputs(user_reports=40), 0.0, CFG) is None


def test_the_thresholds_are_the_settings():
    cfg = load_settings(use_file=False, env={"COCKPIT_DECISION__TREE__USERS_AFFECTED_ABOVE": "0.5",
                                             "COCKPIT_DECISION__TREE__CRITICAL_ERROR_RATE_ABOVE": "0.2"}).decision
    assert recommend(OperatorInputs(data_loss=False, security_breach=False, users_affected=0.3), None, cfg).text == \
        "hotfix may be faster (not critical, 30% of users affected ≤ 50%)"
    assert recommend(OperatorInputs(), 0.25, cfg).text == "IMMEDIATE ROLLBACK (errors 25% > 20%)"


def test_the_verdict_pane_puts_the_recommendation_first():
    from textual.content import Content

    verdict = Content("verdict: ROLLBACK_NOW")
    pane = verdict_pane(verdict, OperatorInputs(data_loss=True), None, CFG)
    assert pane.plain.splitlines() == ["tree: IMMEDIATE ROLLBACK (data loss)", "verdict: ROLLBACK_NOW"]
    assert verdict_pane(verdict, OperatorInputs(), None, CFG) is verdict


def test_answers_are_normalised_and_only_changes_are_kept():
    current = OperatorInputs(data_loss=False, users_affected=0.3)
    assert changes(current, {"data_loss": False, "security_breach": "yes", "users_affected": "30%",
                             "user_reports": "12"}) == {"security_breach": True, "user_reports": 12}
    assert changes(current, {"data_loss": None}) == {"data_loss": None}
    with pytest.raises(ValueError, match="users affected"):
        changes(current, {"users_affected": 1.5})
    with pytest.raises(ValueError, match="user reports"):
        changes(current, {"user_reports": -1})
    with pytest.raises(ValueError, match="not a question"):
        changes(current, {"impact": "bad"})
    assert describe({"data_loss": True, "users_affected": 0.3, "user_reports": None}) == \
        "data loss: yes, users affected: 30%, user reports: not known"
    assert share_text(0.3) == "30" and share_text(0.125) == "12.5" and share_text(None) == ""


def test_journaled_values_that_do_not_fit_count_as_not_known_and_are_named():
    inputs, problems = from_fold({"data_loss": True, "users_affected": "\x1b]52;c;pwned\x07lots", "impact": "x",
                                  "user_reports": "many"})
    assert inputs == OperatorInputs(data_loss=True)
    assert len(problems) == 2 and all("\x1b" not in p and "\x07" not in p for p in problems)
    assert "users affected" in problems[0] and "not known" in problems[0]


def test_answers_belong_to_the_incident_of_the_target_on_screen():
    state = SimpleNamespace(target="shop/checkout", inputs={"data_loss": True})
    assert answers_for(state, TARGET)[0].data_loss is True
    assert answers_for(state, Target("cart", "shop"))[0] == OperatorInputs()
    assert answers_for(state, None)[0] == OperatorInputs()


# --------------------------------------------------------------------------- the controller


def test_answering_opens_the_incident_journals_each_answer_and_the_engine_judges_them(cockpit):
    c = cockpit
    c.live.sample(TARGET)  # the first metrics poll builds the engine before any answer
    engine = c.live.engine
    assert engine is c.built[0] and judge(engine).tree is None

    given = c.answers.give({"data_loss": True, "security_breach": False, "users_affected": None, "user_reports": None})
    assert given == {"data_loss": True, "security_breach": False} and not c.host.errors
    opened = c.records("incident_opened")
    assert len(opened) == 1 and opened[0]["target"] == "shop/checkout"
    assert "data loss: yes" in opened[0]["reason"]
    assert [(r["key"], r["value"]) for r in c.records()] == [("data_loss", True), ("security_breach", False)]
    assert all(r["actor"] for r in c.records())

    c.fold(4)  # incident_opened, phase, two answers
    assert c.data.state.inputs == {"data_loss": True, "security_breach": False}
    assert "tree" in c.host.marked
    d = judge(engine)
    assert d.tree == "immediate" and d.verdict is Verdict.ROLLBACK_NOW
    assert d.reasons[0].text == "operator: data loss → immediate rollback"

    # the same answers again: nothing is journaled
    c.host.marked.clear()
    assert c.answers.give({"data_loss": True, "security_breach": False, "users_affected": None}) == {}
    assert len(c.records()) == 2 and ("information", "decision tree: no answer changed") in c.host.toasts

    # the data loss was a false alarm; 30 % of users are affected: a standard rollback
    assert c.answers.give({"data_loss": False, "security_breach": False, "users_affected": 0.3}) == \
        {"data_loss": False, "users_affected": 0.3}
    c.fold(6)
    assert [(r["key"], r["value"]) for r in c.records()][2:] == [("data_loss", False), ("users_affected", 0.3)]
    assert len(c.records("incident_opened")) == 1  # the same incident
    assert judge(engine).tree == "standard"
    assert recommend(c.answers.current(), None, CFG).text == "STANDARD ROLLBACK (30% of users affected > 10%)"

    # few users: the runbook's hotfix; the matrix still judges the measured errors
    c.answers.give({"users_affected": 0.05})
    c.fold(7)
    d = judge(engine, error_rate=0.0)
    assert d.tree == "hotfix" and d.verdict is Verdict.OK
    assert judge(engine, error_rate=0.3).verdict is Verdict.ROLLBACK_NOW


def test_answers_given_before_the_engine_exists_reach_it_when_it_is_built(cockpit):
    c = cockpit
    assert c.live.engine is None
    c.answers.give({"security_breach": True})
    c.fold(3)
    c.live.sample(TARGET)  # the first metrics poll: built with the journaled answers
    assert c.live.engine.inputs.security_breach is True
    assert judge(c.live.engine).tree == "immediate"


def test_a_resumed_incident_folds_its_answers_back_into_a_new_engine(tmp_path):
    path = tmp_path / "incident.jsonl"
    j = Journal.open(path)
    j.append("incident_opened", target=str(TARGET), kind="deployment", reason="bad deploy")
    j.append("phase", phase="declare")
    j.append("operator_input", key="users_affected", value=0.4)
    j.append("operator_input", key="data_loss", value=False)
    j.append("operator_input", key="impact", value="checkout down")  # not a tree question: ignored
    j.close()
    c = Cockpit(tmp_path)
    try:
        c.live.sample(TARGET)
        c.incident.resume(path)
        c.fold(5)
        assert c.answers.current() == OperatorInputs(data_loss=False, users_affected=0.4)
        assert judge(c.live.engine).tree == "standard"
        assert c.live.engine is c.built[0]
        # and a new target on screen does not inherit them
        c.live.reset()
        c.data.target = Target("cart", "shop")
        c.answers.sync()
        c.live.sample(Target("cart", "shop"))
        assert c.live.engine.inputs == OperatorInputs()
    finally:
        c.close()


def test_an_observer_folds_the_answers_and_cannot_give_any(tmp_path):
    path = tmp_path / "incident.jsonl"
    j = Journal.open(path)
    j.append("incident_opened", target=str(TARGET), kind="deployment", reason="bad deploy")
    j.append("operator_input", key="data_loss", value=True)
    j.close()
    c = Cockpit(tmp_path, readonly=True)
    try:
        c.incident.follow(path)
        c.fold(2)
        assert c.answers.current().data_loss is True
        assert c.answers.give({"data_loss": False}) == {}
        assert c.host.toasts[-1][0] == "warning" and "readonly" in c.host.toasts[-1][1]
        with pytest.raises(ReadonlyError):
            c.answers.journal(TARGET, {"data_loss": False})
        assert [r["type"] for r in read_journal(path)] == ["incident_opened", "operator_input"]
    finally:
        c.close()


def test_bad_answers_and_other_targets_are_refused_with_one_line_and_nothing_written(cockpit, tmp_path):
    c = cockpit
    assert c.answers.give({"users_affected": 2.0}) == {}
    severity, text = c.host.toasts[-1]
    assert severity == "error" and "users affected" in text and "\n" not in text
    assert c.session.journal_path is None  # no incident was opened for a refused answer

    c.answers.give({"data_loss": True})
    c.fold(3)
    c.data.target = Target("cart", "shop")
    assert c.answers.give({"data_loss": False}) == {}
    assert "shop/checkout" in c.host.toasts[-1][1]
    assert len(c.records()) == 1

    c.data.target = None
    assert c.answers.give({"data_loss": False}) == {}
    assert "pick a target" in c.host.toasts[-1][1]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_journaled_answers_are_shown_inert(hostile):
    """A journal edited by hand: the value is named, escaped and capped; nothing is parsed as
    markup and no control character reaches the terminal."""
    from screens.render_tree import problems_line

    inputs, problems = from_fold({"users_affected": hostile, "data_loss": hostile, "user_reports": hostile})
    assert inputs.users_affected is None and inputs.user_reports is None
    line = problems_line(problems)
    assert not [ch for ch in line.plain if (ord(ch) < 32 or 0x7f <= ord(ch) < 0xa0 or 0x202a <= ord(ch) <= 0x202e
                                             or 0x2066 <= ord(ch) <= 0x2069)]
    assert len(line.plain) <= 301
    assert not line.spans or all(s.style == "$warning" for s in line.spans)
