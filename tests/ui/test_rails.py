"""Pilot tests of issue 12's rails on the bad-image drill (the real embedded world): ``h``,
``enter``, ``y``, the rollback; then the history marks the revision rolled back from and never
offers it first, the checklist starts on the first open item, ``R`` asks naming the open checks
and resolving anyway journals them; the progress line never shows the previous rollout's
"complete" for a rollback that has just started; a step is titled with the revision it
resolved; the rollout log has no repeated lines; a resume on the history shows it."""
from __future__ import annotations

import asyncio
import re

import pytest

from cockpit.journal import read_journal
from cockpit.model import Target
from cockpit.world.world import World
from tests.ui.fakes import args
from tests.ui.test_flows import settings, until

pytestmark = pytest.mark.slow
TARGET = Target("checkout", "shop")
BAD_IMAGE = ("registry.example/shop/checkout:1.5.0",)


@pytest.fixture
def state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("COCKPIT_LOCK_DIR", str(tmp_path / "locks"))
    return tmp_path / "state"


def drill_app(world):
    from cockpit.app import CockpitApp

    return CockpitApp(args(drill=True, scenario="bad-image"), settings=settings(), world_factory=lambda *a, **k: world)


def shown(screen, selector: str) -> str:
    """What a text widget shows (plain)."""
    return str(screen.query_one(selector).render())


def history_shows(app, keys: set[str]) -> bool:
    """The history screen is on top and its table shows these revisions (placed with them)."""
    from screens.history import HistoryScreen

    screen = app.screen
    return (isinstance(screen, HistoryScreen) and bool(screen.query("#revisions"))
            and {row.key.value for row in screen.query_one("#revisions").ordered_rows} == keys)


def redraws(screen) -> list[str]:
    """The parts the app redraws on ``screen`` from now on (its coalesced redraw runs ~50 ms
    after a change): a sync point for "what arrived is on screen now" (the redraw itself runs)."""
    seen: list[str] = []
    show = screen.show

    def recorded(part: str) -> None:
        show(part)
        seen.append(part)

    screen.show = recorded
    return seen


def no_repeats(lines: list[str]) -> list[str]:
    return [a for a, b in zip(lines, lines[1:]) if a == b]


