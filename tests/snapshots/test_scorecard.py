"""Snapshots of the drill's score card (the modal shown when a drill's incident is resolved) at
80x24 and 120x40, dark and light, over a fixed card with a frozen clock; and its pure render
(what each line says, hostile text inert). Update with
``pytest tests/snapshots/test_scorecard.py --snapshot-update``."""
from __future__ import annotations

import pytest

from cockpit import events as ev
from cockpit.drill_score import score
from screens.scorecard import ScoreCardScreen, card_text
from tests.ui.fakes import HOSTILE, StaticCockpit, freeze_tz
from tests.ui.test_flows import until
from tests.unit.test_drill_score import GOAL, MANUAL, T0, drill, journal

freeze_tz()

SIZES = [(80, 24), (120, 40)]
THEMES = ["dark", "light"]


def mixed_card():
    """A drill that went fairly well: slow to declare, a late "rollback started" message, two
    manual checks left open, nine keys."""
    recs = drill(opened=150, chosen=170, rolled=230, verified=420, resolved=440, started_msg=170 + 150,
                 manual=[m for m in MANUAL if m not in ("user_reports", "postmortem_scheduled")])
    return score(recs, GOAL, scenario="bad-image", started_at=T0, keystrokes=9)


def test_the_render_says_what_each_part_earned():
    shown = card_text(mixed_card()).plain
    assert "score 78 / 100  (78%)" in shown  # 5+10+10+10 phases, 25 revision, 13 checks, 0 comms, 5 keys
    assert "declare      2m 30s    2m 00s    5/10" in shown
    assert "identify        20s    3m 00s   10/10" in shown
    assert "verified after 7m 00s" in shown
    assert "revision  25/25  registry.example/shop/checkout:1.4.2 = the goal" in shown
    assert "13 of 15 verified, 2 not verified" in shown
    assert "0 of 1 messages on time: rollback started LATE" in shown
    assert "9 to the confirmed rollback (par 5)" in shown
    assert "rolled out after 3m 50s (goal: 5m 00s) \u2713" in shown


def test_a_wrong_revision_and_uncounted_keys():
    card = score(drill(revision=2, images=("registry.example/shop/checkout:1.4.1",)), GOAL, started_at=T0)
    shown = card_text(card, ascii=True).plain
    assert "registry.example/shop/checkout:1.4.1; the goal: registry.example/shop/checkout:1.4.2" in shown
    assert "not counted (a resumed drill, or no rollback confirmed)" in shown
    assert "\u2713" not in shown and "\u2717" not in shown  # ascii marks only


@pytest.mark.parametrize("hostile", HOSTILE[:6])
def test_hostile_text_in_the_card_is_inert(hostile):
    recs = drill(images=(hostile,)) + journal((300, ev.Log(line="x")))
    card = score(recs, GOAL, scenario=hostile, started_at=T0)
    shown = card_text(card).plain
    for bad in ("\x1b", "\x07", "\x9b", "\x9d", "\u202e", "\x00"):
        assert bad not in shown


class ScoredCockpit(StaticCockpit):
    """The static cockpit with the score card on top (as after R in a drill)."""

    def setup(self) -> None:
        super().setup()
        self.push_screen("checklist")
        self.push_screen(ScoreCardScreen(mixed_card(), ascii=self.data.ascii))


async def _settle(pilot) -> None:
    await pilot.pause(0.2)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.1)


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_score_card(snap_compare, size, theme):
    assert snap_compare(ScoredCockpit("checklist", theme=theme), terminal_size=size, run_before=_settle)


def test_score_card_ascii(snap_compare):
    assert snap_compare(ScoredCockpit("checklist", ascii=True, theme="mono"), terminal_size=(80, 24), run_before=_settle)


def test_the_card_closes_and_then_goes_on():
    import asyncio

    async def go():
        closed = []
        app = StaticCockpit("checklist")
        async with app.run_test(size=(100, 30)) as pilot:
            await _settle(pilot)
            app.push_screen(ScoreCardScreen(mixed_card()), lambda _r: closed.append(True))
            await until(pilot, lambda: isinstance(app.screen, ScoreCardScreen) and app.screen.query("#score-card"),
                        what="the card composed")
            await pilot.press("enter")
            await until(pilot, lambda: closed == [True], what="the card closed")
            assert closed == [True] and not isinstance(app.screen, ScoreCardScreen)

    asyncio.run(go())
