"""A step's question to the operator in the full-screen cockpit (``Session.ask``, wired by the
app): asked from a worker thread, shown as a modal, answered with the keyboard — y continues,
n aborts — while the event loop keeps running; a cancelled run answers "abort" by itself."""
from __future__ import annotations

import asyncio
import threading

import pytest

from cockpit.session import Session
from tests.ui.fakes import args
from tests.ui.test_flows import settings, until

pytestmark = pytest.mark.slow


def test_a_step_asks_from_its_thread_and_the_keyboard_answers(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    session = Session(backend=None, journal_path=tmp_path / "incident.jsonl")

    async def go():
        from cockpit.app import CockpitApp
        from screens.questions import Question

        app = CockpitApp(args(), session=session, settings=settings())
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: session.ask is not None)
            answers: list[str] = []
            for key, expected in (("y", "continue"), ("n", "abort")):
                t = threading.Thread(target=lambda: answers.append(session.ask("step 2: error rate 6% > 5% (was OK)")))
                t.start()
                await until(pilot, lambda: isinstance(app.screen, Question) and app.screen.query("#question-body"))
                assert "error rate 6%" in " ".join(str(w.render()) for w in app.screen.query("Static"))
                await pilot.press(key)
                await until(pilot, lambda: not t.is_alive())
                assert answers[-1] == expected
            t = threading.Thread(target=lambda: answers.append(session.ask("step 3 got worse")))
            t.start()
            await until(pilot, lambda: isinstance(app.screen, Question) and app.screen.query("#question-body"))
            session.cancel.set()  # ctrl+x: the run is cancelled while the question is open
            await until(pilot, lambda: not t.is_alive() and not isinstance(app.screen, Question))
            assert answers[-1] == "abort"

    asyncio.run(go())
    session.close()