def test_bad_image_drill_rails(state_home):
    from screens.questions import Question

    world = World("bad-image", speed=20).start()

    async def go():
        app = drill_app(world)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.data.snapshot is not None and app.data.target == TARGET)
            await pilot.press("h")
            await until(pilot, lambda: app.data.history_for == TARGET and history_shows(app, {"3", "2", "1"}),
                        what="the history table")
            await pilot.press("enter")
            from screens.modals import ConfirmRollback

            await until(pilot, lambda: isinstance(app.screen, ConfirmRollback) and app.screen.query("#confirm-body"),
                        what="the confirm modal composed")
            await pilot.press("y")
            await until(pilot, lambda: app.data.state.run_status == "ok", timeout=30)
            await until(pilot, lambda: app.data.state.phase == "verify")

            # the rollout log: every journaled line once, none repeated
            lines = [line.line for line in app.data.state.log]
            assert any(line.startswith("Waiting for deployment") for line in lines) and not no_repeats(lines)
            rollout = [line.replace(" ", "") for line in set(lines) if line.startswith(("Waiting", "deployment"))]

            def log_on_screen() -> str:
                return "".join(strip.text for strip in app.screen.query_one("#log").lines).replace(" ", "")

            await until(pilot, lambda: all(line in log_on_screen() for line in rollout), what="the rollout log on screen")
            shown_log = log_on_screen()
            for line in set(lines):  # (wrapped lines lose their spaces at the wrap: compared without)
                if line.startswith(("Waiting", "deployment")):
                    assert shown_log.count(line.replace(" ", "")) == lines.count(line) == 1, line
            assert "revision 0" not in shown(app.screen, "#steps")

            # after the rollback, h: revision 3 (1.5.0, rolled back from) is marked and not offered
            rolled = app.data.state.rolled_back
            await pilot.press("h")
            await until(pilot, lambda: any(r.live and r.number == 4 for r in app.data.history)
                        and app.data.history_for == TARGET)
            await until(pilot, lambda: history_shows(app, {"4", "3", "1"}) and app.screen.selected() is not None,
                        what="the renumbered history on screen")
            history = app.screen
            chosen = history.selected()
            assert chosen is not None and chosen.images != BAD_IMAGE and chosen.number == 1
            table = history.query_one("#revisions")
            bad_row = [c.plain for c in table.get_row("3")]
            hhmm = rolled.at.astimezone().strftime("%H:%M")
            assert f"rolled back from at {hhmm}" in bad_row[3]
            live_row = [c.plain for c in table.get_row("4")]
            assert live_row[1].endswith("s") and f"live since {hhmm}" in live_row[3]  # not its ReplicaSet's 2d
            assert [row.key.value for row in table.ordered_rows] == ["4", "3", "1"]  # newest first after renumbering
            await pilot.press("up")  # the cursor moves over the rows as shown
            assert history.selected().number == 3
            await pilot.press("up")
            assert history.selected().number == 4

            # the checklist starts on the first open item, not on the automatic ones
            await pilot.press("c")
            from screens.checklist import ChecklistScreen

            await until(pilot, lambda: isinstance(app.screen, ChecklistScreen) and app.screen.query("#checks")
                        and app.screen.query_one("#checks").row_count > 0, what="the checklist on screen")
            checklist = app.screen
            rows = checklist.current_rows()
            at = rows[checklist.query_one("#checks").cursor_row]
            assert at.id == "smoke_tests" and not at.auto

            # R with checks open asks, naming how many and which; n goes back
            def still_open() -> list:
                return [r for r in rows if not ((c := app.data.state.checks.get(r.id)) and c.ok)]

            before = still_open()
            await pilot.press("R")
            await until(pilot, lambda: isinstance(app.screen, Question) and app.screen.query("#question-body"))
            body = shown(app.screen, "#question-body")
            left = still_open()
            # the automatic checks go on completing meanwhile (seconds on a loaded machine): the count
            # named is the one when R was pressed, between what was open before it and what is open now
            named = re.search(r"(\d+) of (\d+) checks are not verified yet", body)
            assert named and int(named[2]) == len(rows) and len(left) <= int(named[1]) <= len(before), (body, len(left), len(before))
            assert "Smoke tests" in body or left[0].title in body
            await pilot.press("n")
            await until(pilot, lambda: app.screen is checklist, what="the question closed")
            await pilot.pause(0.5)  # nothing resolves after a no
            assert not isinstance(app.screen, Question) and not app.data.state.resolved
            assert all(r["type"] != "incident_resolved" for r in read_journal(app.session.journal_path))

            # resolving anyway is journaled as such
            await pilot.press("R")
            await until(pilot, lambda: isinstance(app.screen, Question) and app.screen.query("#question-body"))
            await pilot.press("y")
            await until(pilot, lambda: app.data.state.resolved)
            resolved = [r for r in read_journal(app.session.journal_path) if r["type"] == "incident_resolved"]
            assert len(resolved) == 1 and "smoke_tests" in resolved[0]["open_checks"]
            assert set(app.data.state.resolved_with_open_checks) >= {r.id for r in left if not r.auto}

    try:
        asyncio.run(go())
    finally:
        world.stop()


def test_progress_is_starting_until_read_after_the_rollback_began_and_the_step_names_its_revision(state_home):
    """A snapshot read before the rollback (its 4/4 complete is the bad release's rollout) that
    arrives after it was asked for — before its run is journaled, and while it runs — shows
    "starting…"; a rollback to "the previous revision" (revision 0, as an automatic rollback
    without a plan asks) is titled with the revision its step resolved."""
    world = World("bad-image", speed=2).start()

    async def follow(app, pilot, old) -> None:
        from screens.rollback import RollbackScreen

        # the rollback screen is composed and shown (it notes when the rollback was asked for)
        await until(pilot, lambda: isinstance(app.screen, RollbackScreen) and app.screen.query("#progress")
                    and "starting" in shown(app.screen, "#progress"), what="the rollback screen shown")
        seen = redraws(app.screen)
        app.cluster.got_snapshot(old)  # the poll that began before the rollback delivers late
        await until(pilot, lambda: "snapshot" in seen, what="the late snapshot redrawn")
        text = shown(app.screen, "#progress")
        assert "starting" in text and "complete" not in text
        await until(pilot, lambda: app.data.state.run_status == "running" and app.data.state.chosen, timeout=20)
        seen.clear()
        app.cluster.got_snapshot(old)
        await until(pilot, lambda: "snapshot" in seen and "revision 2" in shown(app.screen, "#steps"),
                    what="the late snapshot redrawn and the step titled")
        assert "complete" not in shown(app.screen, "#progress")
        assert "revision 2" in shown(app.screen, "#steps") and "previous" not in shown(app.screen, "#steps")
        await until(pilot, lambda: "updated" in shown(app.screen, "#progress"), timeout=20)  # read after the patch
        await until(pilot, lambda: app.data.state.run_status == "ok", timeout=40)
        await until(pilot, lambda: "complete" in shown(app.screen, "#progress"), timeout=10)
        steps = shown(app.screen, "#steps")
        assert "Roll back checkout to revision 2" in steps and "revision 0" not in steps

    async def go():
        app = drill_app(world)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.data.snapshot is not None and app.data.snapshot.progress is not None)
            old = app.data.snapshot
            assert old.progress.complete and old.deployment.images == BAD_IMAGE
            import screens.render as render

            drawn: list[tuple[str, str | None]] = []  # every progress line drawn, and the run's status then
            draw = render.progress_text

            def recorded(p, starting=False):
                text = draw(p, starting)
                drawn.append((text.plain, app.data.state.run_status))
                return text

            render.progress_text = recorded
            try:
                app.start_rollback(TARGET, 0, ())  # the screen opens, the rollback is asked for
                app.cluster.got_snapshot(old)  # a late poll lands even before the screen shows
                assert app.data.progress is not None and app.data.progress.complete
                try:
                    await follow(app, pilot, old)
                except BaseException:
                    app.session.cancel.set()  # a failure must not wait for the rollout to end
                    raise
            finally:
                render.progress_text = draw
            early = [text for text, status in drawn if status != "ok" and "complete" in text]
            assert drawn and not early, early  # never the bad release's "complete" before this run ended

    try:
        asyncio.run(go())
    finally:
        world.stop()


