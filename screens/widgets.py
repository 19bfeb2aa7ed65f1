"""Widgets shared by the screens: a metric plot that repaints only the cells that changed,
and a keyed table that updates cells in place."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.segment import Segment
from rich.style import Style
from textual.content import Content
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import DataTable, Static


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


BLOCKS = " ▁▂▃▄▅▆▇█"
ASCII_BLOCKS = " ..::||##"


def plot_grid(values: Sequence[float | None], top: float, rows: int, thresholds: Sequence[tuple[float, str]] = (),
              ascii: bool = False) -> list[list[tuple[str, str]]]:
    """Pure: bucket values → ``rows`` rows of ``(char, role)`` cells, top row first.

    Each column is a bar in eighths of a row (``▁…█``), so a value moves the picture only when
    it crosses an eighth. ``role`` is ``bar``, a threshold's colour name, or ``""`` (empty).
    A threshold is a row of ``─`` in the empty cells at its height."""
    blocks = ASCII_BLOCKS if ascii else BLOCKS
    rule = "-" if ascii else "─"
    top = top if top > 0 else 1e-9
    marks: dict[int, str] = {}
    for value, color in thresholds:
        r = min(rows - 1, max(0, int(value / top * rows)))
        marks.setdefault(r, color)
    grid = [[(" ", "") for _ in values] for _ in range(rows)]
    for x, v in enumerate(values):
        level = 0 if v is None else max(0, min(rows * 8, round(v / top * rows * 8)))
        if v is not None and v > 0 and level == 0:
            level = 1  # something, however small, is not nothing
        for r in range(rows):  # r = 0 is the bottom row
            fill = max(0, min(8, level - r * 8))
            y = rows - 1 - r
            if fill:
                grid[y][x] = (blocks[fill], "bar")
            elif r in marks:
                grid[y][x] = (rule, marks[r])
    return grid


class MetricPlot(Widget):
    """A small time-series plot (last 15 minutes, one time bucket per column, threshold rules)
    drawn with block characters (Line API), so an idle dashboard writes almost nothing.

    ``show(points, now)`` rebuilds the grid and repaints only what differs from the picture on
    the screen: the title row when the title changed, the columns whose bars changed (usually
    the newest one), everything when a new bucket starts (once every span/columns seconds,
    ~30 s at 80 columns) or the scale changes. Not plotext: a full replot each tick rewrote
    the whole plot region (issue 5 measured ~36× htop's bytes for two plots), and importing
    plotext cost ~50 ms before the first frame.
    """

    DEFAULT_CSS = """
    MetricPlot { height: 1fr; min-height: 5; }
    """
    GUTTER = 7

    def __init__(self, title: str, *, scale: float = 1.0, unit: str = "", thresholds: Iterable[tuple[float, str]] = (),
                 span_s: float = 900.0, ascii: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.scale = scale
        self.unit = unit
        self.thresholds = tuple(thresholds)
        self.span_s = span_s
        self.ascii = ascii
        self._grid: list[list[tuple[str, str]]] = []
        self._labels: tuple[str, str] = ("", "")
        self._key: tuple | None = None
        self.redraws = 0
        self.partial = 0

    # ---- data

    def geometry(self) -> tuple[int, int]:
        return max(4, self.size.width - self.GUTTER), max(1, self.size.height - 2)

    def show(self, points: Sequence[tuple[float, float | None]], now: float, title: str | None = None) -> bool:
        """Update the data; returns True when something on screen changed (and was queued)."""
        self._last = (points, now)
        cols, rows = self.geometry()
        values = bucketize(points, now, self.span_s, cols)
        top = max([v for v in values if v is not None] + [t for t, _ in self.thresholds] + [1e-9]) * 1.15
        grid = plot_grid(values, top, rows, self.thresholds, self.ascii)
        labels = (_fmt_axis(top * self.scale), _fmt_axis(0.0))
        title = self.title if title is None else title
        bucket = int(now // (self.span_s / cols))
        key = (cols, rows, labels, bucket)
        changed = False
        if title != self.title:
            self.title = title
            self.refresh(Region(0, 0, self.size.width, 1))
            changed = True
        if key != self._key or len(grid) != len(self._grid):
            self._grid, self._labels, self._key = grid, labels, key
            self.redraws += 1
            self.refresh()
            return True
        dirty = [x for x in range(cols) if any(grid[y][x] != self._grid[y][x] for y in range(rows))]
        self._grid = grid
        if dirty:
            lo, hi = min(dirty), max(dirty)
            self.partial += 1
            self.refresh(Region(self.GUTTER + lo, 1, hi - lo + 1, rows))
            changed = True
        return changed

    def on_resize(self) -> None:
        self._key = None
        last = getattr(self, "_last", None)
        if last is not None:
            self.show(*last)

    # ---- drawing (Line API: one strip per row)

    def _style(self, role: str) -> Style:
        base = self.rich_style
        if not role:
            return base
        colors = self.app.theme_variables
        name = {"bar": "accent", "red": "error", "green": "success", "yellow": "warning"}.get(role, role)
        value = colors.get(name) or colors.get("foreground")
        try:
            return base + Style(color=value)
        except Exception:  # noqa: BLE001 — an odd theme value: draw uncoloured
            return base

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        cols, rows = self.geometry()
        base = self.rich_style
        if y == 0:
            return Strip([Segment(self.title[:width].center(width), base + Style(bold=True))], width).crop(0, width)
        if y == rows + 1:
            axis = "-15m".ljust(max(0, cols - 3)) + "now"
            return Strip([Segment(" " * self.GUTTER + axis, base + Style(dim=True))]).adjust_cell_length(width, base)
        r = y - 1
        if r >= rows or r >= len(self._grid):
            return Strip.blank(width, base)
        label = self._labels[0] if r == 0 else (self._labels[1] if r == rows - 1 else "")
        edge = "|" if self.ascii else "▕"
        segs = [Segment(f"{label:>{self.GUTTER - 1}}"[: self.GUTTER - 1] + edge, base + Style(dim=True))]
        for ch, role in self._grid[r]:
            segs.append(Segment(ch, self._style(role)))
        return Strip(Segment.simplify(segs)).adjust_cell_length(width, base)


def _fmt_axis(v: float) -> str:
    if v >= 1000:
        return f"{v / 1000:.1f}k"
    if v >= 10:
        return f"{v:.0f}"
    return f"{v:.1f}"


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
