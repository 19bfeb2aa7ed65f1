"""Checklist: phase budgets (turning overdue), auto ticks with their evidence, manual ticks
with a key and an optional note; every tick is journaled by the app with who and when."""
from __future__ import annotations

from datetime import datetime, timezone

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content

from cockpit.checklist import all_done, open_rows, phase_rows, rows
from screens import render
from screens.base import CockpitScreen
from screens.keys import bindings
from screens.messages import CheckTicked, ExtendMonitoring, ResolveWanted
from screens.modals import NoteInput
from screens.widgets import KeyedTable, Line

CHECK_COLUMNS = [("", "mark", 1), ("CHECK", "title", 36), ("KIND", "kind", 6), ("EVIDENCE", "evidence", 50), ("WHO/WHEN", "who", 30)]


class ChecklistScreen(CockpitScreen):
    BINDINGS = bindings("checklist")
    parts = ("checks", "phases")
    _placed = False
    """Whether the cursor was placed on the first open item (once: then it is the operator's)."""

    def compose(self) -> ComposeResult:
        yield from self.compose_bar()
        with Vertical(id="check"):
            yield Line(id="phases", markup=False)
            yield Line(id="check-title", markup=False)
            yield KeyedTable(CHECK_COLUMNS, id="checks")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#checks").focus()
        self.set_interval(1.0, self._tick_clock)

    def _tick_clock(self) -> None:
        # only while visible: the phase clock is the one thing that moves every second here
        if self.is_current:
            self.show_phases()

    def current_rows(self):
        return rows(self.data.checklist_items, self.data.state, self.data.auto_results)

    def show_checks(self) -> None:
        st = self.data.state
        done = all_done(self.data.checklist_items, st) if self.data.checklist_items else False
        head = ("RESOLVED" if st.resolved else ("all checks done — R resolves" if done else
                "space: tick  e: tick with a note  m: 30-min monitoring  R: resolve"))
        self.query_one("#check-title", Line).set(Content.assemble(
            ("verification  ", "bold"), (head, "$success bold" if (done or st.resolved) else "$text-muted")))
        table = self.query_one("#checks", KeyedTable)
        current = self.current_rows()
        table.sync([(r.id, render.check_cells(r, self.data.ascii)) for r in current])
        if current and not self._placed:
            # start where the operator has work: the first item neither ticked nor automatic
            self._placed = True
            table.move_cursor(row=first_open(current))
        self.show("bar")

    def show_phases(self) -> None:
        st = self.data.state
        self.query_one("#phases", Line).set(render.phase_line(phase_rows(st, datetime.fromtimestamp(self.data.now, timezone.utc) if self.data.now else datetime.now(timezone.utc)), self.data.ascii))

    def _row(self):
        table = self.query_one("#checks", KeyedTable)
        rs = self.current_rows()
        if table.cursor_row is None or not (0 <= table.cursor_row < len(rs)):
            return None
        return rs[table.cursor_row]

    def action_tick(self) -> None:
        r = self._row()
        if r is None:
            return
        self.post_message(CheckTicked(r.id, not bool(r.ok)))

    def action_note(self) -> None:
        r = self._row()
        if r is None:
            return

        def done(note: str | None) -> None:
            if note is not None:
                self.post_message(CheckTicked(r.id, True, note))

        self.app.push_screen(NoteInput(r.title), done)

    def action_extend(self) -> None:
        from cockpit.checklist import extended

        self.post_message(ExtendMonitoring(not extended(self.data.state)))

    def action_resolve(self) -> None:
        """Resolve; with checks open (not ticked, failed or still collecting) ask first, naming
        how many and which — only a yes posts the resolution, with the checks left open."""
        st, items = self.data.state, self.data.checklist_items
        if not items:  # before the first evaluation: the list the runner resolves against
            from cockpit.runbook import DEFAULT_CHECKLIST

            items = DEFAULT_CHECKLIST
        if st.resolved:
            self.notify("the incident is resolved already", severity="warning")
            return
        left = open_rows(items, st, self.data.auto_results) if st.target else []
        if not left:
            self.post_message(ResolveWanted(open_checks=()))
            return
        ids = tuple(r.id for r in left)

        def answered(yes: bool | None) -> None:
            if yes:
                self.post_message(ResolveWanted(open_checks=ids))

        from screens.questions import resolve_question

        self.app.push_screen(resolve_question(left, len(items), self.data.ascii), answered)


def first_open(current: list) -> int:
    """The row the cursor starts on: the first item that is neither ticked ok nor automatic;
    else the first one not ticked; else the first."""
    return next((i for i, r in enumerate(current) if not r.auto and r.ok is not True),
                next((i for i, r in enumerate(current) if r.ok is not True), 0))
