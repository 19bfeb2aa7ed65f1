"""The dashboard plots' geometry (screens/plot.py), pure: the x-axis spans the data there is,
every y label is printed, threshold lines are labelled and cannot be taken for data. The
pictures are built with plotext itself (no terminal) and read back as text."""
from __future__ import annotations

import pytest

from screens.plot import (
    BRIDGE_S,
    THRESHOLD_GLYPH,
    Threshold,
    draw,
    geometry,
    shown_span,
    value_row,
    x_ticks,
    y_axis,
)

T = 1_700_000_000.0
ERR = [Threshold(0.05, "red", "roll back"), Threshold(0.01, "green", "monitor")]
P95 = [Threshold(2000.0, "red", "roll back"), Threshold(500.0, "green", "monitor")]
BRAILLE = {chr(c) for c in range(0x2801, 0x2900)}


def series(seconds: int, bad_since: int | None = None, every: int = 5, good: float = 0.002, bad: float = 0.30):
    return [(T - i, bad if bad_since is not None and i < bad_since else good) for i in range(seconds, 0, -every)]


def render(g, size: tuple[int, int], ascii: bool = False) -> list[str]:
    """The chart as plotext draws it at ``size``: rows top first, the time labels last."""
    import plotext as plt

    plt.clf()
    plt.limit_size(False, False)
    plt.plotsize(*size)
    draw(plt, g, ascii=ascii)
    lines = plt.uncolorize(plt.build()).rstrip("\n").split("\n")
    assert len(lines) == size[1]
    return lines


def canvas_row(lines: list[str], g, row: int) -> str:
    """Canvas row ``row`` (0 = bottom) without its y label."""
    return lines[g.rows - 1 - row][g.label_width:]


# --------------------------------------------------------------------------- x: the data there is


@pytest.mark.parametrize("extent,window,span", [
    (0, 900, 60), (40, 900, 60), (61, 900, 90), (100, 900, 120), (130, 900, 180), (400, 900, 420),
    (899, 900, 900), (5000, 900, 900), (40, 30, 30), (700, 3600, 900),
])
def test_the_span_grows_with_the_data_to_the_window(extent, window, span):
    assert shown_span(extent, window) == span


def test_a_young_session_fills_the_plot_instead_of_its_right_edge():
    g = geometry(series(40, every=1), T, window_s=900, size=(48, 7), thresholds=ERR, scale=100)
    assert g.span_s == 60
    filled = [i for i, v in enumerate(g.values) if v is not None]
    # 40 s of a 60 s axis: the data starts about a third in (in a fixed 15 min axis it would
    # start in the last 5 % of the columns)
    assert filled[0] <= g.width * 0.4 and filled[-1] >= g.width - 2
    labels = [label for _, label in g.xticks]
    assert labels[0] == "now" and labels[-1] in ("-1m", "-60s") and "-15m" not in labels
    lines = render(g, (48, 7))
    assert "now" in lines[-1] and "-30s" in lines[-1]


def test_the_full_window_is_labelled_back_to_its_start():
    g = geometry(series(900, bad_since=600), T, window_s=900, size=(30, 6), thresholds=ERR, scale=100)
    assert g.span_s == 900 and [label for _, label in g.xticks] == ["now", "-5m", "-10m", "-15m"]
    assert all(label in render(g, (30, 6))[-1] for _, label in g.xticks)


@pytest.mark.parametrize("span", [60, 90, 120, 180, 300, 420, 600, 900, 3600])
@pytest.mark.parametrize("width", [12, 22, 26, 43, 77])
def test_every_time_label_is_printed_with_room_around_it(span, width):
    ticks = x_ticks(span, width)
    assert ticks[0] == (0.0, "now") and len(ticks) <= 8
    cols = sorted((width - 1) * (span + x) / span for x, _ in ticks)
    longest = max(len(label) for _, label in ticks)
    assert all(b - a >= longest + 3 for a, b in zip(cols, cols[1:]))
    if len(ticks) > 1:
        pts = [(T - span, 0.01), (T, 0.01)]
        lw = geometry(pts, T, window_s=span, size=(width + 10, 6), scale=100).label_width
        g = geometry(pts, T, window_s=span, size=(width + lw, 6), scale=100)
        assert g.span_s == span and g.width == width
        bottom = render(g, (width + lw, 6))[-1]
        assert all(label in bottom for _, label in g.xticks), (bottom, g.xticks)


def test_long_gaps_stay_gaps_short_ones_are_bridged():
    pts = [(t, v) for t, v in series(900, every=5) if not (T - 500 < t < T - 300)]  # 200 s without data
    g = geometry(pts, T, window_s=900, size=(48, 7), scale=100)
    assert len(g.runs) == 2
    assert g.runs[0][-1][0] < -480 and -330 < g.runs[1][0][0] < -300
    sparse = series(900, every=int(BRIDGE_S) - 5)  # a poll every 25 s: one line
    assert len(geometry(sparse, T, window_s=900, size=(120, 12), scale=100).runs) == 1


def test_no_value_in_the_window_is_no_picture():
    assert geometry([], T, window_s=900, size=(30, 6)) is None
    assert geometry([(T - 5, None), (T - 2000, 0.3)], T, window_s=900, size=(30, 6)) is None


# --------------------------------------------------------------------------- y: every label printed


