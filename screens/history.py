"""History: the target's revisions (live one marked) and a diff of the highlighted one
against the live template; enter opens the confirm modal."""
from __future__ import annotations

import time

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Static

from cockpit.model import Revision
from screens import render
from screens.base import CockpitScreen
from screens.keys import bindings
from screens.messages import DiffWanted, RollbackConfirmed
from screens.modals import ConfirmRollback
from screens.widgets import KeyedTable, Line

REV_COLUMNS = [("REV", "rev", 5), ("AGE", "age", 4), ("IMAGE", "image", render.IMAGE_WIDTH), ("CHANGE-CAUSE", "cause", 80)]


class HistoryScreen(CockpitScreen):
    BINDINGS = bindings("history")
    parts = ("history", "diff")

    def compose(self) -> ComposeResult:
        yield from self.compose_bar()
        with Vertical(id="hist"):
            yield Line(id="hist-title", markup=False)
            yield KeyedTable(REV_COLUMNS, id="revisions")
            with Vertical(id="diffbox"):
                yield Static(id="diff", markup=False)
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#revisions").focus()

    @property
    def revisions(self) -> list[Revision]:
        return list(reversed(self.data.history)) if self.data.history_for == self.data.target else []

    def selected(self) -> Revision | None:
        table = self.query_one("#revisions", KeyedTable)
        revs = self.revisions
        if not revs or table.cursor_row is None or table.cursor_row >= len(revs):
            return None
        return revs[table.cursor_row]

    def show_history(self) -> None:
        title = self.query_one("#hist-title", Line)
        if self.data.target is None:
            title.set(Content("pick a target on the dashboard first (1 or esc)").stylize("$warning"))
            return
        revs = self.revisions
        live = next((r for r in revs if r.live), None)
        title.set(Content.assemble(("history of ", "bold"), render.text(str(self.data.target), 200, "bold"),
                                   (f"   live: revision {live.number}" if live else "   loading…", "$text-muted"),
                                   ("   enter: roll back to the highlighted revision" if not self.data.readonly else "", "$text-muted")))
        table = self.query_one("#revisions", KeyedTable)
        fresh = not table._cells
        now = self.data.now or time.time()
        table.sync([(str(r.number), render.revision_cells(r, now, self.data.ascii)) for r in revs])
        if fresh and revs:
            # start on the newest revision that is not live: the usual rollback target
            idx = next((i for i, r in enumerate(revs) if not r.live), 0)
            table.move_cursor(row=idx)
        self.show_diff()

    def show_diff(self) -> None:
        rev = self.selected()
        box = self.query_one("#diff", Static)
        if rev is None:
            box.update(Content(""))
            return
        if rev.live:
            box.update(Content(f"revision {rev.number} is live: nothing to diff").stylize("$text-muted"))
            return
        diff = self.data.diffs.get(rev.number)
        if diff is None:
            self.post_message(DiffWanted(self.data.target, rev.number))
        box.update(Content("\n").join(render.diff_lines(diff)))

    @on(DataTable.RowHighlighted, "#revisions")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_diff()

    @on(DataTable.RowSelected, "#revisions")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_choose()

    def action_toggle_diff(self) -> None:
        box = self.query_one("#diffbox")
        box.display = not box.display

    def action_choose(self) -> None:
        if self.data.readonly:
            self.notify("readonly: rollback is not available to observers", severity="warning")
            return
        rev = self.selected()
        revs = self.revisions
        live = next((r for r in revs if r.live), None)
        if rev is None or self.data.target is None:
            return
        if rev.live:
            self.notify(f"revision {rev.number} is already live", severity="warning")
            return
        target = self.data.target

        def done(ok: bool | None) -> None:
            if ok:
                self.post_message(RollbackConfirmed(target, live.number if live else 0, rev.number, rev.images))

        self.app.push_screen(ConfirmRollback(target, live, rev, ascii=self.data.ascii), done)
