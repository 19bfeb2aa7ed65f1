"""Pilot: the rollback screen shows a runbook step of any kind like the Kubernetes step —
its line (running with its clock, then ✓ or ✗ with the elapsed time), the lines it logged
and a failure with its one-line error — from the journal the real executor wrote running
``memcached.flush`` against the suite's real memcached (one flush that works, one whose
guard names the wrong server and is refused before anything is sent)."""
from __future__ import annotations

import asyncio

import pytest
from textual.app import App

from cockpit.journal import Journal
from cockpit.state import replay
from screens.data import UIData

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("memcached")]


def test_a_memcached_flush_step_shows_its_progress(memcached_server, tmp_path):
    from pymemcache.client.base import Client

    from cockpit.compose import load_step_kinds
    from cockpit.executor import Executor
    from cockpit.runbook import load_runbook
    from cockpit.steps import StepContext
    from screens.rollback import RollbackScreen

    c = Client(("127.0.0.1", memcached_server.port))
    for i in range(30):
        c.set(f"sess:{i}", b"x")
    load_step_kinds()
    addr = memcached_server.address
    rb = tmp_path / "rb.yaml"
    rb.write_text(f"""name: flush the session cache
target: {{kind: deployment, namespace: shop, name: checkout}}
steps:
  - kind: memcached.flush
    name: flush the session cache
    params: {{server: "{addr}", confirm: "{addr}"}}
  - kind: memcached.flush
    name: flush the other cache
    params: {{server: "{addr}", confirm: "cache.internal:11211"}}
""")
    j = Journal.open(tmp_path / "j.jsonl")
    j.append("incident_opened", target="shop/checkout", kind="deployment", reason="test")
    result = Executor(load_runbook(rb), j, StepContext(backends={}, log=lambda line: None)).run()
    assert not result.ok
    records = j.read()
    j.close()
    first_done = next(i for i, r in enumerate(records) if r["type"] == "step_finished")
    running, done = replay(records[:first_done]), replay(records)
    data = UIData()

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(RollbackScreen(data))

    async def go():
        app = Host()
        async with app.run_test(size=(140, 30)) as pilot:
            await pilot.pause()
            shown = []
            for st in (running, done):
                data.state = st
                app.screen.show_all()
                await pilot.pause()
                shown.append((app.screen.query_one("#steps").render().plain, app.screen.query_one("#failure").render().plain,
                              "\n".join(s.text for s in app.screen.query_one("#log").lines)))
            return shown

    (steps1, fail1, _), (steps2, fail2, log2) = asyncio.run(go())
    assert "… 1. flush the session cache" in steps1 and not fail1  # running: the pending mark and its clock
    assert "✓ 1. flush the session cache" in steps2 and "✗ 2. flush the other cache" in steps2
    assert f"flush_all {addr}: 30 items before; verified" in log2
    assert "cache.internal:11211" in fail2  # the refused guard, one line, with the next action
    assert c.get("sess:1") is None
