"""Snapshots of the decision tree's form (runbook 000) at 80x24 and 120x40, dark and light,
with the cockpit's stylesheet and themes: empty (nothing answered yet), prefilled from the
journal's answers with a journaled value that does not fit (shown inert), answered by
keyboard with the preview of the recommendation, and in ASCII mode.

The form is shown alone (over an empty screen, not the dashboard) so that these pictures
change only when the form does. Update with ``pytest tests/snapshots/test_decision_form.py
--snapshot-update``."""
from __future__ import annotations

import pytest
from textual.app import App

from cockpit.config import DecisionConfig
from cockpit.controllers.answers import from_fold
from screens.decision_form import DecisionForm
from tests.ui.fakes import HOSTILE, freeze_tz
from themes import ASCII_CSS_PATH, CSS_PATH, load_themes

freeze_tz()

SIZES = [(80, 24), (120, 40)]
THEMES = ["dark", "light"]


class FormOnly(App):
    """The form as the dashboard pushes it, with the cockpit's CSS and themes."""

    def __init__(self, journaled: dict | None = None, *, theme: str = "dark", ascii: bool = False,
                 error_rate: float | None = 0.301) -> None:
        self.CSS_PATH = [CSS_PATH, ASCII_CSS_PATH] if ascii else [CSS_PATH]  # read by App.__init__
        super().__init__()
        self.journaled, self.cockpit_theme, self.ascii, self.error_rate = journaled or {}, theme, ascii, error_rate
        self.saved: list = []

    def on_mount(self) -> None:
        for t in load_themes():
            self.register_theme(t)
        self.theme = f"cockpit-{self.cockpit_theme}"
        inputs, problems = from_fold(self.journaled)
        self.push_screen(DecisionForm(inputs, error_rate=self.error_rate, cfg=DecisionConfig(), problems=problems,
                                      ascii=self.ascii), self.saved.append)


async def _settle(pilot) -> None:
    from tests.ui.test_flows import until

    app = pilot.app  # the form is composed and focused (pushed in on_mount is not enough), then settled
    await until(pilot, lambda: isinstance(app.screen, DecisionForm) and app.screen.query("#data_loss")
                and app.focused is not None, what="the form composed")
    await pilot.pause(0.2)


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_empty_form(snap_compare, size, theme):
    assert snap_compare(FormOnly(theme=theme), terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_prefilled_from_the_journal_with_a_value_that_does_not_fit(snap_compare, size):
    journaled = {"data_loss": False, "security_breach": False, "users_affected": 0.3, "user_reports": HOSTILE[2]}
    assert snap_compare(FormOnly(journaled), terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("theme", THEMES)
def test_answered_by_keyboard_previews_the_immediate_rollback(snap_compare, theme):
    async def answer(pilot):
        await _settle(pilot)
        await pilot.press("y", "down", "n", "down", "5")
        await pilot.press("up", "up")  # back on data loss: the cursor in the share field would blink
        await pilot.pause(0.1)

    assert snap_compare(FormOnly(theme=theme), terminal_size=(80, 24), run_before=answer)


def test_ascii(snap_compare):
    journaled = {"data_loss": False, "security_breach": False, "users_affected": 0.05}
    assert snap_compare(FormOnly(journaled, theme="mono", ascii=True), terminal_size=(80, 24), run_before=_settle)
