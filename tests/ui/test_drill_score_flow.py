"""Pilot tests of a drill against the real embedded world: the comms panel rehearses on the
local outbox (the "rollback started" message offered once the rollback starts, sent with
``s``, shown on the comms screen, journaled with its text, ticking "Communication sent"), and
the score card: the keys from the first frame to the confirmed rollback (h, enter, y), the
card journaled as ``drill_scored`` and shown, then the app goes on.

The app is built as ``cockpit --drill`` builds it (cockpit/app.py, cockpit/compose.py)."""
from __future__ import annotations

import asyncio

import pytest

from backends.notify.outbox import outbox_messages
from cockpit.comms import OUTBOX
from cockpit.drill_score import journaled_score
from cockpit.journal import read_journal
from cockpit.state import replay
from screens.scorecard import DrillScoreHost, ScoreCardScreen
from tests.ui.fakes import args
from tests.ui.test_comms import screen_text
from tests.ui.test_flows import TARGET, confirm_shown, history_placed, settings, state_home, until, world  # noqa: F401 — fixtures

pytestmark = pytest.mark.slow


def wired(world):
    """The drill app as ``cockpit --drill`` builds it (the outbox and the score card wired in)."""
    from cockpit.app import CockpitApp

    assert issubclass(CockpitApp, DrillScoreHost)
    return CockpitApp(args(drill=True, scenario="bad-image"), settings=settings(), world_factory=lambda *a, **k: world)


async def roll_back(app, pilot) -> None:
    """h, enter, y from the drill's dashboard, then wait for the rollback to finish."""
    await until(pilot, lambda: app.data.snapshot is not None and app.data.target == TARGET)
    await pilot.press("h")
    await until(pilot, lambda: app.data.history_for == TARGET and history_placed(app), what="the history on screen")
    await pilot.press("enter")
    await confirm_shown(pilot, app)
    await pilot.press("y")
    await until(pilot, lambda: app.data.state.run_status == "ok", timeout=30)


def test_the_outbox_rehearses_the_rollback_started_message(world, state_home):  # noqa: F811
    async def go():
        app = wired(world)
        async with app.run_test(size=(120, 40)) as pilot:
            await roll_back(app, pilot)
            await pilot.press("t")
            await until(pilot, lambda: app.is_screen_installed("comms") and app.screen is app.get_screen("comms")
                        and app.data.comms_channels == [OUTBOX])
            await until(pilot, lambda: all(x in screen_text(app) for x in (
                "channels: outbox", "nothing is sent", "announce        the rollback", "rollback started",
                "the outbox is empty")), what="the outbox panel on screen")
            shown = screen_text(app)
            assert "channels: outbox" in shown and "nothing is sent" in shown
            assert "announce        the rollback" in shown and "rollback started" in shown  # offered once it started
            assert "the outbox is empty" in shown
            await pilot.press("s")  # the next item: the rollback-started message
            await until(pilot, lambda: any(r.get("channel") == OUTBOX for r in app.data.records))
            await until(pilot, lambda: "ROLLBACK INITIATED: shop/checkout" in screen_text(app)
                        and "*Rollback initiated*" in screen_text(app), what="the posted message on screen")
            shown = screen_text(app)
            assert "ROLLBACK INITIATED: shop/checkout" in shown and "*Rollback initiated*" in shown
            assert "&gt;" not in shown and "&lt;" not in shown  # shown as Slack would display it
            posted = outbox_messages(app.data.records)
            assert posted[0]["purpose"] == "started" and posted[0]["ok"] is True and posted[0]["text"]
            # a message posted in a drill ticks "Communication sent", as a Slack delivery would
            await until(pilot, lambda: "communication_sent" in app.data.state.checks, timeout=20)
            assert "drill outbox" in str(app.data.state.checks["communication_sent"].evidence)
            path = app.session.journal_path
        recs = read_journal(path)
        assert [r["purpose"] for r in outbox_messages(recs)] == ["started"]

    asyncio.run(go())


def test_the_score_card_counts_the_keys_and_is_journaled(world, state_home):  # noqa: F811
    async def go():
        app = wired(world)
        went_on = []
        async with app.run_test(size=(120, 40)) as pilot:
            await roll_back(app, pilot)  # h, enter, y
            await pilot.press("c")  # after the confirm: not counted
            session = app.session
            session.record("phase", phase="resolved")
            session.record("incident_resolved", summary="resolved in the drill")
            app.drill.score(lambda: went_on.append(True))
            await until(pilot, lambda: isinstance(app.screen, ScoreCardScreen)
                        and "3 to the confirmed rollback" in screen_text(app), what="the score card on screen")
            card = app.screen.card
            assert card.keystrokes == 3 and card.keys_points == 10 and card.scenario == "bad-image"
            assert card.revision_ok is True and card.chosen_images == ("registry.example/shop/checkout:1.4.2",)
            assert "score " in screen_text(app) and "3 to the confirmed rollback" in screen_text(app)
            await pilot.press("enter")
            await until(pilot, lambda: went_on == [True])
            path = session.journal_path
        scored = journaled_score(replay(read_journal(path)))
        assert scored is not None and scored.keystrokes == 3 and scored.scenario == "bad-image"
        assert scored.revision_ok is True and scored.points == card.points

    asyncio.run(go())
