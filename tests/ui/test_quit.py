"""Issue 12, rails: ``q`` during an open incident asks before quitting and says the incident
stays open (the next cockpit offers to resume it); with none open, or readonly, it quits."""
from __future__ import annotations

import asyncio
import time

import pytest

from cockpit.model import Target
from cockpit.session import Session
from tests.ui.fakes import args
from tests.ui.test_flows import settings, until

pytestmark = pytest.mark.slow
TARGET = Target("checkout", "shop")


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("COCKPIT_LOCK_DIR", str(tmp_path / "locks"))


def run(session: Session, keys_then_check):
    async def go():
        from cockpit.app import CockpitApp

        app = CockpitApp(args(), session=session, settings=settings())
        async with app.run_test(size=(120, 40)) as pilot:
            await keys_then_check(app, pilot)
        return app

    return asyncio.run(go())


def test_q_with_an_open_incident_asks_and_names_what_stays(tmp_path, isolated):
    from screens.questions import Question

    session = Session(backend=None, journal_path=tmp_path / "incident.jsonl")

    async def steps(app, pilot):
        await pilot.pause(0.2)  # the operator acts: the incident opens (as a tick or a rollback opens it)
        await asyncio.get_running_loop().run_in_executor(None, lambda: app.incident.open_for(TARGET, "test"))
        await until(pilot, lambda: app.data.state.target == "shop/checkout")
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, Question) and app.screen.query("#question-body"))
        body = " ".join(str(w.render()) for w in app.screen.query("Static")).replace("\n", " ")
        assert "shop/checkout" in body and "stays" in body and "resume" in body and str(tmp_path / "incident.jsonl") in body
        await pilot.press("n")  # stay
        await until(pilot, lambda: not isinstance(app.screen, Question), what="the question closed")
        await pilot.pause(0.2)  # and the cockpit stays
        assert app.is_running and not isinstance(app.screen, Question)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, Question) and app.screen.query("#question-body"))
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running)

    app = run(session, steps)
    assert app.return_code == 0
    assert (tmp_path / "incident.jsonl").exists()  # the incident stays: nothing was resolved or removed
    session.close()


def test_q_with_no_incident_quits_at_once(tmp_path, isolated):
    session = Session(backend=None, journal_path=tmp_path / "incident.jsonl")

    async def steps(app, pilot):
        await pilot.pause(0.2)
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running)

    run(session, steps)
    session.close()


def test_q_during_a_rollback_exits_promptly_and_the_resume_sends_nothing_twice(tmp_path, isolated):
    """Quitting while the rollback waits for its rollout (a slow world) does not wait for it to
    finish; the PATCH that went out stays the only one, and a resume reconciles it."""
    from backends.kubernetes.backend import connect
    from cockpit.compose import load_step_kinds
    from cockpit.journal import read_journal
    from cockpit.state import replay
    from cockpit.world.world import World
    from screens.questions import Question

    load_step_kinds()
    world = World("bad-image", speed=0.05).start()  # a rollout that takes minutes
    kubeconfig = world.write_kubeconfig(tmp_path / "kc")
    session = Session(backend=connect(str(kubeconfig)), journal_path=tmp_path / "incident.jsonl")
    asked: list[float] = []

    async def steps(app, pilot):
        from screens.messages import RollbackConfirmed

        await pilot.pause(0.2)
        app.post_message(RollbackConfirmed(TARGET, 3, 2, ()))  # h, enter, y
        await until(pilot, lambda: any("rolled back" in line.line for line in app.data.state.log), timeout=30)
        assert app.data.state.run_status == "running"  # patched, waiting for the rollout
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, Question) and app.screen.query("#question-body"))
        assert "stops waiting" in " ".join(str(w.render()) for w in app.screen.query("Static"))
        asked.append(time.monotonic())
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running, timeout=60)

    try:
        run(session, steps)
        # the app is gone long before the rollout could have finished (it takes minutes here)
        assert time.monotonic() - asked[0] < 20 and world.store.require("deployments", "shop", "checkout")[
            "status"].get("updatedReplicas", 0) < 4
        patches = [m for m, _ in world.request_log if m == "PATCH"]
        assert len(patches) == 1
        session.close()

        again = Session(backend=connect(str(kubeconfig)), journal_path=tmp_path / "incident.jsonl")
        again.attach(tmp_path / "incident.jsonl")
        again.run_rollback(TARGET, 0, (), lambda _line: None, resume=True)
        again.close()
        assert [m for m, _ in world.request_log if m == "PATCH"] == patches  # reconciled, not sent again
        rolls = [a for a in replay(read_journal(tmp_path / "incident.jsonl")).actions if a.action == "kubernetes.rollback"]
        assert rolls and all(a.outcome is not None for a in rolls)
    finally:
        world.stop()


def test_q_during_a_fleet_rollback_asks_and_names_the_command_that_continues_it(tmp_path, isolated):
    from screens.questions import Question

    session = Session(backend=None, journal_path=tmp_path / "incident.jsonl")

    async def steps(app, pilot):
        await pilot.pause(0.2)
        app.fleet.view.busy, app.fleet.view.journal = "running", str(tmp_path / "fleet.jsonl")  # as FleetRun sets them
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, Question) and app.screen.query("#question-body"))
        body = " ".join(str(w.render()) for w in app.screen.query("Static")).replace("\n", " ")
        assert "fleet rollback is running" in body and f"cockpit rollback --journal {tmp_path / 'fleet.jsonl'}" in body
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, Question), what="the question closed")
        await pilot.pause(0.2)  # and the cockpit stays
        assert app.is_running
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, Question) and app.screen.query("#question-body"))
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running)

    run(session, steps)
    session.close()
