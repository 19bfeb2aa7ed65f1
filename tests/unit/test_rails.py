"""The rails of issue 12, pure: the history's marks after a rollback (the revision rolled back
from is bad and never offered first, matched by template hash across the renumbering; the live
one's age counts from when it went live), a step titled with the revision it resolved, the
progress that may predate a rollback, the checks a resolve would leave open and the question
that names them, and the resolution journaled with them."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cockpit import history_marks as hm
from cockpit.checklist import AutoResult, open_rows
from cockpit.model import DeploymentInfo, Revision, Target
from cockpit.runbook import DEFAULT_CHECKLIST
from cockpit.session import Snapshot
from cockpit.state import replay
from screens import render

TARGET = Target("checkout", "shop")
T0 = datetime(2024, 5, 1, 6, 30, tzinfo=timezone.utc)
IMG = {1: "registry.example/shop/checkout:1.4.1", 2: "registry.example/shop/checkout:1.4.2",
       3: "registry.example/shop/checkout:1.5.0"}


def ts(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rec(seq: int, minutes: float, type: str, **data) -> dict:
    return {"seq": seq, "ts": ts(minutes), "actor": "alice@bastion", "type": type, **data}


def rollback_records(*, outcome: bool = True, name: str = "Roll back checkout to the previous revision") -> list[dict]:
    """A rollback of shop/checkout from revision 3 (h3, 1.5.0) to revision 2 (h2, 1.4.2), its
    rollout complete at 06:41 (the outcome), as the one rollback use case journals it."""
    recs = [
        rec(1, 0, "incident_opened", target="shop/checkout", reason="bad deploy"),
        rec(2, 0, "phase", phase="declare"),
        rec(3, 9, "phase", phase="execute"),
        rec(4, 9, "run_started", runbook="roll back", from_step=0, resume=False),
        rec(5, 9, "step_started", index=0, kind="kubernetes.rollback", name=name, budget=300),
        rec(6, 10, "revision_chosen", revision=2, target="shop/checkout", template_hash="h2", images=[IMG[2]],
            from_revision=3, from_images=[IMG[3]], from_template_hash="h3", why="revision 2 is the previous one", step=0),
        rec(7, 10, "intent", id="i1", action="kubernetes.rollback", step=0, template_hash="h2", to_revision=2,
            from_revision=3, images=[IMG[2]]),
    ]
    if outcome:
        recs += [rec(8, 11, "outcome", id="i1", ok=True, step=0,
                     result={"result": "rolled-back", "from_revision": 3, "to_revision": 2, "images": [IMG[2]]}),
                 rec(9, 11, "step_finished", index=0, kind="kubernetes.rollback", ok=True, status="ok", elapsed=120.0),
                 rec(10, 11, "run_finished", ok=True, status="ok"),
                 rec(11, 11, "phase", phase="verify")]
    return recs


def after_rollback() -> list[Revision]:
    """The history a Kubernetes rollback leaves: revision 2's ReplicaSet re-used as revision 4
    (created days ago), the bad revision 3 keeps its number."""
    return [Revision(1, (IMG[1],), "release 1.4.1", T0 - timedelta(days=6), "checkout-h1", "h1"),
            Revision(3, (IMG[3],), "release 1.5.0", T0 - timedelta(minutes=10), "checkout-h3", "h3"),
            Revision(4, (IMG[2],), "release 1.4.2", T0 - timedelta(days=2), "checkout-h2", "h2", live=True)]


def before_rollback() -> list[Revision]:
    return [Revision(1, (IMG[1],), "release 1.4.1", T0 - timedelta(days=6), "checkout-h1", "h1"),
            Revision(2, (IMG[2],), "release 1.4.2", T0 - timedelta(days=2), "checkout-h2", "h2"),
            Revision(3, (IMG[3],), "release 1.5.0", T0 - timedelta(minutes=10), "checkout-h3", "h3", live=True)]


def local_hhmm(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).astimezone().strftime("%H:%M")


# --------------------------------------------------------------------------- the history's marks


def test_the_revision_rolled_back_from_is_marked_by_template_hash_and_never_offered_first():
    state = replay(rollback_records())
    marks = hm.from_state(state, TARGET)
    assert marks.bad == {"h3": T0 + timedelta(minutes=11)}  # when the rollback took effect
    assert marks.live_since == {"h2": T0 + timedelta(minutes=11)}
    revs = after_rollback()
    chosen = hm.preselect(revs, marks)
    assert chosen is not None and chosen.number == 1  # not 3 (1.5.0, rolled back from), not the live 4
    assert hm.preselect(revs, hm.Marks()).number == 3  # without the journal the newest other one would be offered
    # another target's journal marks nothing
    assert hm.from_state(state, Target("cart", "shop")) == hm.Marks()


def test_a_rollback_that_did_not_take_effect_marks_nothing():
    assert hm.from_state(replay(rollback_records(outcome=False)), TARGET).bad == {}
    skipped = rollback_records()
    skipped[7]["result"] = {"result": "skipped", "to_revision": 2}
    assert hm.from_state(replay(skipped), TARGET).bad == {}


def test_the_revision_last_seen_healthy_is_offered_first_but_never_a_bad_one():
    recs = rollback_records()
    recs.append(rec(20, 12, "verdict", value="OK", target="shop/checkout", revision=1, template_hash="h1"))
    recs.append(rec(21, 12, "verdict", value="OK", target="shop/checkout", revision=3, template_hash="h3"))
    marks = hm.from_state(replay(recs), TARGET)
    assert marks.healthy == {"h1", "h3"}
    history = before_rollback() + [Revision(5, ("x:9",), "", T0, "checkout-h5", "h5")]
    history[2] = Revision(3, (IMG[3],), "", T0, "checkout-h3", "h3")  # h3 is not live here but was rolled back from
    history[-1] = Revision(5, ("x:9",), "", T0, "checkout-h5", "h5", live=True)
    assert hm.preselect(history, marks).number == 1  # healthy wins over the newer 2; h3 is bad though seen OK once
    only_live = [Revision(4, (IMG[2],), "", T0, "checkout-h2", "h2", live=True)]
    assert hm.preselect(only_live, marks) is None


def test_the_deployments_note_marks_across_sessions_and_the_journal_wins():
    note = {"by": "bob@bastion2", "at": "2024-05-01T06:41:30Z", "from_template_hash": "h3", "to_template_hash": "h2"}
    marks = hm.with_note(hm.Marks(), note)
    at = datetime(2024, 5, 1, 6, 41, 30, tzinfo=timezone.utc)
    assert marks.bad == {"h3": at} and marks.live_since == {"h2": at}
    assert hm.preselect(after_rollback(), marks).number == 1
    journal = hm.from_state(replay(rollback_records()), TARGET)
    assert hm.with_note(journal, note).bad == {"h3": T0 + timedelta(minutes=11)}
    for garbled in (None, {}, {"from_template_hash": 3, "to_template_hash": "h2"}, {"at": "yesterday"}):
        assert hm.with_note(hm.Marks(), garbled) == hm.Marks()
    assert hm.with_note(hm.Marks(), {**note, "at": "soon"}).bad == {"h3": None}  # bad, time unknown


def test_the_live_revision_counts_its_age_from_when_it_went_live():
    revs = after_rollback()
    live = revs[-1]
    marks = hm.from_state(replay(rollback_records()), TARGET)
    assert hm.live_since(live, revs, marks) == (T0 + timedelta(minutes=11), True)
    # a re-used ReplicaSet the cockpit did not roll back to: when it went live is unknown
    assert hm.live_since(live, revs, hm.Marks()) == (None, False)
    # a normal rollout: the newest ReplicaSet went live when it was created
    fresh = before_rollback()
    assert hm.live_since(fresh[-1], fresh, hm.Marks()) == (fresh[-1].created, True)


def test_history_rows_show_the_marks():
    revs = after_rollback()
    marks = hm.from_state(replay(rollback_records()), TARGET)
    now = (T0 + timedelta(minutes=14)).timestamp()
    rows = {r.number: [c.plain for c in render.revision_cells(r, now, False, marks, revs)] for r in revs}
    assert rows[3][3].startswith(f"✗ rolled back from at {local_hhmm(11)}")
    assert rows[4][1] == "3m" and rows[4][3].startswith(f"live since {local_hhmm(11)}")  # not "2d"
    assert rows[1][3] == "release 1.4.1" and rows[1][1] == "6d"
    unknown = [c.plain for c in render.revision_cells(revs[-1], now, False, hm.Marks(), revs)]
    assert unknown[1] == "?"  # a re-used ReplicaSet's creation is not when it went live
    ascii_row = [c.plain for c in render.revision_cells(revs[1], now, True, marks, revs)]
    assert ascii_row[3].startswith("x rolled back from at")


# --------------------------------------------------------------------------- the rollback screen


def test_a_step_is_titled_with_the_revision_it_resolved():
    state = replay(rollback_records(outcome=False))
    assert render.step_title(state, 0) == "Roll back checkout to revision 2"
    state = replay(rollback_records(outcome=False, name="Roll back checkout to revision 0"))
    assert render.step_title(state, 0) == "Roll back checkout to revision 2"
    state = replay(rollback_records(outcome=False, name="Undo the payment client"))
    assert render.step_title(state, 0) == "Undo the payment client (revision 2)"
    state = replay(rollback_records(outcome=False, name="Roll back checkout to revision 2"))
    assert render.step_title(state, 0) == "Roll back checkout to revision 2"
    assert "revision 0" not in render.step_lines(state, T0, False).plain
    # before the choice is journaled the title is the runbook's; a choice of an earlier run is not this one's
    first = rollback_records()
    second = [rec(30, 20, "run_started", runbook="again", from_step=0, resume=False),
              rec(31, 20, "step_started", index=0, kind="kubernetes.rollback",
                  name="Roll back checkout to the previous revision", budget=300)]
    assert render.step_title(replay(first + second), 0) == "Roll back checkout to the previous revision"


def snap(at_minutes: float, images: tuple[str, ...]) -> Snapshot:
    info = DeploymentInfo("checkout", "shop", 4, 4, 4, 4, 3, images)
    return Snapshot(TARGET, (T0 + timedelta(minutes=at_minutes)).timestamp(), info)


def test_progress_read_before_the_rollback_is_not_shown_as_its_progress():
    running = replay(rollback_records(outcome=False))  # chosen at 06:40, intent at 06:40, rollout running
    now = (T0 + timedelta(minutes=10.5)).timestamp()
    assert render.rollback_starting(running, snap(9.5, (IMG[3],)), None, now)  # read before the patch
    assert render.rollback_starting(running, snap(10.2, (IMG[3],)), None, now)  # still the old template
    assert not render.rollback_starting(running, snap(10.2, (IMG[2],)), None, now)  # the chosen template rolls out
    resolving = replay(rollback_records(outcome=False)[:5])  # run started, revision not chosen yet
    assert render.rollback_starting(resolving, snap(9.5, (IMG[3],)), None, now)
    done = replay(rollback_records())
    assert not render.rollback_starting(done, snap(9.0, (IMG[3],)), None, now)  # no rollback running
    # asked for at 06:39:30, its run not in the journal yet: nothing read before, nothing until it appears
    asked = (T0 + timedelta(minutes=9.5)).timestamp()
    previous = replay(rollback_records()[:3])
    assert render.rollback_starting(previous, snap(9.4, (IMG[3],)), asked, asked + 1)
    assert render.rollback_starting(previous, snap(9.6, (IMG[3],)), asked, asked + 1)
    assert not render.rollback_starting(previous, snap(9.6, (IMG[3],)), asked, asked + render.STARTING_GRACE_S + 1)
    started = replay(rollback_records(outcome=False))  # its run began at 06:39 < asked: an older run
    assert render.rollback_starting(started, snap(10.2, (IMG[2],)), asked + 60, asked + 61)
    text = render.progress_text(None, True).plain
    assert "starting" in text and "complete" not in text


# --------------------------------------------------------------------------- resolving with checks open


def test_open_rows_are_what_the_journal_does_not_hold_ticked_ok():
    recs = rollback_records() + [
        rec(40, 12, "check", id="rollout_complete", ok=True, who="cockpit", evidence="4/4"),
        rec(41, 12, "check", id="smoke_tests", ok=True, who="alice@bastion", evidence="ticked by hand"),
        rec(42, 12, "check", id="payments", ok=False, who="alice@bastion", evidence="ticked by hand"),
    ]
    state = replay(recs)
    auto = {"error_rate_ok": AutoResult("error_rate_ok", None, "collecting: 23 s of 60 s")}
    left = open_rows(DEFAULT_CHECKLIST, state, auto)
    ids = [r.id for r in left]
    assert "rollout_complete" not in ids and "smoke_tests" not in ids
    assert "payments" in ids and "error_rate_ok" in ids and len(ids) == len(DEFAULT_CHECKLIST) - 2
    body = render.resolve_question(left, len(DEFAULT_CHECKLIST)).plain
    assert body.startswith(f"{len(left)} of {len(DEFAULT_CHECKLIST)} checks are not verified yet:")
    titles = {r.id: r.title for r in left}
    assert titles["error_rate_ok"] in body and "collecting: 23 s of 60 s" in body
    assert f"… and {len(left) - render.RESOLVE_LISTED} more" in body
    assert "Resolving anyway is journaled" in body and all(len(line) <= 70 for line in body.split("\n"))


def test_the_resolve_question_names_hostile_text_inert_on_one_line():
    from cockpit.checklist import Row

    body = render.resolve_question([Row("x", "[bold]t[/bold]\x1b[31m", False, None, "x" * 500)], 15)
    assert "[bold]t[/bold]" in body.plain and "\x1b" not in body.plain
    assert all(len(line) <= 70 for line in body.plain.split("\n"))  # one line per check, whatever its evidence
    plain = render.resolve_question([Row(str(i), f"check {i}", False, None, "e" * 90) for i in range(12)], 15, ascii=True).plain
    assert plain.isascii() and "... and 3 more" in plain


@pytest.fixture
def lock_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("COCKPIT_LOCK_DIR", str(tmp_path / "locks"))


def test_resolving_anyway_journals_the_open_checks_and_a_check_opened_since_is_asked_again(tmp_path, lock_dir):
    from cockpit.controllers.checklist import ChecklistRunner
    from cockpit.controllers.incident import Incident
    from cockpit.journal import read_journal
    from screens.data import UIData
    from tests.unit.test_controllers import InlineHost, live_controller, session, wait_for

    host, data = InlineHost(), UIData()
    s = session(tmp_path)
    inc = Incident(host, data, s)
    runner = ChecklistRunner(host, data, inc, live_controller(host, data))
    try:
        data.target = TARGET
        runner.tick("smoke_tests", True)
        wait_for(lambda: inc.follower.waiting == 3, "the tick")
        inc.drain()
        data.checklist_items = DEFAULT_CHECKLIST
        left = tuple(i.id for i in DEFAULT_CHECKLIST if i.id != "smoke_tests")
        runner.resolve(lambda: None, open_checks=left[1:])  # told of all but one: not resolved
        assert host.toasts[-1][0] == "warning" and DEFAULT_CHECKLIST[0].title in host.toasts[-1][1]
        assert all(r["type"] != "incident_resolved" for r in read_journal(s.journal_path))
        offered = []
        runner.resolve(lambda: offered.append(True), open_checks=left)
        recs = read_journal(s.journal_path)
        assert offered == [True] and recs[-1]["type"] == "incident_resolved"
        assert recs[-1]["open_checks"] == list(left) and f"with {len(left)} checks open" in recs[-1]["summary"]
        wait_for(lambda: inc.follower.waiting >= 2, "the resolution")
        inc.drain()
        assert data.state.resolved and data.state.resolved_with_open_checks == left
    finally:
        inc.stop()
        s.close()
