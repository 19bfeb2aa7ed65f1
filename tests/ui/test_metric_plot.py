"""The metric pane in a real Textual app: what it draws (through textual-plotext) and what it
says when it has nothing to draw."""
from __future__ import annotations

import asyncio

from textual.app import App
from textual.containers import Horizontal

from backends.metrics.apiproxy import HOW_TO_CONFIGURE_SETTINGS
from screens.widgets import Line, MetricPlot

T = 1_700_000_000.0
WHAT = "no metrics source found for shop/checkout: no Service selects its pods and its containers declare no port"
NOTE = f"{WHAT}; {HOW_TO_CONFIGURE_SETTINGS}"


class Panes(App):
    CSS = "MetricPlot { width: 1fr; height: 1fr; }"

    def compose(self):  # noqa: ANN201
        yield MetricPlot("errors %", scale=100.0, unit="%", id="err",
                         thresholds=[(0.05, "red", "roll back"), (0.01, "green", "monitor")])


def chart_text(plot: MetricPlot) -> list[str]:
    return plot.chart.render().plain.rstrip("\n").split("\n")


def run(size: tuple[int, int], body) -> None:  # noqa: ANN001
    async def go() -> None:
        app = Panes()
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await body(pilot, app.query_one(MetricPlot))

    asyncio.run(go())


def test_with_no_data_the_pane_says_why_and_what_to_do():
    async def body(pilot, plot: MetricPlot) -> None:
        plot.show([], T, "errors % (now n/a)", note=NOTE)
        await pilot.pause()
        note = plot.query_one(".plot-note", Line)
        assert note.display and plot.chart is None
        shown = str(note.render())
        for way in ("no metrics source found", "metrics.prometheus.url", "metrics.scrape.url", "prometheus.io/scrape"):
            assert way in shown
        # points that are all "not measured" are no data either
        plot.show([(T - 5, None)], T, note=NOTE)
        await pilot.pause()
        assert note.display and plot.chart is None
        # data arrives: the chart replaces the note
        plot.show([(T - i, 0.3) for i in range(300, 0, -5)], T)
        await pilot.pause()
        assert not note.display and plot.chart is not None and plot.chart.display
        assert any(line.rstrip().endswith("5% roll back") for line in chart_text(plot))

    run((60, 12), body)


def test_without_a_note_the_pane_says_no_data_yet():
    async def body(pilot, plot: MetricPlot) -> None:
        plot.show([], T, "errors %")
        await pilot.pause()
        assert str(plot.query_one(".plot-note", Line).render()) == "no data yet"

    run((40, 8), body)


def test_a_two_minute_session_is_drawn_over_two_minutes():
    async def body(pilot, plot: MetricPlot) -> None:
        plot.show([(T - i, 0.002 if i > 30 else 0.3) for i in range(110, 0, -2)], T)
        await pilot.pause()
        bottom = chart_text(plot)[-1]
        assert plot.geometry.span_s == 120
        assert "now" in bottom and "-2m" in bottom and "-15m" not in bottom

    run((60, 12), body)


def test_every_y_label_and_the_threshold_label_in_an_80x24_pane():
    """The narrow dashboard's pane: 30 columns, 7 rows (a title and six chart rows)."""
    async def body(pilot, plot: MetricPlot) -> None:
        plot.show([(T - i, 0.30 if i < 600 else 0.002) for i in range(900, 0, -5)], T)
        await pilot.pause()
        lines = chart_text(plot)
        g = plot.geometry
        assert len(lines) == 6 and g.rows == 5
        assert [line[:g.label_width].strip() for line in lines[:5]] == ["40", "30", "20", "10", "0"]
        assert lines[-1].split() == ["-15m", "-10m", "-5m", "now"]
        assert "5% roll back" in lines[4]

    run((30, 7), body)


class TwoPanes(App):
    """The dashboard's two panes side by side (#plots)."""

    CSS = "Horizontal { height: 1fr; } MetricPlot { width: 1fr; height: 1fr; }"

    def compose(self):  # noqa: ANN201
        with Horizontal():
            yield MetricPlot("errors %", scale=100.0, unit="%", id="err")
            yield MetricPlot("p95 ms", unit="ms", id="p95")


def test_no_source_the_two_panes_say_so_and_name_the_three_ways_whole_at_80x24_and_120x40():
    """What is wrong in one pane, the three ways in the other: each whole, not cut, in the
    panes of an 80x24 terminal (30x7) and of a 120x40 one (48x8)."""
    async def go(size: tuple[int, int]) -> None:
        app = TwoPanes()
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            err, p95 = app.query_one("#err", MetricPlot), app.query_one("#p95", MetricPlot)
            what, _, how = NOTE.partition("; ")
            err.show([], T, "errors % (now n/a)", note=what)
            p95.show([], T, "p95 ms (now n/a)", note=how)
            await pilot.pause()
            for pane, text in ((err, what), (p95, how)):
                note = pane.query_one(".plot-note", Line)
                box = note.content_size
                lines = note.render().wrap(box.width)
                assert len(lines) <= box.height, (size, box, [str(x) for x in lines])
                assert " ".join(str(x).strip() for x in lines) == text
            for way in ("metrics.prometheus.url", "metrics.scrape.url", "prometheus.io/scrape"):
                assert way in how

    for size in ((60, 7), (96, 8)):
        asyncio.run(go(size))
