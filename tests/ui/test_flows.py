"""Pilot tests of every flow against the real embedded world (high speed): operator rollback
to resolved, abort of an automatic rollback, readonly refusals, resume after a crash, an
observer following an operator."""
from __future__ import annotations

import asyncio
import time

import pytest

from cockpit.config import load_settings
from cockpit.world.world import World
from cockpit.errors import ReadonlyError
from cockpit.journal import Journal, read_journal
from cockpit.model import Target
from cockpit.state import replay
from tests.ui.fakes import args

pytestmark = pytest.mark.slow
TARGET = Target("checkout", "shop")


@pytest.fixture
def state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
def world():
    w = World("bad-image", speed=20).start()
    yield w
    w.stop()


def settings(**env):
    base = {"COCKPIT_WATCH__WINDOW_S": "3", "COCKPIT_WATCH__STABILIZATION_S": "1", "COCKPIT_WATCH__COUNTDOWN_S": "3"}
    base.update(env)
    return load_settings(use_file=False, env=base)


async def until(pilot, cond, timeout=20.0, step=0.1, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        await pilot.pause(step)
    raise AssertionError(f"{what} not met within {timeout}s")


def history_placed(app) -> bool:
    """The history screen is composed, shows the revisions and its cursor is on one (enter acts on it)."""
    screen = app.screen
    return (type(screen).__name__ == "HistoryScreen" and bool(screen.query("#revisions"))
            and screen.selected() is not None)


async def confirm_shown(pilot, app) -> None:
    """The rollback confirmation is composed, not only pushed (its y acts on it)."""
    from screens.modals import ConfirmRollback

    await until(pilot, lambda: isinstance(app.screen, ConfirmRollback) and app.screen.query("#confirm-body"),
                what="the rollback confirmation composed")


def live_revision(world) -> int:
    from backends.kubernetes.backend import KubeBackend
    from backends.kubernetes.transport import HttpTransport  # noqa: F401
    d = world.store.get("deployments", "shop", "checkout")
    return int(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"])


def incidents(state_home) -> list:
    return [p.resolve() for p in state_home.rglob("*.jsonl") if p.parent.name == "incidents"]


def drill_app(world, **kw):
    from cockpit.app import CockpitApp

    return CockpitApp(args(drill=True, scenario="bad-image", **kw), settings=settings(),
                      world_factory=lambda *a, **k: world)


def test_operator_flow_to_resolved(world, state_home):
    async def go():
        app = drill_app(world)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.data.snapshot is not None and app.data.target == TARGET)
            await pilot.press("h")
            await until(pilot, lambda: app.data.history_for == TARGET)
            await until(pilot, lambda: 2 in app.data.diffs)  # the diff pane of revision 2 vs live
            assert any("1.4.2" in line for line in app.data.diffs[2].lines)
            await until(pilot, lambda: history_placed(app), what="the history on screen")
            await pilot.press("enter")  # confirm modal names target, from -> to
            await confirm_shown(pilot, app)
            assert app.screen.chosen.number == 2 and app.screen.live.number == 3
            await pilot.press("y")  # h, enter, y: three keystrokes from the dashboard
            await until(pilot, lambda: app.data.state.run_status == "ok", timeout=30)
            assert app.data.state.revision["revision"] == 2
            await until(pilot, lambda: app.data.state.log_count >= 2)
            await pilot.press("c")
            await until(pilot, lambda: "rollout_complete" in app.data.state.checks, timeout=20)
            assert app.data.state.checks["rollout_complete"].who == "cockpit"
            await until(pilot, lambda: type(app.screen).__name__ == "ChecklistScreen" and app.screen.query("#checks")
                        and app.screen.query_one("#checks").row_count == len(app.screen.current_rows()) > 0,
                        what="the checklist on screen")
            table = app.screen.query_one("#checks")
            rows = [r.id for r in app.screen.current_rows()]
            table.move_cursor(row=rows.index("smoke_tests"))
            await pilot.press("space")
            await until(pilot, lambda: "smoke_tests" in app.data.state.checks)
            tick = app.data.state.checks["smoke_tests"]
            assert tick.ok and "@" in tick.who and tick.at is not None
            await pilot.press("R")
            from screens.questions import Question

            await until(pilot, lambda: isinstance(app.screen, Question)  # checks are open: R asks first
                        and app.screen.query("#question-body"))
            await pilot.press("y")  # resolve anyway
            await until(pilot, lambda: app.data.state.resolved)
            path = app.session.journal_path
        recs = read_journal(path)
        assert [r["type"] for r in recs].count("incident_resolved") == 1
        assert any(r["type"] == "intent" for r in recs) and any(r["type"] == "check" for r in recs)
        assert live_revision(world) == 4  # revision 2 re-numbered as the newest, like kubectl

    asyncio.run(go())


def test_browsing_opens_no_incident_and_the_rollback_is_journaled_for_its_target(world, state_home):
    """History on one deployment, then another, then a rollback of the second: browsing
    wrote nothing (no journal, no incident, no lock for a colleague to trip on) and the one
    incident is the rolled-back deployment's."""
    from screens import messages as msg

    cart = Target("cart", "shop")

    async def go():
        app = drill_app(world)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.data.snapshot is not None and app.data.target == TARGET)
            app.post_message(msg.TargetPicked(cart))
            await until(pilot, lambda: app.data.target == cart)
            await pilot.press("h")
            await until(pilot, lambda: app.data.history_for == cart)
            await pilot.press("escape")
            app.post_message(msg.TargetPicked(TARGET))
            await until(pilot, lambda: app.data.target == TARGET)
            await pilot.press("h")
            await until(pilot, lambda: app.data.history_for == TARGET)
            await until(pilot, lambda: history_placed(app), what="the history on screen")
            await pilot.pause(0.3)
            assert app.session.journal is None and app.data.records == []
            assert not incidents(state_home) and not world.store.list("leases")  # no incident, no lock
            await pilot.press("enter")
            await confirm_shown(pilot, app)
            await pilot.press("y")
            await until(pilot, lambda: app.data.state.run_status == "ok", timeout=30)
            path = app.session.journal_path
            # acting took the target's lock (the Lease; released when the cockpit exits)
            assert [lease["metadata"]["name"] for lease in world.store.list("leases")] == ["cockpit-incident-checkout"]
        assert incidents(state_home) == [path.resolve()]
        recs = read_journal(path)
        assert [r["target"] for r in recs if r["type"] == "incident_opened"] == ["shop/checkout"]
        assert live_revision(world) == 4

    asyncio.run(go())


