"""The drill's score card from golden-ish journals built with cockpit.events: phases against
the runbooks' budgets, the goal's revision by images (never by number), checks verified vs
not, comms on time, keys to the confirmed rollback; the card journaled as ``drill_scored``
and read back; the scenario goals read from the scenario files."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cockpit import events as ev
from cockpit.drill_score import (
    Goal, builtin_goals, infer_scenario, journaled_score, keys_before, load_goal, score, summarize,
)
from cockpit.journal import Journal, read_journal
from cockpit.runbook import DEFAULT_CHECKLIST
from cockpit.state import replay

T0 = datetime(2024, 5, 1, 6, 30, tzinfo=timezone.utc)
GOOD = "registry.example/shop/checkout:1.4.2"
BAD = "registry.example/shop/checkout:1.5.0"
OLD = "registry.example/shop/checkout:1.4.1"
GOAL = Goal("bad-image", namespace="shop", deployment="checkout", to_revision=2, to_image=GOOD, within_seconds=300)
AUTO = [c.id for c in DEFAULT_CHECKLIST if c.auto]
MANUAL = [c.id for c in DEFAULT_CHECKLIST if not c.auto]


def at(sec: float) -> datetime:
    return T0 + timedelta(seconds=sec)


def journal(*items: tuple[float, ev.Event]) -> list[dict]:
    """Records as the journal writes them (envelope + the event's fields)."""
    out = []
    for i, (sec, e) in enumerate(items):
        ts = at(sec).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        out.append({"seq": i + 1, "ts": ts, "actor": "ann@bastion", "type": e.type, "v": e.version, **e.to_record()})
    return out


def drill(*, opened=40.0, chosen=45.0, rolled=80.0, verified=160.0, resolved=200.0, revision=2, images=(GOOD,),
          started_msg: float | None = 50.0, manual=(), rolled_back=True) -> list[dict]:
    """A bad-image drill: declared at ``opened``, revision chosen and rollback started at
    ``chosen``, rolled out at ``rolled`` (verify), every auto check proven and ``monitor`` at
    ``verified`` (None: never), resolved at ``resolved``."""
    items: list[tuple[float, ev.Event]] = [
        (opened, ev.IncidentOpened(target="shop/checkout", reason="drill", who="ann", drill=True, source="tui")),
        (opened, ev.Phase("declare")),
        (chosen, ev.Phase("execute")),
        (chosen, ev.RevisionChosen(revision=revision, target="shop/checkout", images=tuple(images), from_revision=3,
                                   from_images=(BAD,), template_hash="669c96c7cd", why="the operator's choice")),
        (chosen + 1, ev.Intent(id="a1", action="kubernetes.rollback", step=0)),
    ]
    if rolled_back:
        items.append((chosen + 2, ev.Outcome(id="a1", ok=True, step=0,
                                             result={"from_revision": 3, "to_revision": 4, "images": list(images)})))
        items.append((rolled, ev.Phase("verify")))
    if started_msg is not None:
        items.append((started_msg, ev.Notification(channel="outbox", ok=True, purpose="started", item="started",
                                                   title="ROLLBACK INITIATED", text="*Rollback initiated*")))
    if verified is not None:
        items += [(verified - 10, ev.Check(id=i, ok=True, who="cockpit", evidence="proven")) for i in AUTO]
        items.append((verified, ev.Phase("monitor")))
    items += [(verified or rolled, ev.Check(id=i, ok=True, who="ann@bastion", evidence="ticked by hand")) for i in manual]
    items += [(resolved, ev.Phase("resolved")), (resolved, ev.IncidentResolved(summary="resolved from the cockpit"))]
    items.sort(key=lambda x: x[0])
    return journal(*items)


def test_a_clean_drill_scores_everything():
    card = score(drill(manual=MANUAL), GOAL, started_at=T0, keystrokes=3)
    assert [(p.name, p.seconds, p.budget_s, p.points) for p in card.phases] == [
        ("declare", 40.0, 120.0, 10), ("identify", 5.0, 180.0, 10), ("execute", 35.0, 300.0, 10), ("verify", 80.0, 300.0, 10)]
    assert card.total_s == 160.0 and card.rolled_back_s == 80.0 and card.goal_within_s == 300.0
    assert card.revision_ok is True and card.chosen_images == (GOOD,) and card.revision_points == 25
    assert (card.checks_verified, card.checks_failed, card.checks_skipped, card.checks_points) == (15, 0, 0, 15)
    assert [(f.key, f.status) for f in card.comms] == [("started", "on_time")] and card.comms_points == 10
    assert card.keystrokes == 3 and card.keys_points == 10
    assert (card.points, card.max_points) == (100, 100)


def test_phases_over_budget_earn_half_then_nothing_and_a_drill_never_verified_has_no_total():
    card = score(drill(opened=200, chosen=600, rolled=700, verified=None, resolved=800), GOAL, started_at=T0)
    got = {p.name: (p.seconds, p.points, p.within_budget) for p in card.phases}
    assert got["declare"] == (200.0, 5, False)       # over 2 min, within 4
    assert got["identify"] == (400.0, 0, False)      # over twice its 3 min
    assert got["execute"] == (100.0, 10, True)
    assert got["verify"] == (None, 0, False)         # never verified
    assert card.total_s is None
    # no keys counted: the keys' points leave the maximum instead of counting as zero
    assert card.keystrokes is None and card.keys_points is None and card.max_points == 90


def test_the_goal_is_checked_by_images_never_by_number():
    # the number the operator chose is the goal's, but at that moment revision 2 was another image
    wrong = score(drill(revision=2, images=(OLD,)), GOAL, started_at=T0)
    assert wrong.revision_ok is False and wrong.revision_points == 0 and wrong.chosen_revision == 2
    # the history was renumbered (a second drill on the same world): revision 4 is the goal's image
    right = score(drill(revision=4, images=(GOOD,)), GOAL, started_at=T0)
    assert right.revision_ok is True and right.revision_points == 25
    # no rollback took effect: not the goal's
    failed = score(drill(rolled_back=False, verified=None), GOAL, started_at=T0)
    assert failed.revision_ok is False and failed.phases[2].seconds is None
    # a scenario that names no revision: not scored, and left out of the maximum
    free = score(drill(), Goal("custom", namespace="shop", deployment="checkout"), started_at=T0)
    assert free.revision_ok is None and free.revision_points is None and free.max_points == 40 + 15 + 10


def test_checks_verified_failed_and_not_verified():
    recs = drill(manual=["smoke_tests"])
    recs += journal((195, ev.Check(id="payments", ok=False, who="ann@bastion", note="card payments 502")))
    card = score(recs, GOAL, started_at=T0)
    assert (card.checks_verified, card.checks_failed, card.checks_skipped) == (8, 1, 6)
    assert card.checks_total == 15 and card.checks_points == 8  # 15 x 8/15


def test_comms_late_and_missed():
    late = score(drill(started_msg=45 + 121, verified=250), GOAL, started_at=T0)  # 2 min 1 s after the rollback started
    assert [(f.key, f.status) for f in late.comms] == [("started", "late")] and late.comms_points == 0
    never = score(drill(started_msg=None), GOAL, started_at=T0)
    assert [(f.key, f.status) for f in never.comms] == [("started", "missed")] and never.comms_points == 0
    # a long drill: escalation 1 fell due at 5 min after declaring and nobody sent it
    slow = score(drill(started_msg=None, chosen=100, rolled=200, verified=500, resolved=520), GOAL, started_at=T0)
    assert [(f.key, f.status) for f in slow.comms] == [("started", "missed"), ("escalation:1", "missed"),
                                                       ("update", "missed")]


def test_keys_count_until_the_revision_was_chosen_and_a_resumed_drill_counts_none():
    recs = drill()
    state = replay(recs)
    keys = [at(10), at(20), at(44.5), at(45), at(46), at(90)]  # the last two: after the confirm
    assert keys_before(keys, state) == 4
    assert keys_before(keys, replay(recs[:2])) is None  # no revision chosen yet
    # a first frame after the incident opened is another session's (a resumed drill): the
    # opening is the start and the keys are not this drill's
    resumed = score(recs, GOAL, started_at=at(100), keystrokes=2)
    assert resumed.started_at == at(40) and resumed.keystrokes is None and resumed.phases[0].seconds == 0.0
    assert score(recs, GOAL, started_at=T0, keystrokes=9).keys_points == 5
    assert score(recs, GOAL, started_at=T0, keystrokes=16).keys_points == 0


def test_the_card_is_journaled_and_read_back(tmp_path):
    path = tmp_path / "drill.jsonl"
    recs = drill(manual=MANUAL)
    card = score(recs, GOAL, scenario="bad-image", started_at=T0, keystrokes=3)
    with Journal.open(path) as j:
        for r in recs:
            j.append(r["type"], **{k: v for k, v in r.items() if k not in ("seq", "ts", "actor", "type", "v")})
        j.write(card.to_event())
    back = read_journal(path)
    assert back[-1]["type"] == "drill_scored" and back[-1]["keystrokes"] == 3 and back[-1]["points"] == 100
    scored = journaled_score(replay(back))
    assert isinstance(scored, ev.DrillScored) and scored.scenario == "bad-image" and scored.revision_ok is True
    assert scored.phases[0]["name"] == "declare" and scored.phases[0]["seconds"] == 40.0
    # the listing uses the journaled card (with its keys), not a new score
    s = summarize(str(path), back)
    assert (s.status, s.scenario, s.keystrokes, s.points, s.max_points) == ("scored", "bad-image", 3, 100, 100)
    assert s.phases == {"declare": 40.0, "identify": 5.0, "execute": 35.0, "verify": 80.0}
    assert s.checks == "15/15" and s.comms == "1/1"


def test_a_drill_without_a_card_is_scored_from_its_journal_and_its_scenario_inferred():
    open_ = drill(verified=None, resolved=300)[:-2]  # never resolved
    s = summarize("x.jsonl", open_)
    assert s.status == "open" and s.scenario == "bad-image" and s.keystrokes is None
    assert s.revision_ok is True and s.max_points == 90 and s.checks == "0/15 (15 skipped)"
    abandoned = open_ + journal((400, ev.IncidentClosed(reason="drill abandoned: its cockpit stopped")))
    assert summarize("x.jsonl", abandoned).status == "abandoned"


def test_goals_come_from_the_scenario_files():
    goal = load_goal("bad-image")
    assert goal is not None and goal.target == "shop/checkout" and goal.to_image == GOOD and goal.within_seconds == 300
    assert load_goal("no-such-scenario") is None
    goals = {g.scenario: g for g in builtin_goals()}
    assert {"bad-image", "crashloop", "slow-release", "healthy"} <= set(goals)
    assert all(g.target for g in goals.values() if g.action == "rollback")
    assert infer_scenario("shop/checkout") == "bad-image"
    assert infer_scenario("nowhere/nothing") == "" and infer_scenario(None) == ""


def test_a_goal_file_path_and_a_duration_written_as_text(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("name: mine\ngoal: {namespace: ops, deployment: api, to_image: 'api:2', within_seconds: 7m}\n")
    goal = load_goal(str(f))
    assert goal == Goal("mine", namespace="ops", deployment="api", to_image="api:2", within_seconds=420.0)


@pytest.mark.parametrize("hostile", ["\x1b]52;c;cGF5bG9hZA==\x07evil", "[bold]x[/bold]\u202e"])
def test_outside_text_in_a_journaled_card_is_made_inert(hostile):
    recs = drill() + journal((300, ev.DrillScored(scenario=hostile, target=hostile, points=1, max_points=2)))
    s = summarize("x.jsonl", recs)
    assert "\x1b" not in s.scenario and "\u202e" not in s.target and s.points == 1
