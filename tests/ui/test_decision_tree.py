"""Pilot: the decision tree answered from the dashboard (runbook 000), keyboard only, against
the embedded bad-image world — the answers are journaled as ``operator_input`` in the incident
they open, the recommendation on the dashboard changes as the runbook says, the live engine
judges them, and a readonly observer following the journal shows the same recommendation and
cannot answer."""
from __future__ import annotations

import asyncio

import pytest

from cockpit.journal import read_journal
from cockpit.model import Target
from tests.ui.fakes import args
from tests.ui.test_flows import settings as flow_settings
from tests.ui.test_flows import state_home, until, world  # noqa: F401 — fixtures

pytestmark = pytest.mark.slow
TARGET = Target("checkout", "shop")


def settings():
    return flow_settings(COCKPIT_WATCH__INTERVAL_S="1")


def verdict_text(app) -> str:
    return app.get_screen("dashboard").query_one("#verdict").content.plain


def form_shown(app) -> bool:
    """The decision form is composed and focused on its first question (pushed is not enough)."""
    from screens.decision_form import DecisionForm

    return (isinstance(app.screen, DecisionForm) and bool(app.screen.query("#data_loss"))
            and app.focused is not None and app.focused.screen is app.screen)


def answers_journaled(app) -> list[tuple[str, object]]:
    path = app.session.journal_path
    if path is None or not path.exists():
        return []
    return [(r["key"], r["value"]) for r in read_journal(path) if r["type"] == "operator_input"]


def test_the_tree_answered_by_keyboard_changes_the_recommendation_and_is_journaled(world, state_home, tmp_path):
    from cockpit.app import CockpitApp
    from screens.decision_form import DecisionForm, YesNo

    async def go():
        app = CockpitApp(args(drill=True, scenario="bad-image"), settings=settings(), world_factory=lambda *a, **k: world)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.data.snapshot is not None and app.data.target == TARGET, what="the drill's target")
            assert app.session.journal_path is None  # browsing: no incident yet
            assert "tree:" not in verdict_text(app)

            await pilot.press("i")
            await until(pilot, lambda: form_shown(app), what="the form")
            form = app.screen
            assert form.answers() == {"data_loss": None, "security_breach": None, "users_affected": None,
                                      "user_reports": None}
            assert app.focused is form.query_one("#data_loss")
            # data loss: yes; ↓ security breach: no; ↓ share of users: 5 %; enter saves
            await pilot.press("y", "down", "n", "down", "5", "enter")
            await until(pilot, lambda: not isinstance(app.screen, DecisionForm), what="the form closed")
            await until(pilot, lambda: len(answers_journaled(app)) == 3, what="three answers journaled")
            assert answers_journaled(app) == [("data_loss", True), ("security_breach", False), ("users_affected", 0.05)]
            opened = [r for r in read_journal(app.session.journal_path) if r["type"] == "incident_opened"]
            assert len(opened) == 1 and opened[0]["target"] == "shop/checkout"  # answering opened the incident
            await until(pilot, lambda: "tree: IMMEDIATE ROLLBACK (data loss)" in verdict_text(app),
                        what="the immediate rollback on the dashboard")
            # the live engine judges the answers too (its tree path, on the next check)
            await until(pilot, lambda: getattr(app.data.decision, "tree", None) == "immediate", timeout=30,
                        what="the engine's immediate path")
            assert app.data.decision.reasons[0].text == "operator: data loss → immediate rollback"

            # the form opens with the journaled answers (once the follower has folded them); data loss was a false alarm
            await until(pilot, lambda: app.data.state.inputs.get("users_affected") == 0.05, what="the answers folded")
            await pilot.press("i")
            await until(pilot, lambda: form_shown(app), what="the form again")
            form = app.screen
            assert form.query_one("#data_loss", YesNo).value is True
            assert form.query_one("#users_affected").value == "5"
            await pilot.press("n", "enter")
            await until(pilot, lambda: len(answers_journaled(app)) == 4, what="the changed answer journaled")
            assert answers_journaled(app)[3] == ("data_loss", False)  # only what changed
            await until(pilot, lambda: "tree: hotfix may be faster (not critical, 5% of users affected ≤ 10%)"
                        in verdict_text(app), what="the hotfix advice")

            # 30 % of users: a standard rollback (shift+tab back to the share, from the reports field)
            await pilot.press("i")
            await until(pilot, lambda: form_shown(app), what="the form a third time")
            await pilot.press("tab", "tab", "tab", "shift+tab", "ctrl+u", "3", "0")
            assert app.focused is app.screen.query_one("#users_affected")
            await pilot.press("enter")
            await until(pilot, lambda: "tree: STANDARD ROLLBACK (30% of users affected > 10%)" in verdict_text(app),
                        what="the standard rollback")
            assert answers_journaled(app)[4:] == [("users_affected", 0.3)]
            await until(pilot, lambda: getattr(app.data.decision, "tree", None) == "standard", timeout=30,
                        what="the engine's standard path")

            # esc cancels: nothing journaled
            await pilot.press("i")
            await until(pilot, lambda: form_shown(app), what="the form to cancel")
            await pilot.press("y", "escape")
            await until(pilot, lambda: not isinstance(app.screen, DecisionForm), what="the form cancelled")
            await pilot.pause(0.5)
            assert len(answers_journaled(app)) == 5
            assert "STANDARD ROLLBACK" in verdict_text(app)
            return app.session.journal_path

    journal = asyncio.run(go())

    async def observe():
        kubeconfig = world.write_kubeconfig(tmp_path / "kc")
        app = CockpitApp(args(readonly=True, follow=journal, kubeconfig=str(kubeconfig)), settings=settings())
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.data.state.target == "shop/checkout" and app.data.target == TARGET,
                        what="the observer's incident")
            await until(pilot, lambda: "tree: STANDARD ROLLBACK (30% of users affected > 10%)" in verdict_text(app),
                        what="the observer's recommendation")
            assert app.get_screen("dashboard").check_action("answer_tree", ()) is False  # no key in readonly
            await pilot.press("i")
            await pilot.pause(0.3)
            assert not isinstance(app.screen, DecisionForm)
        assert len([r for r in read_journal(journal) if r["type"] == "operator_input"]) == 5

    asyncio.run(observe())
