"""The dashboard plots' geometry, pure: no Textual, no terminal, no clock.

:func:`geometry` decides everything a metric plot shows, cell by cell, and :func:`draw` hands
it to a plotext figure with explicit limits and ticks, so plotext chooses nothing:

- **x** spans the data there is, growing to the window: a session that started two minutes ago
  shows two minutes, not fifteen with the data squeezed at the right edge (:func:`shown_span`).
  Time labels count back from ``now`` (``-5m``, ``-30s``) at a step that leaves room for
  every label (:func:`x_ticks`).
- **y** has nice ticks (0, 10, 20 …), each on its own row, so every label is printed at any
  height (:func:`y_axis`); the top is a tick, with head-room over the data and the thresholds.
- **thresholds** are drawn as dim dashes (``╌╌╌``, ``- - -`` in ASCII) on the row where data
  of that value is drawn, and labelled ("5% roll back") at the right edge — at the left edge
  when the data runs through the right end of that row, else in the free stretch nearest the
  right, with a blank before the dashes. Data is drawn over the dashes; labels only where the
  data is not. A line is drawn only with its label, so a line on a row the data fills, or on
  the row of a higher threshold (a short pane), is left out rather than shown unlabelled.
- **gaps** longer than :data:`BRIDGE_S` (a source that did not answer) are left as gaps.

Rows count from the bottom of the canvas (0) as plotext's do; the braille data line has four
dot rows and two dot columns per cell, and :func:`value_row` reproduces plotext's mapping so
threshold lines sit in the cell row where data of the same value is drawn.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

MIN_SPAN_S = 60.0
"""The shortest x-axis span: the first minute of a session is shown as a minute."""
SPAN_QUANTA = ((120.0, 30.0), (600.0, 60.0), (math.inf, 300.0))
"""(below, step): while the data reaches back less than ``below`` seconds the span grows in
steps of ``step`` (a new span is a redraw; a bucket closes every span/columns seconds anyway)."""
MAX_X_TICKS = 8
X_STEPS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)
BRIDGE_S = 30.0
"""Missing buckets spanning up to this long are bridged by the line (polls and history steps
are a few seconds apart); longer gaps stay gaps."""
THRESHOLD_GLYPH = "╌"
THRESHOLD_GLYPH_ASCII = "-"


@dataclass(frozen=True)
class Threshold:
    value: float
    """In the series' own unit (a fraction for the error rate)."""
    color: str
    word: str = ""
    """What crossing it means ("roll back"); the label is the value, the unit and the word."""


@dataclass(frozen=True)
class ThresholdMark:
    """Where a threshold line and its label are drawn on the canvas."""

    threshold: Threshold
    row: int
    y: float
    """The y (display units) plotext maps exactly to :attr:`row` for a one-character marker."""
    label: str
    col: int
    """First canvas column of the label."""
    side: str
    """``right`` (the edge), ``left`` (the data runs through the right end of the row), or
    ``inside`` (through both ends: the free stretch nearest the right)."""
    text: str
    """What is drawn: the label with a blank between it and its dashes (not over data)."""
    text_col: int


@dataclass(frozen=True)
class Geometry:
    span_s: float
    """The x-axis span, seconds before now."""
    width: int
    """Canvas columns (one time bucket each)."""
    rows: int
    """Canvas rows (the chart's height less the time-label row)."""
    label_width: int
    """The y labels' column, including the gap before the canvas."""
    top: float
    """The y-axis top, display units (value × scale)."""
    yticks: tuple[tuple[float, str], ...]
    xticks: tuple[tuple[float, str], ...]
    """(seconds relative to now, ≤ 0; label)."""
    values: tuple[float | None, ...]
    """The buckets' averages (unscaled)."""
    runs: tuple[tuple[tuple[float, float], ...], ...]
    """Each connected stretch of the line: (x seconds ≤ 0, y display units)."""
    marks: tuple[ThresholdMark, ...]
    sub: int
    """Dot rows per canvas row of the data marker (braille 4, ASCII 1)."""


# --------------------------------------------------------------------------- buckets


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


# --------------------------------------------------------------------------- x


def shown_span(extent_s: float, window_s: float) -> float:
    """The x-axis span for data reaching ``extent_s`` seconds back: at least
    :data:`MIN_SPAN_S`, rounded up to a step of :data:`SPAN_QUANTA`, at most the window."""
    extent_s = max(0.0, extent_s)
    for below, quantum in SPAN_QUANTA:
        if extent_s < below:
            span = math.ceil(extent_s / quantum - 1e-9) * quantum
            break
    return min(window_s, max(MIN_SPAN_S, span))