@pytest.mark.parametrize("rows", range(1, 16))
@pytest.mark.parametrize("highest", [0.001, 0.4, 1.0, 3.45, 7.9, 34.5, 57.5, 115.0, 480.0, 2300.0, 5750.0, 46000.0])
def test_y_ticks_are_nice_and_each_on_its_own_row(rows, highest):
    top, ticks = y_axis(highest, rows)
    values = [v for v, _ in ticks]
    assert values[-1] == pytest.approx(top) and top >= highest
    assert values[0] == 0 or rows == 1  # one row: its one label, the top
    assert top < highest * 2.6 or len(ticks) == 2  # not absurdly high
    assert len({value_row(v, top, rows) for v in values}) == len(values)  # no two on one row
    assert len(set(label for _, label in ticks)) == len(ticks)


@pytest.mark.parametrize("height", [3, 4, 5, 6, 7, 9, 13])
@pytest.mark.parametrize("width", [22, 30, 48])
@pytest.mark.parametrize("case", ["errors", "p95", "healthy", "flat zero"])
def test_every_y_label_is_printed_at_every_height(case, width, height):
    if case == "errors":
        pts, th, scale, unit = series(900, bad_since=600), ERR, 100.0, "%"
    elif case == "p95":
        pts, th, scale, unit = series(900, bad_since=600, good=130.0, bad=410.0), P95, 1.0, "ms"
    elif case == "healthy":
        pts, th, scale, unit = series(300), ERR, 100.0, "%"
    else:
        pts, th, scale, unit = series(300, good=0.0), (), 100.0, "%"
    g = geometry(pts, T, window_s=900, size=(width, height), thresholds=th, scale=scale, unit=unit)
    lines = render(g, (width, height))
    for value, label in g.yticks:
        row = value_row(value, g.top, g.rows)
        assert lines[g.rows - 1 - row][:g.label_width].strip() == label, (label, lines)


# --------------------------------------------------------------------------- thresholds


def test_threshold_lines_are_labelled_at_the_right_edge_and_drawn_unlike_data():
    g = geometry(series(900, bad_since=600), T, window_s=900, size=(48, 9), thresholds=ERR, scale=100, unit="%")
    lines = render(g, (48, 9))
    marks = {m.threshold.word: m for m in g.marks}
    assert set(marks) == {"roll back", "monitor"}
    rb = marks["roll back"]
    assert rb.side == "right" and rb.label == "5% roll back"
    row = canvas_row(lines, g, rb.row)
    assert row.endswith(" 5% roll back") and THRESHOLD_GLYPH in row  # a blank between dashes and label
    assert not set(row[:-len(rb.label)]) - {THRESHOLD_GLYPH, " "} - BRAILLE  # dashes (and the data crossing)
    # the data is braille, never the threshold glyph ('╌', dashed in itself)
    assert THRESHOLD_GLYPH * 3 in row
    top = canvas_row(lines, g, value_row(30.0, g.top, g.rows, 4))
    assert set(top.strip()) <= BRAILLE and THRESHOLD_GLYPH not in top


def test_a_label_moves_left_when_the_data_runs_through_the_right_end_of_its_row():
    # p95 at ~500 ms since the release: the 500 ms line's row is the data's at the right end
    g = geometry(series(900, bad_since=600, good=130.0, bad=480.0), T, window_s=900, size=(48, 7),
                 thresholds=P95, scale=1.0, unit="ms")
    mon = next(m for m in g.marks if m.threshold.word == "monitor")
    assert mon.side == "left" and mon.col == 0
    row = canvas_row(render(g, (48, 7)), g, mon.row)
    assert row.startswith("500ms monitor")
    assert set(row[-5:]) & BRAILLE  # the data still shows at the right end


def test_the_threshold_sits_on_the_row_data_of_its_value_is_drawn_in():
    for height in (4, 6, 7, 9, 13):
        flat = [(T - i, 0.05) for i in range(300, 0, -5)]
        g = geometry(flat, T, window_s=900, size=(40, height), thresholds=ERR[:1], scale=100, unit="%")
        lines = render(g, (40, height))
        data_rows = [r for r in range(g.rows) if set(canvas_row(lines, g, r)) & BRAILLE]
        assert data_rows == [g.marks[0].row] if g.marks else True


def test_thresholds_on_one_row_of_a_short_pane_draw_one_labelled_line():
    g = geometry(series(900, bad_since=600), T, window_s=900, size=(30, 6), thresholds=ERR, scale=100, unit="%")
    rows = {m.row for m in g.marks}
    assert len(rows) == len(g.marks)  # never two lines (or labels) on one row
    assert [m.label for m in g.marks] == ["5% roll back"]  # 5 % and 1 % share the bottom row at 10 %/row
    lines = render(g, (30, 6))
    assert sum(THRESHOLD_GLYPH in line for line in lines) == 1


def test_a_narrow_pane_labels_with_the_value_alone():
    g = geometry(series(900, bad_since=600), T, window_s=900, size=(14, 7), thresholds=ERR, scale=100, unit="%")
    assert [m.label for m in g.marks][:1] == ["5%"]


def test_ascii_dashes_are_not_the_data_marker():
    g = geometry(series(900, bad_since=600), T, window_s=900, size=(30, 6), thresholds=ERR, scale=100, unit="%",
                 ascii=True)
    lines = render(g, (30, 6), ascii=True)
    text = "\n".join(lines)
    assert "5% roll back" in text and "1% monitor" in text  # one char per row: both lines fit
    for m in g.marks:
        row = canvas_row(lines, g, m.row)
        assert "- -" in row and not set(row) - set("-* ") - set(m.label)
    assert not set(text) & BRAILLE and THRESHOLD_GLYPH not in text
