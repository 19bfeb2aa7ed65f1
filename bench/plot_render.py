"""What one redraw of a dashboard plot costs: ``MetricPlot.show`` for a new time bucket (the
replot) plus the chart's ``render`` (plotext's build, what each paint runs), at the pane sizes
of an 80x24 and a 120x40 terminal, over 15 minutes of points (one every 5 s, the bad release
10 minutes ago) and over the first 2 minutes of a session.

    python bench/plot_render.py [rounds]     (default 200)

Headless (``App.run_test``); prints medians in ms; asserts nothing.

Measured on the 2-core dev box (medians, ms, show + render), before the readable charts
(fixed 15-minute axis, plotext's own ticks, solid threshold rules) and after (x spanning the
data, explicit ticks, labelled dashed thresholds):

    pane           15 min before/after    2 min before/after
    80x24 (30x7)      1.20 / 1.45           0.76 / 1.19
    120x40 (48x8)     1.69 / 1.96           0.96 / 1.63
    wide (90x14)      3.11 / 3.98           1.77 / 3.13

A young session costs more because its data now fills the plot instead of its right edge.
A redraw happens once per time bucket (every span/columns seconds), not per tick.
"""
from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from textual.app import App  # noqa: E402

from screens.widgets import MetricPlot  # noqa: E402

T = 1_700_000_000.0
SIZES = {"80x24 pane": (30, 7), "120x40 pane": (48, 8), "wide pane": (90, 14)}


def series(seconds: int) -> list[tuple[float, float | None]]:
    return [(T - i, 0.30 if i < 600 else 0.002) for i in range(seconds, 0, -5)]


class Bench(App):
    CSS = "MetricPlot { width: 1fr; height: 1fr; }"

    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.plot_size = size

    def compose(self):  # noqa: ANN201
        yield MetricPlot("errors %", scale=100.0, unit="%", id="p",
                         thresholds=[(0.05, "red", "roll back"), (0.01, "green", "monitor")])


async def measure(size: tuple[int, int], points: list, rounds: int) -> tuple[float, float]:
    from textual_plotext import PlotextPlot

    app = Bench(size)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        plot = app.query_one(MetricPlot)
        plot.show(points, T, "errors %")
        await pilot.pause()
        chart = plot.query_one(PlotextPlot)
        shows, renders = [], []
        for i in range(rounds):
            off = 60.0 * (i + 1)  # a new bucket each round: a real redraw, not a no-op
            moved = [(t + off, v) for t, v in points]
            t0 = time.perf_counter()
            plot.show(moved, T + off, "errors %")
            t1 = time.perf_counter()
            chart.render()
            t2 = time.perf_counter()
            shows.append(t1 - t0)
            renders.append(t2 - t1)
    return statistics.median(shows) * 1000, statistics.median(renders) * 1000


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(f"{'pane':<12} {'data':<8} {'show (replot) ms':>17} {'render (build) ms':>18} {'total ms':>9}")
    for label, size in SIZES.items():
        for name, pts in (("15 min", series(900)), ("2 min", series(120))):
            show, render = asyncio.run(measure(size, pts, rounds))
            print(f"{label:<12} {name:<8} {show:>17.2f} {render:>18.2f} {show + render:>9.2f}")


if __name__ == "__main__":
    main()