def time_label(seconds: float) -> str:
    """``-45s``, ``-5m``, ``-1m30``, ``-2h``; 0 is ``now``."""
    s = int(round(abs(seconds)))
    if s == 0:
        return "now"
    if s < 60:
        return f"-{s}s"
    if s % 3600 == 0:
        return f"-{s // 3600}h"
    if s % 60 == 0:
        return f"-{s // 60}m"
    return f"-{s // 60}m{s % 60:02d}"


def x_ticks(span_s: float, width: int) -> tuple[tuple[float, str], ...]:
    """Ticks at ``now`` and every step back to the span's start: the smallest step of
    :data:`X_STEPS` that leaves every label a blank cell on each side (plotext drops a label
    without one; one more cell for rounding and for the end labels plotext moves inward) and
    makes at most :data:`MAX_X_TICKS` of them."""
    if width < 2 or span_s <= 0:
        return ((0.0, "now"),)
    for step in X_STEPS:
        count = int(span_s / step + 1e-9) + 1
        if count > MAX_X_TICKS:
            continue
        ticks = [(-k * step, time_label(k * step)) for k in range(count)]
        longest = max(len(label) for _, label in ticks)
        if (width - 1) * step / span_s >= longest + 3:
            return tuple((float(x), label) for x, label in ticks)
    return ((0.0, "now"),)


# --------------------------------------------------------------------------- y

HEADROOM = 1.15


def plot_top(values: Sequence[float | None], thresholds: Sequence[tuple]) -> float:
    """The highest value or threshold (``(value, ...)``) with head-room, never zero; the y-axis
    top is the first tick at or above it (:func:`y_axis`)."""
    return max([v for v in values if v is not None] + [t[0] for t in thresholds] + [1e-9]) * HEADROOM


def _decimals(step: float) -> int:
    d = 0
    while d < 6 and abs(step * 10 ** d - round(step * 10 ** d)) > 1e-9:
        d += 1
    return d


def number(v: float, decimals: int = -1) -> str:
    """A tick or threshold value: ``30``, ``2.5``, ``0.25``, ``1500``, ``20k``."""
    if abs(v) >= 10000:
        return f"{v / 1000:g}k"
    if decimals < 0:
        return f"{round(v, 6):g}"
    return f"{v:.{decimals}f}"


