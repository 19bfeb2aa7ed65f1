"""Sequences of screens the app runs on the operator's behalf: a question, then what the
answer starts. The app stays a router (``cockpit/app.py`` ≤ 400 lines); the decisions are
the controllers' — these only draw and ask.

Each function takes the running app (duck-typed: its controllers, ``push_screen``,
``goto``, ``run_in_thread``...).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any


def offer_resume(app: Any, path: Path, description: str, prepare: Any) -> None:
    """Ask whether to resume the open incident at ``path``; resume it in a thread if yes."""
    from screens.modals import ResumePrompt

    app.push_screen(ResumePrompt(description, str(path)), lambda yes: resume(app, path, prepare) if yes else None)


def resume(app: Any, path: Path, prepare: Any) -> None:
    """Resume the incident at ``path`` (in a thread), then show where it stands."""
    def resumed(state: Any, where: str) -> None:
        app.goto(where)
        app.notify(f"resumed {state.target} in phase {state.phase}", timeout=5)

    app.run_in_thread(lambda: app.incident.resume(path, prepare=prepare, resumed=resumed))


def offer_drill_resume(app: Any, leftovers: list, adopt: Any, abandon: Any, begin: Any) -> None:
    """A crashed drill's incident is open and its world still runs: resume it against that
    world (``adopt(args, left)``, then connect: the app resumes it once connected), or start
    anew (``abandon(left)`` closes the old incident, so it never blocks this drill)."""
    from screens.questions import ask

    if not leftovers:
        begin()
        return
    left = leftovers[-1]

    def resume_it(left: Any) -> None:
        adopt(app.args, left)
        app.data.drill, app.args.drill_resume = app.args.scenario, True
        app.connect()

    def start_fresh(left: Any) -> None:
        app.run_in_thread(lambda: abandon(left))
        begin()

    body = (f"{left.description}\njournal: {left.journal}\n\nResume it against the same world (the rollback "
            "goes on from its journal), or start a new drill (the interrupted one is closed as abandoned).")
    app.push_screen(ask("A drill was interrupted", body, "resume the drill", "start a new drill"),
                    lambda yes: resume_it(left) if yes else start_fresh(left))


def write_report(app: Any) -> None:
    """Show the dashboard, take its SVG screenshot on the event loop (rendering only), then
    write the screenshot and the report next to the journal in a thread."""
    from screens import SCREENS

    back = next((n for n in SCREENS if app.is_screen_installed(n) and app.get_screen(n) is app.screen), None)
    app.goto("dashboard")

    def shoot() -> None:
        try:
            svg = app.export_screenshot(title="Rollback Cockpit — resolved")
        except Exception:  # noqa: BLE001 — the report is worth more than its picture
            svg = None
        if back and back != "dashboard":
            app.goto(back)
        app.run_in_thread(lambda: app.call_from_thread(report_written, app, app.reports.write(svg)))

    app.set_timer(0.3, shoot)


def report_written(app: Any, path: Path) -> None:
    from cockpit.controllers.report import screenshot_path
    from screens.modals import ReportWritten

    app.data.report_path = str(path)
    app.mark("comms")
    app.push_screen(ReportWritten(str(path), str(screenshot_path(path))))


def offer_report(app: Any) -> None:
    """The incident is resolved: offer the report."""
    from screens.modals import ReportPrompt

    app.push_screen(ReportPrompt(), lambda yes: write_report(app) if yes else None)


def quit_or_ask(app: Any, quit: Any) -> None:
    """``q``: quit at once, unless this session holds an open incident — then ask first, and
    say that it stays open (the next ``cockpit`` offers to resume it)."""
    from screens.questions import ask

    st, session = app.data.state, app.session
    fleet = getattr(getattr(app, "fleet", None), "view", None)
    if getattr(fleet, "busy", "") == "running" and not getattr(app.screen, "quit_question", False):
        body = (f"A fleet rollback is running. Quitting stops new targets from starting; what was sent stays "
                f"sent.\n`cockpit rollback --journal {fleet.journal}` continues it.")
        app.push_screen(ask("Quit during the fleet rollback?", body, "quit", "stay", quit_question=True),
                        lambda yes: quit() if yes else None)
        return
    if session is None or session.readonly or session.journal is None or st.resolved or getattr(app.screen, "quit_question", False):
        quit()
        return
    where = f"The incident on {st.target or session.target} is open (phase {st.phase or '?'})."
    if session.drill:  # its world stops with this cockpit: nothing is left to resume against
        body = f"{where} Quitting ends the drill: its world stops and the drill's incident is closed as abandoned."

        def end_drill() -> None:
            def close() -> None:
                try:
                    session.record("incident_closed", reason="drill ended: the operator quit with the incident open")
                finally:
                    app.call_from_thread(quit)

            app.run_in_thread(close)

        app.push_screen(ask("Quit the drill?", body, "quit the drill", "stay", quit_question=True), lambda yes: end_drill() if yes else None)
        return
    running = " The rollback in progress stops waiting for its rollout (what was sent stays sent)." \
        if st.run_status == "running" else ""
    body = (f"{where}{running} Quitting leaves it open: its journal stays, its lock is released, and the next "
            f"cockpit offers to resume it.\njournal: {session.journal_path}")
    app.push_screen(ask("Quit with the incident open?", body, "quit (the incident stays open)", "stay", quit_question=True),
                    lambda yes: quit() if yes else None)


def choose_incident(app: Any, incidents: list[tuple[str, str]], then: Any) -> None:
    """Several open incidents for a readonly observer: which to follow (``then(path or None)``)."""
    from screens.incident_picker import IncidentPicker

    app.push_screen(IncidentPicker(incidents), then)


def ask_from_worker(app: Any, cancel: Any) -> Any:
    """A ``StepContext.ask`` for the full-screen cockpit: called from a step's worker thread, it
    shows the question as a modal on the event loop and blocks the worker (never the loop)
    until answered: y → "continue", n/esc → "abort". A cancelled run answers "abort" (and
    closes the modal); an app that is closing answers "pause"."""
    import threading

    from screens.questions import ask

    def ask_operator(question: str) -> str:
        answered, box, shown = threading.Event(), [], []

        def answer(yes: bool | None) -> None:
            box.append("continue" if yes else "abort")
            answered.set()

        def show() -> None:
            q = ask("The verdict got worse: continue the shift?", question, "continue the shift",
                    "abort: put the split back")
            shown.append(q)
            app.push_screen(q, answer)

        try:
            app.call_from_thread(show)
            while not answered.wait(0.25):
                if cancel.is_set():
                    app.call_from_thread(lambda: shown[0].dismiss(False) if shown[0].is_current else None)
                    return "abort"
        except RuntimeError:  # the app is closing: nobody to answer
            return "pause"
        return box[0]

    return ask_operator
