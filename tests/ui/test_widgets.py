"""Pure widget helpers (plot grid) and the command palette provider."""
from __future__ import annotations

import asyncio

from screens.widgets import bucketize, plot_grid


def test_bucketize_averages_into_columns_and_ignores_outside_points():
    pts = [(90.0, 1.0), (95.0, 3.0), (5.0, 10.0), (-1.0, 99.0), (101.0, 99.0), (50.0, None)]
    assert bucketize(pts, now=100.0, span_s=100.0, columns=10) == [10.0] + [None] * 8 + [2.0]


def test_plot_grid_bars_in_eighths_and_threshold_rule():
    grid = plot_grid([None, 0.5, 1.0, 0.0001], top=1.0, rows=2, thresholds=[(0.75, "red")])
    rows = ["".join(ch for ch, _ in r) for r in grid]
    assert rows[1][1:] == "██▁"
    assert grid[1][0] == (" ", "")  # no data is empty, not zero
    assert grid[0][2] == ("█", "bar") and grid[1][2] == ("█", "bar")
    assert grid[0][0] == ("─", "red")  # threshold at 75 % of 2 rows → top row
    assert grid[1][3] == ("▁", "bar")  # tiny but non-zero is visible


def test_plot_grid_ascii_has_no_box_drawing():
    grid = plot_grid([0.3, 1.0], top=1.0, rows=3, thresholds=[(0.9, "red")], ascii=True)
    assert all(ord(ch) < 128 for row in grid for ch, _ in row)


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


def test_palette_runs_a_command_in_the_app():
    from tests.ui.fakes import StaticCockpit

    async def go():
        app = StaticCockpit("dashboard")
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause(0.2)
            await pilot.press("ctrl+p")
            await pilot.pause(0.2)
            await pilot.press(*"theme light")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await pilot.pause(0.3)
            assert app.theme == "cockpit-light"
            await pilot.press("ctrl+p")
            await pilot.pause(0.2)
            await pilot.press(*"checklist")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await pilot.pause(0.3)
            assert app.screen is app.get_screen("checklist")

    asyncio.run(go())