def test_abort_automatic_rollback(world, state_home):
    async def go():
        app = drill_app(world)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.data.snapshot is not None)
            await pilot.press("a")
            assert app.data.auto_armed
            await until(pilot, lambda: app.data.auto_remaining is not None, timeout=30)
            await pilot.press("x")
            await until(pilot, lambda: app.live.auto.aborted and app.data.auto_remaining is None,
                        what="the automatic rollback aborted")
            await pilot.pause(4.0)  # longer than the 3 s countdown
            assert live_revision(world) == 3
            assert app.data.state.run_status is None

    asyncio.run(go())


def test_readonly_refusals(world, state_home, tmp_path):
    kubeconfig = world.write_kubeconfig(tmp_path / "kc")

    async def go():
        from cockpit.app import CockpitApp

        app = CockpitApp(args(readonly=True, kubeconfig=str(kubeconfig)), settings=settings())
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.session is not None and app.data.targets)
            assert app.session.backend.readonly
            with pytest.raises(ReadonlyError):
                app.session.backend.rollback(TARGET, 2)
            with pytest.raises(ReadonlyError):
                app.session.open_incident(TARGET, "x")
            assert app.screen.check_action("toggle_arm", ()) is False  # absent from footer and help
            assert app.check_action("abort_auto", ()) is False
            assert app.check_action("goto", ("history",)) is True
            app.on_target_picked(type("M", (), {"target": TARGET})())
            await pilot.press("h")
            await until(pilot, lambda: app.data.history_for == TARGET and history_placed(app), what="the history on screen")
            await pilot.press("enter")
            await pilot.pause(0.3)
            from screens.modals import ConfirmRollback

            assert not isinstance(app.screen, ConfirmRollback)
        assert live_revision(world) == 3
        assert not [m for m, _ in world.request_log if m != "GET"]  # not a byte of a write left

    asyncio.run(go())


def test_resume_after_crash(world, state_home, tmp_path):
    """A crash after the fsynced intent, before the patch: resume runs the step exactly once."""
    from cockpit.session import Session
    from backends.kubernetes.backend import connect

    kubeconfig = world.write_kubeconfig(tmp_path / "kc")
    s = Session(backend=connect(str(kubeconfig)))
    j = s.open_incident(TARGET, "test")
    j.append("phase", phase="execute")
    from cockpit.rollback import RollbackRequest, runbook_yaml

    j.append("runbook", yaml=runbook_yaml(RollbackRequest(TARGET, to_revision=2)), revision=2, images=[])
    j.append("run_started", runbook="r", from_step=0, resume=False)
    j.append("step_started", index=0, kind="kubernetes.rollback", name="Roll back", budget=300, mutating=True)
    j.intent("kubernetes.rollback", step=0, name="Roll back", params={"to_revision": 2})
    path = j.path
    s.lock.release()  # the crashed process's lock (same pid here) must not block the resume
    j.close()

    async def go():
        from cockpit.app import CockpitApp
        from screens.modals import ResumePrompt

        app = CockpitApp(args(kubeconfig=str(kubeconfig)), settings=settings())
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, ResumePrompt))
            await pilot.press("y")
            await until(pilot, lambda: app.data.state.run_status == "ok", timeout=30)
            assert app.screen is app.get_screen("rollback")
        state = replay(read_journal(path))
        rolls = [a for a in state.actions if a.action == "kubernetes.rollback"]
        assert rolls[0].outcome.get("superseded") and rolls[-1].status == "ok"
        assert live_revision(world) == 4
        assert [m for m, p in world.request_log if m == "PATCH"].__len__() == 1

    asyncio.run(go())


def test_observer_follows_operator(world, state_home, tmp_path):
    from backends.kubernetes.backend import connect
    from cockpit.compose import load_step_kinds
    from cockpit.session import Session

    load_step_kinds()
    kubeconfig = world.write_kubeconfig(tmp_path / "kc")
    operator = Session(backend=connect(str(kubeconfig)))
    j = operator.open_incident(TARGET, "test")

    async def go():
        from cockpit.app import CockpitApp

        app = CockpitApp(args(readonly=True, follow=j.path, kubeconfig=str(kubeconfig)), settings=settings())
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.data.state.target == "shop/checkout")
            assert app.data.target == TARGET
            await pilot.press("r")
            loop = asyncio.get_running_loop()
            fut = loop.run_in_executor(None, lambda: operator.run_rollback(TARGET, 2, (), lambda _l: None))
            await until(pilot, lambda: app.data.state.run_status == "ok", timeout=30)
            await fut
            await until(pilot, lambda: app.screen.query("#log") and len(app.screen.query_one("#log").lines) >= 2,
                        what="the rollout log on screen")
            assert app.session.journal is None  # observers never open the journal for writing

    asyncio.run(go())
    operator.close()
