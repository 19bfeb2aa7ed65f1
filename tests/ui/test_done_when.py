"""Issue 12's "Done when", as one operator and one observer would live it on the bad-image
drill (the real embedded world): the operator watches the bad release, then ``h``, ``enter``,
``y``; an observer started with ``--readonly --follow JOURNAL`` and no kubeconfig shows the
verdict and the rollback; ``cockpit report JOURNAL --format json`` (the installed CLI's
module, as a subprocess) has a numeric ``peak.error_rate`` >= 0.2 — the samples the
operator's session journaled — and lists the unticked checks with ``ok: null``.
(``R`` asking about open checks and ``h`` not offering revision 3: tests/ui/test_rails.py.)"""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import pytest

from cockpit.model import Target
from cockpit.world.world import World
from tests.ui.fakes import args
from tests.ui.test_flows import confirm_shown, history_placed, settings, until

pytestmark = pytest.mark.slow
TARGET = Target("checkout", "shop")


def test_operator_then_observer_then_report(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("COCKPIT_LOCK_DIR", str(tmp_path / "locks"))
    world = World("bad-image", speed=20).start()
    journal = []

    async def operator():
        from cockpit.app import CockpitApp

        app = CockpitApp(args(drill=True, scenario="bad-image"), world_factory=lambda *a, **k: world,
                         settings=settings(COCKPIT_WATCH__JOURNAL_SAMPLES_S="1"))
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.data.decision is not None
                        and app.data.decision.verdict.value == "ROLLBACK_NOW", timeout=30)
            seen = time.monotonic()
            await until(pilot, lambda: time.monotonic() - seen > 3.5)  # the bad release, watched for a while
            await pilot.press("h")
            await until(pilot, lambda: app.data.history_for == TARGET and history_placed(app), what="the history on screen")
            await pilot.press("enter")
            await confirm_shown(pilot, app)
            await pilot.press("y")
            await until(pilot, lambda: app.data.state.run_status == "ok", timeout=30)
            journal.append(app.session.journal_path)

    async def observer():
        from cockpit.app import CockpitApp
        from screens.modals import ErrorModal

        monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-cluster"))
        app = CockpitApp(args(readonly=True, follow=journal[0], kubeconfig=str(tmp_path / "no-cluster")),
                         settings=settings())
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.data.state.run_status == "ok" and app.data.decision is not None)
            assert app.session.backend is None and not isinstance(app.screen, ErrorModal)
            await until(pilot, lambda: app.screen.query("#verdict")
                        and "the operator's, from the journal" in str(app.screen.query_one("#verdict").render()))
            verdict = str(app.screen.query_one("#verdict").render())
            # the operator's latest verdict (after the rollback: stabilizing), marked as theirs
            assert f"verdict: {app.data.state.verdict}" in verdict and "from the journal" in verdict
            assert "ROLLBACK_NOW" in [r.get("value") for r in app.data.records if r["type"] == "verdict"]
            await pilot.press("r")
            await until(pilot, lambda: app.screen is app.get_screen("rollback") and app.screen.query("#log")
                        and "rolled back" in "".join(strip.text for strip in app.screen.query_one("#log").lines),
                        what="the rollout log on screen")

    try:
        asyncio.run(operator())
    finally:
        world.stop()
    asyncio.run(observer())

    p = subprocess.run([sys.executable, "-m", "cockpit", "report", str(journal[0]), "--format", "json"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    peak = report["peak"]["error_rate"]
    assert isinstance(peak, float) and peak >= 0.2
    assert isinstance(report["peak"]["p95_ms"], float)
    unticked = [c for c in report["checks"] if c["ok"] is None]
    assert {"smoke_tests", "postmortem_scheduled"} <= {c["id"] for c in unticked}
    assert all(set(c) >= {"id", "title", "ok", "who", "note"} for c in report["checks"])
    assert report["rolled_back"]["to_revision"] == 2 and isinstance(report["rolled_back"]["images"], list)
    assert "ROLLBACK_NOW" in json.dumps(report["reason"]) or "error rate" in json.dumps(report["reason"])