def y_axis(highest: float, rows: int) -> tuple[float, tuple[tuple[float, str], ...]]:
    """``(top, ticks)`` for display values up to ``highest`` on ``rows`` canvas rows: the
    smallest nice step (1, 2, 2.5, 5 × 10^k) whose ticks, 0 to the first multiple at or above
    ``highest``, land on distinct rows — at most one per row up to 6 rows, one every other row
    above — so none overwrites another and every label is printed (one row: the top alone)."""
    highest = highest if highest > 0 and math.isfinite(highest) else 1.0
    rows = max(1, rows)
    intervals = max(1, rows - 1 if rows <= 6 else (rows - 1) // 2)
    k = math.floor(math.log10(highest / intervals)) - 1
    while True:
        for m in (1.0, 2.0, 2.5, 5.0):
            step = m * 10.0 ** k
            n = max(1, math.ceil(highest / step - 1e-9))
            if n <= intervals:
                d = _decimals(step)
                first = n if rows == 1 else 0  # one row: one label, the top's
                return n * step, tuple((i * step, number(i * step, d)) for i in range(first, n + 1))
        k += 1


def value_row(y: float, top: float, rows: int, sub: int = 1) -> int:
    """The canvas row (0 = bottom) plotext draws display value ``y`` in, for a marker with
    ``sub`` dot rows per cell (its ``get_matrix_data`` on the expanded canvas)."""
    if top <= 0 or rows <= 0:
        return 0
    dot = math.floor(round(0.5 + (rows * sub - 1) * y / top, 8))
    return min(rows - 1, max(0, dot // sub))


def row_value(row: int, top: float, rows: int) -> float:
    """A display value plotext maps to exactly ``row`` for a one-character marker."""
    return 0.0 if rows <= 1 else row * top / (rows - 1)


# --------------------------------------------------------------------------- the whole picture


def _runs(values: Sequence[float | None], span_s: float, scale: float) -> list[list[tuple[float, float]]]:
    width = span_s / max(1, len(values))
    bridge = max(1, int(BRIDGE_S // width))
    runs: list[list[tuple[float, float]]] = []
    last = None
    for i, v in enumerate(values):
        if v is None:
            continue
        point = (-span_s + (i + 0.5) * width, v * scale)
        if last is None or i - last > bridge + 1:
            runs.append([point])
        else:
            runs[-1].append(point)
        last = i
    return runs


def _cells(runs: Iterable[Sequence[tuple[float, float]]], span_s: float, width: int, top: float, rows: int,
           xf: int, sub: int) -> set[tuple[int, int]]:
    """The canvas cells the line passes through (each segment's bounding box of cells)."""
    cells: set[tuple[int, int]] = set()

    def cell(x: float, y: float) -> tuple[int, int]:
        dx = math.floor(round(0.5 + (width * xf - 1) * (x + span_s) / span_s, 8))
        return min(width - 1, max(0, dx // xf)), value_row(y, top, rows, sub)

    for run in runs:
        prev = None
        for x, y in run:
            c = cell(x, y)
            a = prev or c
            for col in range(min(a[0], c[0]), max(a[0], c[0]) + 1):
                for row in range(min(a[1], c[1]), max(a[1], c[1]) + 1):
                    cells.add((col, row))
            prev = c
    return cells


def _marks(thresholds: Sequence[Threshold], *, scale: float, unit: str, top: float, rows: int, width: int, sub: int,
           taken: set[tuple[int, int]]) -> tuple[ThresholdMark, ...]:
    marks = []
    used = set(taken)
    labelled: set[int] = set()
    for t in sorted(thresholds, key=lambda t: -t.value):
        y = t.value * scale
        row = value_row(y, top, rows, sub)
        value = f"{number(y)}{unit}"
        label = f"{value} {t.word}" if t.word else value
        if len(label) > width - 2:
            label = value  # a narrow canvas: the value alone
        if len(label) > width - 2 or row in labelled:
            continue  # no room for a label, or the row of a higher threshold: one line, its label
        right = width - len(label)
        for side, col in [("right", right), ("left", 0)] + [("inside", c) for c in range(right - 1, 0, -1)]:
            cells = {(x, row) for x in range(col, col + len(label))}
            if not cells & used:
                # a blank between the label and its dashes, where the data is not
                before = side != "left" and (col - 1, row) not in used
                after = side != "right" and (col + len(label), row) not in used
                text = " " * before + label + " " * after
                used |= {(x, row) for x in range(col - before, col + len(label) + after)}
                labelled.add(row)
                marks.append(ThresholdMark(t, row, row_value(row, top, rows), label, col, side, text, col - before))
                break
    return tuple(marks)


def geometry(points: Sequence[tuple[float, float | None]], now: float, *, window_s: float, size: tuple[int, int],
             thresholds: Sequence[Threshold] = (), scale: float = 1.0, unit: str = "",
             ascii: bool = False) -> Geometry | None:
    """Everything a plot of ``points`` shows at ``now`` on a chart of ``size`` (columns, rows,
    the time labels' row included); None when no point in the window has a value."""
    seen = [(t, v) for t, v in points if v is not None and now - window_s <= t <= now]
    if not seen:
        return None
    cols, height = size
    rows = max(1, height - 1)
    span = shown_span(now - min(t for t, _ in seen), window_s)
    highest = plot_top([v for _, v in seen], [(t.value,) for t in thresholds]) * scale
    top, yticks = y_axis(highest, rows)
    label_width = max(len(label) for _, label in yticks) + 1
    width = max(2, cols - label_width)
    values = tuple(bucketize(points, now, span, width))
    runs = _runs(values, span, scale)
    xf, sub = (1, 1) if ascii else (2, 4)
    taken = _cells(runs, span, width, top, rows, xf, sub)
    marks = _marks(thresholds, scale=scale, unit=unit, top=top, rows=rows, width=width, sub=sub, taken=taken)
    return Geometry(span_s=span, width=width, rows=rows, label_width=label_width, top=top, yticks=yticks,
                    xticks=x_ticks(span, width), values=values, runs=tuple(tuple(r) for r in runs), marks=marks,
                    sub=sub)


def draw(plt: Any, g: Geometry, *, ascii: bool = False, color: str = "cyan") -> None:
    """Draw ``g`` on a plotext figure (``textual_plotext``'s ``plt`` or the ``plotext``
    module): dashes, then the data over them, then the labels over everything."""
    plt.clear_data()
    step = g.span_s / (g.width - 1)
    every = 2 if ascii else 1  # '╌' is dashed in itself; '-' is dashed by spacing ('- - -')
    for m in g.marks:
        xs = [-g.span_s + c * step for c in range(g.width - 1, -1, -every)]
        plt.scatter(xs, [m.y] * len(xs), marker=THRESHOLD_GLYPH_ASCII if ascii else THRESHOLD_GLYPH,
                    color=m.threshold.color, style="dim")
    for run in g.runs:
        plt.plot([x for x, _ in run], [y for _, y in run], marker="*" if ascii else "braille", color=color)
    for m in g.marks:
        plt.text(m.text, -g.span_s + m.text_col * step, m.y, color=m.threshold.color, alignment="left")
    plt.xlim(-g.span_s, 0.0)
    plt.ylim(0.0, g.top)
    plt.xticks([x for x, _ in g.xticks], [label for _, label in g.xticks])
    plt.yticks([v for v, _ in g.yticks], [label + " " for _, label in g.yticks])
    plt.xaxes(False, False)
    plt.yaxes(False, False)
    plt.frame(False)
