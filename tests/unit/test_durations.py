"""One duration parser and one formatter (plus the stopwatch and kubectl-age columns)."""
from __future__ import annotations

import argparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cockpit.durations import duration_arg, format_age, format_duration, format_timer, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [("90", 90.0), ("90s", 90.0), ("5m", 300.0), ("1h", 3600.0),
                                               ("1m30s", 90.0), ("1m 30s", 90.0), ("500ms", 0.5), (2.5, 2.5)])
def test_parse(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["5 minutes", "m", "-1s", "0", True, [], "1d", "", "nan", float("inf")])
def test_parse_refuses(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_flags_take_zero_and_say_what_is_expected():
    assert duration_arg("0") == 0.0 and duration_arg("250ms") == 0.25 and duration_arg("5 m") == 300.0
    with pytest.raises(argparse.ArgumentTypeError, match=r"e\.g\. 30s, 5m, 1h"):
        duration_arg("soon")
    with pytest.raises(argparse.ArgumentTypeError):
        duration_arg("-5s")


@pytest.mark.parametrize(("seconds", "text"), [(None, "—"), (0, "0s"), (45, "45s"), (59.6, "1m 00s"), (245, "4m 05s"),
                                               (3725, "1h 02m"), (-65, "1m 05s")])
def test_format(seconds, text):
    assert format_duration(seconds) == text


@given(st.integers(1, 3599))
def test_what_is_formatted_parses_back_under_an_hour(s):
    assert parse_duration(format_duration(s)) == s


def test_timer_and_age_columns():
    assert format_timer(75) == "1:15" and format_timer(3725) == "1:02:05" and format_timer(-3) == "0:00"
    assert [format_age(s) for s in (None, 45, 119, 120, 7199, 7200, 172799, 172800)] == \
        ["<unknown>", "45s", "119s", "2m", "119m", "2h", "47h", "2d"]


def test_every_caller_uses_them():
    from backends.postgres import commands as pg
    from cockpit import checklist, output, report, runbook
    from screens import render_ops

    assert runbook.parse_duration is parse_duration and pg.duration is duration_arg
    assert report.duration is format_duration and render_ops.dur is format_duration
    assert checklist.fmt_elapsed is format_timer
    assert output.age(None) == "<unknown>"
