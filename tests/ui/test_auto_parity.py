"""One automatic-rollback policy: an armed full-screen cockpit and an armed ``cockpit watch``,
each on its own bad-image world, journal the same events for the trigger (with the
countdown), the revision chosen (with why) and the rollback, and choose the same revision."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.journal import read_journal
from cockpit.world.world import World
from tests.ui.fakes import args
from tests.ui.test_flows import settings, until

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
KEY = ("trigger", "revision_chosen", "intent", "outcome")
FAST = {"COCKPIT_WATCH__INTERVAL_S": "1", "COCKPIT_WATCH__WINDOW_S": "3", "COCKPIT_WATCH__STABILIZATION_S": "1",
        "COCKPIT_WATCH__COUNTDOWN_S": "2"}


def story(records: list[dict]) -> list[str]:
    """The policy's events in order (the rollback's intent and outcome included)."""
    return [r["type"] for r in records if r["type"] in KEY and r.get("action", "kubernetes.rollback") == "kubernetes.rollback"]


def test_armed_tui_and_armed_watch_journal_the_same_policy(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    tui_world = World("bad-image", speed=20).start()
    watch_world = World("bad-image", speed=20).start()
    try:
        async def go():
            from cockpit.app import CockpitApp

            app = CockpitApp(args(drill=True, scenario="bad-image"), settings=settings(**FAST),
                             world_factory=lambda *a, **k: tui_world)
            async with app.run_test(size=(120, 40)) as pilot:
                await until(pilot, lambda: app.data.snapshot is not None)
                await pilot.press("a")
                await until(pilot, lambda: app.data.state.run_status == "ok", timeout=90)
                return app.session.journal_path

        tui_journal = asyncio.run(go())
        kc = watch_world.write_kubeconfig(tmp_path / "kc")
        watch_journal = tmp_path / "watch.jsonl"
        env = {**os.environ, **FAST, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
        p = subprocess.run([sys.executable, "-m", "cockpit", "--kubeconfig", str(kc), "--journal", str(watch_journal),
                            "watch", "checkout", "-n", "shop", "--auto-rollback", "--exit-when-verified",
                            "--duration", "90"], capture_output=True, text=True, env=env, timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
    finally:
        tui_world.stop()
        watch_world.stop()
    tui, watch = read_journal(tui_journal), read_journal(watch_journal)
    assert story(tui)[:4] == story(watch)[:4] == list(KEY)
    t_trig, w_trig = (next(r for r in rs if r["type"] == "trigger") for rs in (tui, watch))
    assert t_trig["auto"] is True and w_trig["auto"] is True
    assert t_trig["countdown_s"] == w_trig["countdown_s"] == 2.0
    assert t_trig["to_revision"] == w_trig["to_revision"] == 2
    t_rev, w_rev = (next(r for r in rs if r["type"] == "revision_chosen") for rs in (tui, watch))
    assert t_rev["revision"] == w_rev["revision"] == 2 and t_rev["why"] == w_rev["why"] and "previous" in t_rev["why"]
    assert t_rev["images"] == w_rev["images"] == ["registry.example/shop/checkout:1.4.2"]
    assert json.dumps(sorted(t_trig)) == json.dumps(sorted(w_trig))  # the same event shape
