"""Snapshots of every screen at 80x24 and 120x40, dark and light, over fixed data with a
frozen clock (tests/ui/fakes.py). Update with ``pytest tests/snapshots --snapshot-update``."""
from __future__ import annotations

import pytest

from tests.ui.fakes import StaticCockpit, freeze_tz
from tests.ui.test_flows import until

freeze_tz()

SIZES = [(80, 24), (120, 40)]
THEMES = ["dark", "light"]


async def _settle(pilot) -> None:
    await pilot.pause(0.2)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.1)


async def composed(pilot, screen: str, selector: str) -> None:
    """The modal ``screen`` (class name) is on top and composed (pushed is not enough), then settled."""
    app = pilot.app
    await until(pilot, lambda: type(app.screen).__name__ == screen and app.screen.query(selector),
                what=f"{screen} composed")
    await pilot.pause(0.2)


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", ["dashboard", "history", "rollback", "checklist", "comms", "data"])
def test_screen(snap_compare, screen, size, theme):
    assert snap_compare(StaticCockpit(screen, theme=theme), terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_confirm_modal(snap_compare, size, theme):
    async def open_confirm(pilot):
        await _settle(pilot)
        await pilot.press("enter")  # the cursor starts on revision 2, the newest non-live one
        await composed(pilot, "ConfirmRollback", "#confirm-body")

    assert snap_compare(StaticCockpit("history", theme=theme), terminal_size=size, run_before=open_confirm)


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_readonly_observer(snap_compare, size, theme):
    assert snap_compare(StaticCockpit("rollback", readonly=True, theme=theme), terminal_size=size, run_before=_settle)


def test_ascii_dashboard(snap_compare):
    assert snap_compare(StaticCockpit("dashboard", ascii=True, theme="mono"), terminal_size=(80, 24), run_before=_settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", ["comms", "data"])
def test_readonly_comms_and_data(snap_compare, screen, size):
    """Readonly: no send, skip, edit, report or invalidate key anywhere."""
    assert snap_compare(StaticCockpit(screen, readonly=True), terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_invalidate_confirm(snap_compare, size):
    """The one confirmation names host, database, pattern and the dry run's count."""
    async def open_confirm(pilot):
        await _settle(pilot)
        pilot.app.screen.query_one("#pattern").value = "moshimoshi:*"
        await pilot.press("i")
        await composed(pilot, "ConfirmInvalidate", "#invalidate-body")

    assert snap_compare(StaticCockpit("data"), terminal_size=size, run_before=open_confirm)


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_resolve_question(snap_compare, size, theme):
    """R with checks open asks first: how many, which (titles and where each stands)."""
    async def ask(pilot):
        await _settle(pilot)
        await pilot.press("R")
        await composed(pilot, "Question", "#question-body")

    assert snap_compare(StaticCockpit("checklist", theme=theme), terminal_size=size, run_before=ask)
