"""History: the target's revisions (live one marked) and a diff of the highlighted one
against the live template; enter opens the confirm modal.

What the incident knows marks the rows (:mod:`cockpit.history_marks`): the revision rolled back
from is "rolled back from at 06:41" and never offered first; the row offered first is the one
last seen healthy (else the newest other); the live revision counts its age from when it went
live. Shown without its history (after a resume), the screen asks for it.

A deployment that belongs to a Helm release (its ``app.kubernetes.io/managed-by: Helm`` and
``meta.helm.sh/release-name`` metadata, read once per target by
:class:`cockpit.controllers.helm.HelmController`) is named with its release, and ``m`` shows
the release's revisions (:mod:`screens.helm_history`), where ``enter`` + ``y`` roll it back
with Helm's own code."""
from __future__ import annotations

import time

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Static

from cockpit import history_marks as hm
from cockpit.model import Revision
from screens import render
from screens.base import CockpitScreen
from screens.helm_host import HelmHistoryWanted, HelmReleaseWanted
from screens.keys import bindings
from screens.messages import DiffWanted, HistoryWanted, RollbackConfirmed
from screens.modals import ConfirmRollback
from screens.widgets import KeyedTable, Line

REV_COLUMNS = [("REV", "rev", 5), ("AGE", "age", 4), ("IMAGE", "image", render.IMAGE_WIDTH), ("CHANGE-CAUSE", "cause", 80)]


class HistoryScreen(CockpitScreen):
    BINDINGS = [*bindings("history"),
                Binding("m", "helm_history", "Helm release", id="helm_history",
                        tooltip="The revisions of the Helm release this deployment belongs to")]
    parts = ("history", "diff")
    _placed: tuple | None = None
    """What the cursor was placed for (target, revisions, bad templates): placed again when it changes."""
    _wanted: object = None
    """The target whose history this screen asked for (once until it arrives)."""

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

    def want_history(self) -> None:
        """Ask for the history of the target on screen when it is not here (once per target
        until it arrives): after a resume the app shows this screen without fetching it, and
        an observer's history is dropped when the incident rolls back."""
        target = self.data.target
        if target is None or self.data.history_for == target:
            self._wanted = None
            return
        if self._wanted != target and self.is_current:
            self._wanted = target
            self.post_message(HistoryWanted(target))

    @property
    def revisions(self) -> list[Revision]:
        return list(reversed(self.data.history)) if self.data.history_for == self.data.target else []

    def marks(self) -> hm.Marks:
        """What the incident journal says of these revisions, completed by the deployment's
        note of the cockpit's last rollback (another session's, another bastion's)."""
        note = getattr(self.data, "history_note", None) if self.data.history_for == self.data.target else None
        return hm.with_note(hm.from_state(self.data.state, self.data.target), note)

    def selected(self) -> Revision | None:
        table = self.query_one("#revisions", KeyedTable)
        revs = self.revisions
        if not revs or table.cursor_row is None or not (0 <= table.cursor_row < table.row_count):
            return None
        key = table.ordered_rows[table.cursor_row].key.value
        return next((r for r in revs if str(r.number) == key), None)

    def show_history(self) -> None:
        title = self.query_one("#hist-title", Line)
        if self.data.target is None:
            title.set(Content("pick a target on the dashboard first (1 or esc)").stylize("$warning"))
            return
        self.want_history()
        revs = self.revisions
        live = next((r for r in revs if r.live), None)
        title.set(Content.assemble(("history of ", "bold"), render.text(str(self.data.target), 200, "bold"),
                                   (f"   live: revision {live.number}" if live else "   loading…", "$text-muted"),
                                   ("   enter: roll back to the highlighted revision" if not self.data.readonly else "", "$text-muted"),
                                   self.helm_note()))
        table = self.query_one("#revisions", KeyedTable)
        now = self.data.now or time.time()
        marks = self.marks()
        table.sync([(str(r.number), render.revision_cells(r, now, self.data.ascii, marks, revs)) for r in revs])
        keys = [str(r.number) for r in revs]
        if [row.key.value for row in table.ordered_rows] != keys:  # a rollback renumbered: newest first again
            order = {k: i for i, k in enumerate(keys)}
            table.sort("rev", key=lambda rev: order.get(rev.plain.split()[-1], 0))
        placing = (self.data.target, tuple(keys), tuple(sorted(marks.bad)))
        if revs and placing != self._placed:
            # offer the usual rollback target first: last seen healthy, never the one rolled back from
            self._placed = placing
            first = hm.preselect(revs, marks) or live or revs[0]
            table.move_cursor(row=table.get_row_index(str(first.number)))
        self.show_diff()

    def helm_note(self) -> Content:
        """``\nHelm release NAME (ns) — m: its revisions and a rollback with Helm`` when the
        target belongs to one (asked for once per target); empty otherwise."""
        helm, target = getattr(self.data, "helm", None), self.data.target
        if helm is None or target is None:
            return Content("")
        if str(target) not in helm.releases:
            self.post_message(HelmReleaseWanted(target))
            return Content("")
        release = helm.release(target)
        if release != getattr(self, "_helm_offered", None):
            self._helm_offered = release
            self.refresh_bindings()  # the footer's m comes and goes with the release
        if release is None:
            error = helm.errors.get(str(target))
            return render.text(f"\nHelm release: unknown ({error})", 300, "$warning") if error else Content("")
        return Content.assemble("\n", ("Helm release ", "bold"), render.text(release[0], 60, "bold"),
                                (" in ", ""), render.text(release[1], 63),
                                ("   m: its revisions" + ("" if self.data.readonly else " and a rollback with Helm"),
                                 "$text-muted"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "helm_history":  # offered only for a deployment that belongs to a release
            helm = getattr(self.data, "helm", None)
            return helm is not None and helm.release(self.data.target) is not None
        return super().check_action(action, parameters)

    def action_helm_history(self) -> None:
        helm, target = getattr(self.data, "helm", None), self.data.target
        if helm is None or target is None:
            return
        if helm.release(target) is None:
            self.notify(f"{target} does not belong to a Helm release"
                        if str(target) in helm.releases else "still reading whether it belongs to a Helm release…",
                        severity="warning")
            return
        self.post_message(HelmHistoryWanted(target))

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
