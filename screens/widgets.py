"""Widgets shared by the screens: a metric plot (plotext) redrawn once per time bucket, and a
keyed table that updates cells in place."""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from textual.content import Content
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import DataTable, Static


def bucketize(points: Sequence[tuple[float, float | None]], now: float, span_s: float, columns: int) -> list[float | None]:
    """Average the points into ``columns`` time buckets (None: no data), the last one holding
    ``now``. Buckets are aligned to multiples of their width, so a finished bucket never changes
    as time moves on."""
    columns = max(1, columns)
    width = span_s / columns
    sums = [0.0] * columns
    counts = [0] * columns
    start = (math.floor(now / width) + 1) * width - span_s
    for at, v in points:
        if v is None or at < start or at > now:
            continue
        i = min(columns - 1, max(0, int((at - start) / width)))
        sums[i] += v
        counts[i] += 1
    return [sums[i] / counts[i] if counts[i] else None for i in range(columns)]


def plot_key(values: Sequence[float | None], now: float, span_s: float, size: tuple[int, int], top: float) -> tuple:
    """When a plot must be redrawn: a new time bucket, another size, or another scale.

    Pure. Within one bucket the picture stays as it is (the live value is in the title row),
    so an idle dashboard redraws each plot once per bucket (~22 s at 120 columns), never
    each tick: a full plotext replot of two plots every second writes ~36x what htop does."""
    columns = max(1, len(values))
    return (int(now // (span_s / columns)), size, round(top, 6))


def plot_top(values: Sequence[float | None], thresholds: Sequence[tuple[float, str]]) -> float:
    """The y-axis top: the largest value or threshold, with head-room, never zero."""
    return max([v for v in values if v is not None] + [t for t, _ in thresholds] + [1e-9]) * 1.15


class MetricPlot(Widget):
    """A time-series pane (last 15 minutes, threshold lines) drawn with plotext via
    textual-plotext, under a one-row title that carries the live value.

    The chart is mounted on the first data (importing plotext costs ~50 ms: not on the path to
    the first frame) and rebuilt only when :func:`plot_key` changes. In ASCII mode it draws
    with ``*`` markers and no axis lines."""

    DEFAULT_CSS = """
    MetricPlot { height: 1fr; min-height: 5; layout: vertical; }
    MetricPlot > .plot-title { height: 1; text-style: bold; content-align: center top; }
    MetricPlot > .plot-chart { height: 1fr; }
    """

    def __init__(self, title: str, *, scale: float = 1.0, unit: str = "", thresholds: Iterable[tuple[float, str]] = (),
                 span_s: float = 900.0, ascii: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.scale = scale
        self.unit = unit
        self.thresholds = tuple(thresholds)
        self.span_s = span_s
        self.ascii = ascii
        self._key: tuple | None = None
        self._chart = None
        self._last: tuple | None = None
        self.redraws = 0

    def compose(self):  # noqa: ANN201
        yield Line(self.title, classes="plot-title", markup=False)

    def columns(self) -> int:
        """Time buckets: one per character cell of the plotting area (minus the y labels)."""
        return max(4, self.size.width - 8)

    def show(self, points: Sequence[tuple[float, float | None]], now: float, title: str | None = None) -> bool:
        """Update the data; returns True when the chart was queued for a redraw."""
        self._last = (points, now, title)
        if title is not None and title != self.title:
            self.title = title
            self.query_one(".plot-title", Line).set(Content(title))
        if not self.is_mounted or self.size.width == 0:
            return False
        values = bucketize(points, now, self.span_s, self.columns())
        if self._chart is None and all(v is None for v in values):
            return False  # no data yet: no chart (plotext is imported with the first point)
        top = plot_top(values, self.thresholds)
        key = plot_key(values, now, self.span_s, (self.size.width, self.size.height), top)
        if key == self._key:
            return False
        self._key = key
        if self._chart is None:
            from textual_plotext import PlotextPlot

            self._chart = PlotextPlot(classes="plot-chart")
            self.mount(self._chart)
        self._draw(values, top)
        self.redraws += 1
        self._chart.refresh()
        return True

    def _draw(self, values: Sequence[float | None], top: float) -> None:
        plt = self._chart.plt
        plt.clear_data()
        width = self.span_s / len(values)
        minutes = [(-self.span_s + (i + 0.5) * width) / 60.0 for i, v in enumerate(values) if v is not None]
        ys = [v * self.scale for v in values if v is not None]
        for threshold, color in self.thresholds:
            if self.ascii:  # hline draws box-drawing rules; a two-point line takes our marker
                plt.plot([-self.span_s / 60.0, 0.0], [threshold * self.scale] * 2, marker="-", color="default")
            else:
                plt.hline(threshold * self.scale, color)
        if ys:
            plt.plot(minutes, ys, marker="*" if self.ascii else "braille", color="cyan")
        plt.xlim(-self.span_s / 60.0, 0.0)
        plt.ylim(0.0, top * self.scale)
        plt.xticks([-15, -10, -5, 0], ["-15m", "-10m", "-5m", "now"])
        plt.xaxes(not self.ascii)
        plt.yaxes(not self.ascii)
        plt.frame(False)

    def on_resize(self) -> None:
        self._key = None
        if self._last is not None:
            self.show(*self._last)


class KeyedTable(DataTable):
    """A DataTable updated by row key: changed cells with ``update_cell``, new rows added,
    gone rows removed, all inside ``batch_update`` — never clear-and-refill (no flicker)."""

    def __init__(self, columns: Sequence[tuple], **kwargs) -> None:
        super().__init__(cursor_type=kwargs.pop("cursor_type", "row"), zebra_stripes=False, **kwargs)
        self._columns = list(columns)
        self._cells: dict[str, tuple] = {}
        self.writes = 0

    def on_mount(self) -> None:
        for label, key, *width in self._columns:
            self.add_column(label, key=key, width=width[0] if width else None)

    def sync(self, rows: Sequence[tuple[str, tuple[Content, ...]]], *, keep_order: bool = False) -> None:
        wanted = dict(rows)
        if all(self._cells.get(k) == v for k, v in wanted.items()) and set(wanted) == set(self._cells):
            return
        with self.app.batch_update():
            for key in [k for k in self._cells if k not in wanted]:
                self.remove_row(key)
                del self._cells[key]
            for key, cells in rows:
                old = self._cells.get(key)
                if old is None:
                    self.add_row(*cells, key=key)
                elif old != cells:
                    for (_, col, *_w), new, was in zip(self._columns, cells, old):
                        if new != was:
                            self.update_cell(key, col, new)
                self._cells[key] = cells
                self.writes += 1


class Line(Static):
    """A few lines of Content that repaint only what changed.

    Same text: nothing. Same number of rows, none wrapping: the new content is swapped in
    and only the rows that differ are repainted — no layout pass (a layout repaints the
    scrollbars and neighbours: ~1.5 KB a second for an idle dashboard). Otherwise a plain
    update with layout."""

    def set(self, content: Content | str) -> None:
        old = getattr(self, "_last", None)
        if old == content:
            return
        self._last = content
        if not isinstance(content, Content) or not isinstance(old, Content) or not self.is_mounted:
            self.update(content)
            return
        width = self.content_region.width or self.size.width
        new_rows, old_rows = content.split("\n"), old.split("\n")
        fits = all(r.cell_length <= width for r in new_rows + old_rows)
        if len(new_rows) != len(old_rows) or not fits or width <= 0:
            self.update(content)
            return
        self.update(content, layout=False)
        changed = [y for y, (a, b) in enumerate(zip(new_rows, old_rows)) if a != b]
        dirty, repaint = getattr(self, "_dirty_regions", None), getattr(self, "_repaint_regions", None)
        if changed and isinstance(dirty, set) and isinstance(repaint, set):
            # narrow the repaint from the whole widget to the rows that changed (content
            # coordinates; Widget.refresh adds the padding offset)
            dirty.clear()
            repaint.clear()
            for y in changed:
                self.refresh(Region(0, y, width, 1))