def test_resume_on_the_history_shows_the_history(state_home, tmp_path):
    """An incident left in ``identify`` resumes on the history, which loads without leaving it."""
    from backends.kubernetes.backend import connect
    from cockpit.session import Session

    world = World("bad-image", speed=20).start()
    try:
        kubeconfig = world.write_kubeconfig(tmp_path / "kc")
        s = Session(backend=connect(str(kubeconfig)))
        j = s.open_incident(TARGET, "test")
        j.append("phase", phase="identify")
        s.close()

        async def go():
            from cockpit.app import CockpitApp
            from screens.modals import ResumePrompt

            app = CockpitApp(args(kubeconfig=str(kubeconfig)), settings=settings())
            async with app.run_test(size=(120, 40)) as pilot:
                await until(pilot, lambda: isinstance(app.screen, ResumePrompt))
                await pilot.press("y")
                await until(pilot, lambda: app.is_screen_installed("history") and app.screen is app.get_screen("history"))
                # without leaving the screen (before: "loading…" until you left and came back)
                await until(pilot, lambda: app.data.history_for == TARGET, timeout=10)
                await until(pilot, lambda: "live: revision 3" in shown(app.screen, "#hist-title")
                            and app.screen.selected() is not None, timeout=10, what="the history on screen")
                title = shown(app.screen, "#hist-title")
                assert "loading" not in title and "live: revision 3" in title, title
                assert app.screen.selected().number == 2

        asyncio.run(go())
    finally:
        world.stop()


def test_a_rollback_from_another_session_is_marked_from_the_deployments_note(state_home, tmp_path):
    """A colleague rolled back from another bastion (another journal): a new cockpit has no
    journal of it, yet the history marks revision 3 from the deployment's note and does not
    offer it first."""
    from backends.kubernetes.backend import connect
    from cockpit.compose import load_step_kinds
    from cockpit.session import Session

    load_step_kinds()
    world = World("bad-image", speed=20).start()
    try:
        kubeconfig = world.write_kubeconfig(tmp_path / "kc")
        colleague = Session(backend=connect(str(kubeconfig)), journal_path=tmp_path / "elsewhere" / "incident.jsonl")
        assert colleague.run_rollback(TARGET, 2, (), lambda _line: None).ok
        colleague.close()

        async def go():
            from cockpit.app import CockpitApp

            app = CockpitApp(args(kubeconfig=str(kubeconfig)), settings=settings())
            async with app.run_test(size=(120, 40)) as pilot:
                await until(pilot, lambda: app.session is not None and app.data.targets)
                app.cluster.pick(TARGET)
                await until(pilot, lambda: app.data.snapshot is not None)
                await pilot.press("h")
                await until(pilot, lambda: app.data.history_for == TARGET and len(app.data.history) == 3)
                await until(pilot, lambda: history_shows(app, {"4", "3", "1"}) and app.screen.selected() is not None,
                            what="the history on screen")
                assert app.data.state.target is None  # nothing of it in this cockpit's journal
                assert app.screen.selected().number == 1
                assert "rolled back from at" in app.screen.query_one("#revisions").get_row("3")[3].plain

        asyncio.run(go())
    finally:
        world.stop()
