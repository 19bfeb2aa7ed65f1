"""Widgets shared by the screens: a metric plot (plotext; its geometry in :mod:`screens.plot`)
redrawn once per time bucket, and a keyed table that updates cells in place."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.content import Content
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import DataTable, Static

from screens.plot import Geometry, Threshold, bucketize, draw, geometry, plot_top

__all__ = ["KeyedTable", "Line", "MetricPlot", "bucketize", "plot_key", "plot_top"]

NO_DATA = "no data yet"


def plot_key(values: Sequence[float | None], now: float, span_s: float, size: tuple[int, int], top: float) -> tuple:
    """When a plot must be redrawn: a new time bucket, another size, or another scale.

    Pure. Within one bucket the picture stays as it is (the live value is in the title row),
    so an idle dashboard redraws each plot once per bucket (~22 s at 120 columns), never
    each tick: a full plotext replot of two plots every second writes ~36x what htop does."""
    columns = max(1, len(values))
    return (int(now // (span_s / columns)), size, round(top, 6))


class MetricPlot(Widget):
    """A time-series pane drawn with plotext via textual-plotext, under a one-row title that
    carries the live value; its geometry — the x-axis spanning the data there is (growing to
    the window), labelled threshold lines, every y label — is :func:`screens.plot.geometry`'s.

    ``thresholds``: ``(value, colour)`` or ``(value, colour, word)`` in the series' unit; the
    label is the value with ``unit`` and the word ("5% roll back"). With no data in the window
    the pane shows its note instead (``show(..., note=)``: why there is none and what to do).

    The chart is mounted on the first data (importing plotext costs ~50 ms: not on the path to
    the first frame) and rebuilt only when :func:`plot_key` changes. In ASCII mode it draws
    with ``*`` markers and ``-`` dashes."""

    DEFAULT_CSS = """
    MetricPlot { height: 1fr; min-height: 5; layout: vertical; padding-right: 1; }
    MetricPlot > .plot-title { height: 1; text-style: bold; content-align: center top; }
    MetricPlot > .plot-note { height: 1fr; color: $text-muted; padding: 0 1; }
    MetricPlot > .plot-chart { height: 1fr; }
    """

    def __init__(self, title: str, *, scale: float = 1.0, unit: str = "", thresholds: Iterable[tuple] = (),
                 span_s: float = 900.0, ascii: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.scale = scale
        self.unit = unit
        given = tuple(thresholds)
        self.thresholds = tuple((t[0], t[1]) for t in given)
        """``(value, colour)`` per line, as given."""
        self.lines = tuple(Threshold(t[0], t[1], t[2] if len(t) > 2 else "") for t in given)
        self.span_s = span_s
        self.ascii = ascii
        self.geometry: Geometry | None = None
        """What the chart shows now (None: no data in the window)."""
        self._key: tuple | None = None
        self._chart = None
        self._last: tuple | None = None
        self.note = ""
        self.redraws = 0

    def compose(self):  # noqa: ANN201
        yield Line(self.title, classes="plot-title", markup=False)
        yield Line(NO_DATA, classes="plot-note", markup=False)

    @property
    def chart(self) -> Widget | None:
        """The plotext chart (None until the first data)."""
        return self._chart

    def show(self, points: Sequence[tuple[float, float | None]], now: float, title: str | None = None,
             note: str | None = None) -> bool:
        """Update the data; returns True when the chart was queued for a redraw. ``note`` (None:
        unchanged) is shown in the pane while there is no data in the window."""
        self._last = (points, now, title, note)
        if title is not None and title != self.title:
            self.title = title
            self.query_one(".plot-title", Line).set(Content(title))
        if note is not None and note != self.note:
            self.note = note
            self._key = None
        if not self.is_mounted or self.size.width == 0:
            return False
        inner = self.content_size
        size = (inner.width, max(1, inner.height - 1))  # the chart: the pane less its title
        g = geometry(points, now, window_s=self.span_s, size=size, thresholds=self.lines, scale=self.scale,
                     unit=self.unit, ascii=self.ascii)
        key = ("empty", self.note) if g is None else plot_key(g.values, now, g.span_s, size, g.top) + (g.span_s,)
        if key == self._key:
            return False
        self._key = key
        self.geometry = g
        note_line = self.query_one(".plot-note", Line)
        if g is None:
            note_line.set(Content(self.note or NO_DATA))
            note_line.display = True
            if self._chart is not None:
                self._chart.display = False
            return False
        note_line.display = False
        if self._chart is None:
            from textual_plotext import PlotextPlot

            self._chart = PlotextPlot(classes="plot-chart")
            self.mount(self._chart)
        self._chart.display = True
        draw(self._chart.plt, g, ascii=self.ascii)
        self.redraws += 1
        self._chart.refresh()
        return True

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
