"""Pure widget helpers (plot buckets and redraw keys) and the command palette provider."""
from __future__ import annotations

import asyncio

import pytest

from screens.widgets import bucketize, plot_key, plot_top


def test_bucketize_averages_into_columns_and_ignores_outside_points():
    pts = [(90.0, 1.0), (95.0, 3.0), (5.0, 10.0), (-1.0, 99.0), (101.0, 99.0), (50.0, None)]
    assert bucketize(pts, now=99.0, span_s=100.0, columns=10) == [10.0] + [None] * 8 + [2.0]
    assert bucketize(pts, now=100.0, span_s=100.0, columns=10) == [None] * 8 + [2.0, None]  # a new bucket opened


def test_plot_is_redrawn_once_per_bucket_not_per_tick():
    span, cols = 900.0, 30  # 30 s buckets
    pts = [(t, 0.01) for t in range(0, 900, 5)]
    key = lambda now: plot_key(bucketize(pts, now, span, cols), now, span, (40, 10), 1.0)  # noqa: E731
    assert key(900.0) == key(929.0)  # same bucket: the picture stays, the live value is in the title
    assert key(900.0) != key(930.0)  # a new bucket: one redraw
    assert plot_key([None, 1.0], 0.0, span, (40, 10), 1.0) != plot_key([None, 1.0], 0.0, span, (41, 10), 1.0)


def test_plot_top_leaves_room_above_values_and_thresholds():
    assert plot_top([None, 0.02, 0.01], [(0.05, "red")]) == pytest.approx(0.05 * 1.15)
    assert plot_top([None, 0.3], [(0.05, "red")]) == pytest.approx(0.3 * 1.15)
    assert plot_top([None, None], []) > 0


def test_palette_offers_cockpit_commands_and_hides_mutating_ones_readonly():
    from screens.commands import cockpit_commands

    class Fake:
        def run_action(self, *_a):
            return None

    names = [n for n, _h, _c in cockpit_commands(Fake(), readonly=False)]
    assert {"Cockpit: history", "Cockpit: rollback", "Cockpit: checklist", "Cockpit: theme light"} <= set(names)
    assert any("arm" in n for n in names)
    ro = [n for n, _h, _c in cockpit_commands(Fake(), readonly=True)]
    assert not any("arm" in n or "abort" in n for n in ro)


def palette_offers(app, words: str) -> bool:
    """The command palette is open and its highlighted command reads ``words``."""
    from textual.command import CommandList, CommandPalette

    screen = app.screen
    if not isinstance(screen, CommandPalette) or not screen.query(CommandList):
        return False
    option = screen.query_one(CommandList).highlighted_option
    return option is not None and words in str(option.prompt)


def palette_open(app) -> bool:
    """The command palette is composed and its input has the focus (typing goes there)."""
    from textual.command import CommandInput, CommandPalette

    screen = app.screen
    return isinstance(screen, CommandPalette) and bool(screen.query(CommandInput)) and screen.query_one(CommandInput).has_focus


def test_palette_runs_a_command_in_the_app():
    from tests.ui.fakes import StaticCockpit
    from tests.ui.test_flows import until

    async def go():
        app = StaticCockpit("dashboard")
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.screen.query("#bar"), what="the dashboard composed")
            await pilot.press("ctrl+p")
            await until(pilot, lambda: palette_open(app), what="the palette open")
            await pilot.press(*"theme light")
            await until(pilot, lambda: palette_offers(app, "theme light"), what="the theme command offered")
            await pilot.press("enter")
            await until(pilot, lambda: app.theme == "cockpit-light", what="the light theme")
            await pilot.press("ctrl+p")
            await until(pilot, lambda: palette_open(app), what="the palette open again")
            await pilot.press(*"checklist")
            await until(pilot, lambda: palette_offers(app, "checklist"), what="the checklist command offered")
            await pilot.press("enter")
            await until(pilot, lambda: app.is_screen_installed("checklist") and app.screen is app.get_screen("checklist"),
                        what="the checklist")

    asyncio.run(go())
