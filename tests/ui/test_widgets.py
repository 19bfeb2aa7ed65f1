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
