"""Pilot: the rollback screen shows a traffic shift's split as it moves, with each version's
error rate beside it, from the journal (the journal written by the real shift loop; the port
is the in-memory stand-in of tests/unit/test_traffic_view.py)."""
from __future__ import annotations

import asyncio

from textual.app import App

from cockpit.journal import Journal
from cockpit.state import replay
from cockpit.traffic import make_plan, run_shift
from screens.data import UIData
from tests.unit.test_traffic_view import MemoryPort, judges


def test_the_split_line_moves_with_the_journal(tmp_path):
    from screens.rollback import RollbackScreen

    j = Journal.open(tmp_path / "j.jsonl")
    port = MemoryPort({"old": 0, "new": 100})
    plan = make_plan(port, "shop-route", "old", (70, 0), 0)
    states = []
    run_shift(port, plan, j, judge=judges((0.004, 812), (0.002, 1500)),
              wait=lambda ev, s: states.append(replay(j.read())) or False)
    states.append(replay(j.read()))
    data = UIData()

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(RollbackScreen(data))

    async def go():
        app = Host()
        seen = []
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.pause()
            line = app.screen.query_one("#traffic")
            assert not line.display  # no shift: no line
            for st in states:
                data.state = st
                app.screen.show("steps")
                await pilot.pause()
                assert line.display
                seen.append(line.render().plain)
        return seen

    first, second, end = asyncio.run(go())
    assert "traffic shop-route  step 1/2 · running  keeping traffic: old" in first
    assert "old  ██████░░░░░░░░░░░░░░   30%   error rate not measured" in first
    assert "new  ██████████████░░░░░░   70%" in first
    assert "step 2/2 · running" in second and "old  ████████████████████  100%   0.4% errors (812 req, step 1)" in second
    assert "step 2/2 · done" in end and "0.2% errors (1500 req, step 2)" in end
