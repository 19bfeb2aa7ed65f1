"""Widgets shared by the screens: a metric plot that redraws only when its picture changes,
and a keyed table that updates cells in place."""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from textual.content import Content
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot


def bucketize(points: Sequence[tuple[float, float | None]], now: float, span_s: float, columns: int) -> list[float | None]:
    """Average the points into ``columns`` time buckets ending at ``now`` (None: no data)."""
    columns = max(1, columns)
    width = span_s / columns
    sums = [0.0] * columns
    counts = [0] * columns
    start = now - span_s
    for at, v in points:
        if v is None or at < start or at > now:
            continue
        i = min(columns - 1, int((at - start) / width))
        sums[i] += v
        counts[i] += 1
    return [sums[i] / counts[i] if counts[i] else None for i in range(columns)]


class MetricPlot(PlotextPlot):
    """A small time-series plot (last 15 minutes, one bucket per column, threshold lines).

    ``show(points, now)`` computes the picture's *key* (the buckets quantized to the plot's
    rows, the thresholds, the title) and refreshes only when it differs from what is on the
    screen. With 1 Hz samples this means a redraw when a new bucket starts or the last one
    moves by a row — not every second (a full replot each tick writes ~36× what htop does).
    """

    DEFAULT_CSS = """
    MetricPlot { height: 1fr; min-height: 5; }
    """

    def __init__(self, title: str, *, scale: float = 1.0, unit: str = "", thresholds: Iterable[tuple[float, str]] = (),
                 span_s: float = 900.0, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.scale = scale
        self.unit = unit
        self.thresholds = tuple(thresholds)
        self.span_s = span_s
        self._key: tuple | None = None
        self._values: list[float | None] = []
        self.redraws = 0

    def show(self, points: Sequence[tuple[float, float | None]], now: float, title: str | None = None) -> bool:
        """Update the data; returns True when the picture changed (and a refresh was queued)."""
        cols = max(8, self.size.width - 8)
        rows = max(3, self.size.height - 3)
        values = bucketize(points, now, self.span_s, cols)
        # quantize to the plot's resolution so invisible changes do not cost a redraw
        top = max([v for v in values if v is not None] + [t for t, _ in self.thresholds] + [1e-9])
        q = tuple(None if v is None else round(v / top * rows * 2) for v in values)
        # the time axis moves one bucket per span/cols seconds: use the bucket index as the clock
        bucket = int(now // (self.span_s / cols))
        key = (q, round(top, 6), cols, rows, title or self.title)
        if key == self._key:
            return False
        self._key = key
        self._values = values
        if title is not None:
            self.title = title
        self._bucket = bucket
        self._draw()
        return True

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title)
        xs = list(range(len(self._values)))
        ys = [v * self.scale if v is not None else math.nan for v in self._values]
        pts = [(x, y) for x, y in zip(xs, ys) if not math.isnan(y)]
        if pts:
            plt.plot([p[0] for p in pts], [p[1] for p in pts], marker="braille")
        for value, color in self.thresholds:
            plt.hline(value * self.scale, color)
        plt.xticks([0, max(1, len(xs) - 1)], ["-15m", "now"])
        plt.xlim(0, max(1, len(xs) - 1))
        ymax = max([y for _, y in pts] + [t * self.scale for t, _ in self.thresholds] + [1e-9])
        plt.ylim(0, ymax * 1.15)
        self.redraws += 1
        self.refresh()


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
    """A one-line (or few-line) Static that only refreshes when its content changed."""

    def set(self, content: Content | str) -> None:
        if getattr(self, "_last", None) == content:
            return
        self._last = content
        self.update(content)
