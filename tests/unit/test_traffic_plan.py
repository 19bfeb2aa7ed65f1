"""The pure parts of cockpit.traffic: steps, weights, the split of each step, the verdict."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cockpit.errors import ConfigError, NotFoundError
from cockpit.matrix import Verdict
from cockpit.traffic import check_backends, judge_counts, parse_steps, parse_weights, plan_split, same_split


def test_parse_steps():
    assert parse_steps("90,70,50,25,0") == (90, 70, 50, 25, 0)
    assert parse_steps("50%, 0") == (50, 0)
    for bad, msg in (("90,x", "not a whole percentage"), ("120", "between 0 and 100"), ("", "not a whole")):
        with pytest.raises(ConfigError, match=msg):
            parse_steps(bad)


def test_parse_weights_must_add_up():
    assert parse_weights(["old=70", "new=30"]) == {"old": 70, "new": 30}
    with pytest.raises(ConfigError, match="add up to 90, not 100"):
        parse_weights(["old=60", "new=30"])
    with pytest.raises(ConfigError, match="NAME=PERCENT"):
        parse_weights(["old"])
    with pytest.raises(ConfigError, match="given twice"):
        parse_weights(["old=50", "old=50"])


def test_plan_split_two_and_three_backends():
    assert plan_split({"old": 0, "new": 100}, "old", 70) == {"old": 30, "new": 70}
    assert plan_split({"old": 0, "a": 1, "b": 1}, "old", 25) == {"old": 75, "a": 13, "b": 12}
    assert plan_split({"old": 5, "a": 0, "b": 0}, "old", 10) == {"old": 90, "a": 5, "b": 5}


@given(st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 256), min_size=1), st.integers(0, 100))
def test_plan_split_always_adds_up(start, pct):
    to = sorted(start)[0]
    split = plan_split(start, to, pct)
    assert sum(split.values()) == 100 and set(split) == set(start)
    assert split[to] == (100 if len(start) == 1 else 100 - pct)


def test_missing_backend_names_the_others():
    with pytest.raises(NotFoundError, match="route r has no backend 'x'; its backends: a, b"):
        check_backends("r", {"a": 1, "b": 2}, ["x"])


def test_same_split_by_share():
    assert same_split({"a": 50, "b": 50}, {"a": 128, "b": 128})
    assert not same_split({"a": 50, "b": 50}, {"a": 70, "b": 30})


def test_judge_counts():
    assert judge_counts({"o": (0, 0)}, {"o": (100, 0)}, "o").verdict is Verdict.OK
    assert judge_counts({"o": (0, 0)}, {"o": (100, 6)}, "o").verdict is Verdict.ROLLBACK_NOW
    assert judge_counts({"o": (100, 6)}, {"o": (200, 9)}, "o").verdict is Verdict.CONSIDER
    assert judge_counts({}, {}, "o").verdict is Verdict.INCONCLUSIVE


def test_every_backends_rate_in_the_shape_the_view_folds():
    from cockpit.traffic import judge_all, rates_text
    from cockpit.traffic_view import rates_from_lines

    every = judge_all({"old": (10, 0), "new": (5, 1)}, {"old": (1010, 4), "new": (405, 25), "idle": (0, 0)})
    assert list(every) == ["old", "new", "idle"]
    assert every["new"].verdict is Verdict.ROLLBACK_NOW and every["idle"].verdict is Verdict.INCONCLUSIVE
    line = f"step 2 error rates — {rates_text(every)}"
    assert line == ("step 2 error rates — old: 0.4% errors over 1000 requests — new: 6.0% errors over 400 requests"
                    " — idle: no requests during the hold")
    rates = rates_from_lines([line])
    assert set(rates) == {"old", "new"}  # no requests: no rate shown rather than a made-up 0%
    assert (rates["old"].rate, rates["old"].requests, rates["old"].step) == (0.004, 1000, 2)
    assert (rates["new"].rate, rates["new"].requests) == (0.06, 400)
