"""Screens render from the settings only: the matrix bands and the plot threshold lines follow
``decision.matrix`` and place values with the engine's own :func:`cockpit.matrix.band`."""
from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.config import DecisionConfig
from cockpit.matrix import Sample, Verdict, crash_reason, error_rate_reason, p95_reason
from screens import render
from screens.data import UIData

CUSTOM = DecisionConfig.model_validate({"matrix": {
    "error_rate": {"rollback_above": 0.10, "consider_from": 0.04, "monitor_from": 0.02},
    "p95_ms": {"rollback_above": 3000, "consider_from": 1500, "monitor_from": 800},
    "crashes": {"rollback_above": 5, "monitor_from": 2},
}})


class D:
    def __init__(self, **values) -> None:
        self.sample = Sample(at=0, window_s=60, **values)


def rows(cfg, **values) -> dict:
    return {name: (value, level, labels) for name, value, level, labels in render.matrix_rows(D(**values).sample, cfg)}


def test_defaults_are_the_runbook_bands():
    r = rows(None, error_rate=0.06, p95_ms=600.0, crashes=0)
    assert r["errors"] == ("6.0%", "ROLLBACK_NOW", ("<1%", "1-2%", "2-5%", ">5%"))
    assert r["p95"] == ("600ms", "MONITOR", ("<500", "500-1000", "1-2s", ">2s"))
    assert r["restarts"] == ("0", "OK", ("0", "1-3", "", ">3"))
    assert render.plot_thresholds(None) == {"error_rate": 0.05, "error_ok": 0.01, "p95_ms": 2000.0, "p95_ok": 500.0}


def test_configured_thresholds_move_the_matrix_rows():
    r = rows(CUSTOM, error_rate=0.06, p95_ms=600.0, crashes=4)
    assert r["errors"] == ("6.0%", "CONSIDER", ("<2%", "2-4%", "4-10%", ">10%"))
    assert r["p95"] == ("600ms", "OK", ("<800", "800-1500", "1.5-3s", ">3s"))
    assert r["restarts"] == ("4", "MONITOR", ("<2", "2-5", "", ">5"))
    text = render.matrix(D(error_rate=0.06, p95_ms=600.0, crashes=4), CUSTOM).plain
    assert "2-4%" in text and ">10%" in text and ">3s" in text and ">5%" not in text  # 4-10%: the value's cell
    assert render.matrix(D(error_rate=0.06), None).plain != render.matrix(D(error_rate=0.06), CUSTOM).plain


def test_configured_thresholds_move_the_plot_lines():
    assert UIData().thresholds == render.plot_thresholds(None)
    assert UIData(decision_config=CUSTOM).thresholds == {"error_rate": 0.10, "error_ok": 0.02,
                                                         "p95_ms": 3000.0, "p95_ok": 800.0}


def test_no_value_no_highlight():
    assert all(level is None for _v, level, _l in rows(CUSTOM).values())


bands = st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0)).map(sorted)
latency = st.tuples(st.floats(1.0, 60_000.0), st.floats(1.0, 60_000.0), st.floats(1.0, 60_000.0)).map(sorted)


@settings(max_examples=200, deadline=None)
@given(bands, latency, st.integers(1, 10), st.integers(0, 10), st.floats(0.0, 1.0), st.floats(0.0, 70_000.0),
       st.integers(0, 20))
def test_the_screen_places_every_value_where_the_engine_judges_it(e, lt, mon, extra, err, p95, crashes):
    cfg = DecisionConfig.model_validate({"matrix": {
        "error_rate": {"monitor_from": e[0], "consider_from": e[1], "rollback_above": e[2]},
        "p95_ms": {"monitor_from": lt[0], "consider_from": lt[1], "rollback_above": lt[2]},
        "crashes": {"monitor_from": mon, "rollback_above": mon + extra},
    }})
    r = rows(cfg, error_rate=err, p95_ms=p95, crashes=crashes)
    assert r["errors"][1] == error_rate_reason(err, cfg, 60).level.value
    assert r["p95"][1] == p95_reason(p95, cfg, 60).level.value
    assert r["restarts"][1] == crash_reason(crashes, cfg, 300).level.value
    assert r["errors"][1] != Verdict.INCONCLUSIVE.value


def test_dashboard_draws_the_configured_lines_and_bands():
    """The real dashboard over fixture data, with the settings' decision section handed in."""
    from screens.widgets import MetricPlot
    from tests.ui.fakes import StaticCockpit

    class Configured(StaticCockpit):
        def setup(self) -> None:
            self.data.decision_config = CUSTOM
            self.decision_config = CUSTOM
            super().setup()

    async def go() -> tuple:
        app = Configured("dashboard")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            return (app.screen.query_one("#err", MetricPlot).thresholds,
                    app.screen.query_one("#p95", MetricPlot).thresholds,
                    str(app.screen.query_one("#matrix").render()))

    err, p95, matrix = asyncio.run(go())
    assert err == ((0.10, "red"), (0.02, "green")) and p95 == ((3000.0, "red"), (800.0, "green"))
    assert "4-10%" in matrix and "1.5-3s" in matrix and "2-5%" not in matrix


def test_the_first_frames_default_bands_are_the_settings_defaults():
    """Before a configuration is loaded the screens use cockpit.matrix's defaults (no pydantic on
    the first frame); they are the very values the settings default to."""
    from cockpit.config import DecisionConfig
    from cockpit.matrix import DEFAULT_BANDS, default_matrix

    m, d = DecisionConfig().matrix, default_matrix()
    for row, fields in DEFAULT_BANDS.items():
        for name in fields:
            assert getattr(getattr(m, row), name) == getattr(getattr(d, row), name), (row, name)
    from screens.render import plot_thresholds

    assert plot_thresholds(None) == plot_thresholds(DecisionConfig())
