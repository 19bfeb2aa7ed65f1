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

    def resumed(state: Any, where: str) -> None:
        app.goto(where)
        app.notify(f"resumed {state.target} in phase {state.phase}", timeout=5)

    def resume() -> None:
        app.incident.resume(path, prepare=prepare, resumed=resumed)

    app.push_screen(ResumePrompt(description, str(path)), lambda yes: app.run_in_thread(resume) if yes else None)


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
    from screens.question import YesNo

    st, session = app.data.state, app.session
    if session is None or session.readonly or session.journal is None or st.resolved or isinstance(app.screen, YesNo):
        quit()
        return
    body = (f"The incident on {st.target or session.target} is open (phase {st.phase or '?'}). Quitting leaves it "
            f"open: its journal stays, its lock is released, and the next cockpit offers to resume it.\n"
            f"journal: {session.journal_path}")
    app.push_screen(YesNo("Quit with the incident open?", body, "quit (the incident stays open)", "stay"),
                    lambda yes: quit() if yes else None)
