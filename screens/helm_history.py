"""The revisions of the Helm release a deployment belongs to (``m`` on the history screen):
revision, status, chart, app version, updated, images and Helm's description, newest first,
the deployed one marked; ``enter`` asks (:class:`HelmConfirm`, naming the release, the
namespace, the revisions and their images) and ``y`` rolls the release back with Helm's own
code (:class:`HelmRollbackConfirmed` → :class:`cockpit.controllers.helm.HelmController`).
A pending release is refused here with Helm's reason (the step refuses it again).

Under the table, the highlighted revision's diff against the deployed one: Helm's user values
and the rendered manifest, as unified diffs (what rolling back to it would change), read in a
thread through the controller (``data.helm.want_diff``), capped at :data:`DIFF_MAX_LINES`
lines per section, ``+``/``-`` coloured with the theme's variables.

Everything shown came from Helm's release records, sanitised where it entered the model, and
is rendered as plain ``Content``. Readonly: ``enter`` does not exist (a mutating action)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from cockpit.model import Target
from screens import render
from screens.base import CockpitScreen
from screens.keys import bindings
from screens.widgets import KeyedTable, Line

COLUMNS = [("REV", "rev", 5), ("STATUS", "status", 16), ("CHART", "chart", 24), ("APP VERSION", "app", 12),
           ("UPDATED", "updated", 8), ("IMAGES", "images", render.IMAGE_WIDTH), ("DESCRIPTION", "desc", 60)]
STATUS_STYLE = {"deployed": "$success bold", "failed": "$error", "superseded": "$text-muted"}
DIFF_MAX_LINES = 300
"""Lines shown of each section (values, manifest) of a revision's diff; the rest is counted."""
DIFF_LINE_WIDTH = 500


def diff_line(line: str) -> Content:
    """One line of a unified diff, made inert and coloured by its sign."""
    style = ("$success" if line.startswith("+") and not line.startswith("+++") else
             "$error" if line.startswith("-") and not line.startswith("---") else
             "$accent" if line.startswith("@@") else "$text-muted" if line.startswith(("+++", "---")) else "")
    return render.text(line, DIFF_LINE_WIDTH, style)


def diff_text(d: Any, max_lines: int = DIFF_MAX_LINES) -> Content:
    """A revision's values and manifest diff against the deployed one (pure): a heading per
    section, its lines (at most ``max_lines``, the rest counted), "no difference" when empty."""
    against = f"deployed revision {d.against}" if d.against is not None else "nothing deployed"
    out: list[Content] = [Content.assemble((f"revision {d.revision} against {against}", "bold"),
                                           ("   (what rolling back to it would change)", "$text-muted"))]
    for name, lines in (("values", d.values), ("manifest", d.manifest)):
        out.append(Content(""))
        if not lines:
            out.append(Content.assemble((name, "bold"), (": no difference", "$text-muted")))
            continue
        out.append(Content(name).stylize("bold"))
        out.extend(diff_line(line) for line in lines[:max_lines])
        if len(lines) > max_lines:
            out.append(Content(f"… {len(lines) - max_lines} more lines of the {name} diff not shown")
                       .stylize("$warning"))
    return Content("\n").join(out)


@dataclass
class HelmRollbackConfirmed(Message):
    """Roll ``release`` (in ``release_ns``), which ``target`` belongs to, back to ``revision`` with Helm."""

    target: Target
    release: str
    release_ns: str
    revision: int


def revision_cells(r: Any, now: float, ascii: bool = False) -> tuple[Content, ...]:
    """One row of a Helm release's history (pure)."""
    status = str(r.status)
    style = "$warning bold" if status.startswith("pending") else STATUS_STYLE.get(status, "")
    live = (" *" if ascii else " ●") if status == "deployed" else ""
    images = ", ".join(r.images) or "—"
    return (Content(f"{r.revision}{live}"), render.text(status, 40, style), render.text(r.chart, 80),
            render.text(r.app_version or "—", 60), Content(render.age(r.updated, now)),
            render.text(images, 300), render.text(r.description, 300, "$text-muted"))


def confirm_text(target: Target, release: tuple[str, str], live: Any, chosen: Any) -> Content:
    frm = (Content.assemble(f"revision {live.revision} (", render.text(", ".join(live.images) or "no images", 300), ")")
           if live is not None else Content("no deployed revision"))
    return Content.assemble(
        ("Roll back Helm release ", ""), render.text(release[0], 60, "bold"), " in namespace ",
        render.text(release[1], 63, "bold"), "\n", "(", render.text(str(target), 200), " belongs to it)\n\n",
        "from ", frm, "\n", ("to   ", "bold"), f"revision {chosen.revision} (",
        render.text(", ".join(chosen.images) or "no images", 300), ")  ", render.text(chosen.chart, 80),
        "\n\n", ("with Helm's own code (helm rollback); Helm writes a new revision", "$text-muted"))


class HelmConfirm(ModalScreen[bool]):
    """Names the release, its namespace, from → to revision and the images; ``y`` confirms."""

    BINDINGS = bindings("confirm")

    def __init__(self, target: Target, release: tuple[str, str], live: Any, chosen: Any) -> None:
        super().__init__()
        self.target, self.release, self.live, self.chosen = target, release, live, chosen

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog danger"):
            yield Static(Content("Confirm Helm rollback").stylize("bold"), classes="title")
            yield Static(confirm_text(self.target, self.release, self.live, self.chosen), id="confirm-body")
            yield Static(Content.assemble(("y", "bold reverse"), (" roll back    ", ""), ("n", "bold reverse"),
                                          (" / esc  cancel", "")), classes="keys")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class HelmHistoryScreen(CockpitScreen):
    BINDINGS = [Binding("enter", "choose", "Helm rollback to…", id="helm_choose", tooltip="Roll the release back "
                        "to the highlighted revision (changes the world)"),
                Binding("escape,m", "close", "Back", id="helm_close")]
    parts = ("helm",)
    DEFAULT_CSS = "HelmHistoryScreen #helm-revisions { max-height: 50%; }"  # the diff pane keeps room

    def __init__(self, data: Any, target: Target, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.target = target
        self._placed: tuple | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_bar()
        with Vertical(id="hist"):
            yield Line(id="helm-title", markup=False)
            yield KeyedTable(COLUMNS, id="helm-revisions")
            with Vertical(id="diffbox"):
                yield Static(id="helm-diff", markup=False)
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#helm-revisions").focus()

    @property
    def view(self) -> Any:
        return getattr(self.data, "helm", None)

    @property
    def release(self) -> tuple[str, str] | None:
        return self.view.release(self.target) if self.view is not None else None

    def revisions(self) -> list[Any]:
        return self.view.revisions(self.release) if self.view is not None else []

    def show_helm(self) -> None:
        release, revs = self.release, self.revisions()
        title = self.query_one("#helm-title", Line)
        if release is None:
            title.set(Content("this deployment belongs to no Helm release").stylize("$warning"))
            return
        live = next((r for r in revs if r.status == "deployed"), None)
        state = (f"   deployed: revision {live.revision}" if live else
                 f"   {self.view.history_error}" if self.view.history_error else
                 "   loading…" if not revs else "   nothing deployed")
        parts = [("Helm release ", "bold"), render.text(release[0], 60, "bold"), " in ", render.text(release[1], 63),
                 render.text(state, 300, "$error" if self.view.history_error and not revs else "$text-muted")]
        if revs and not self.data.readonly:
            parts.append(("   enter: roll back with Helm to the highlighted revision", "$text-muted"))
        title.set(Content.assemble(*parts))
        table = self.query_one("#helm-revisions", KeyedTable)
        now = self.data.now or time.time()
        table.sync([(str(r.revision), revision_cells(r, now, self.data.ascii)) for r in revs])
        keys = [str(r.revision) for r in revs]
        if [row.key.value for row in table.ordered_rows] != keys:  # a rollback added a revision: newest first
            order = {k: i for i, k in enumerate(keys)}
            table.sort("rev", key=lambda rev: order.get(rev.plain.split()[0], 0))
        if revs and self._placed != (release, tuple(keys)):
            self._placed = (release, tuple(keys))
            # offer the revision before the deployed one (Helm's "previous"), else the newest other
            first = next((r for r in revs if live is not None and r.revision < live.revision), None) or revs[0]
            table.move_cursor(row=table.get_row_index(str(first.revision)))
        self.show_diff()

    def show_diff(self) -> None:
        """The highlighted revision's diff against the deployed one (asked for when missing)."""
        box = self.query_one("#helm-diff", Static)
        rev, release, view = self.selected(), self.release, self.view
        if rev is None or release is None or view is None:
            box.update(Content(""))
            return
        live = next((r for r in self.revisions() if r.status == "deployed"), None)
        if live is not None and rev.revision == live.revision:
            box.update(Content(f"revision {rev.revision} is the deployed one: nothing to diff").stylize("$text-muted"))
            return
        key = (release[0], release[1], rev.revision)
        if key in view.diff_errors:
            box.update(Content.assemble(f"could not read the diff of revision {rev.revision}: ",
                                        render.text(view.diff_errors[key], 300)).stylize("$error"))
            return
        d = view.diffs.get(key)
        if d is not None:
            box.update(diff_text(d))
            return
        asked = view.want_diff(release, rev.revision)
        box.update(Content(f"reading the diff of revision {rev.revision}…" if asked else
                           "no diff available here").stylize("$text-muted"))

    @on(DataTable.RowHighlighted, "#helm-revisions")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_diff()

    def selected(self) -> Any:
        table = self.query_one("#helm-revisions", KeyedTable)
        revs = self.revisions()
        if not revs or table.cursor_row is None or not (0 <= table.cursor_row < table.row_count):
            return None
        key = table.ordered_rows[table.cursor_row].key.value
        return next((r for r in revs if str(r.revision) == key), None)

    @on(DataTable.RowSelected, "#helm-revisions")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_choose()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.data.readonly and action == "choose":
            return False
        return super().check_action(action, parameters)

    def action_close(self) -> None:
        self.dismiss()

    def action_choose(self) -> None:
        if self.data.readonly:
            self.notify("readonly: rollback is not available to observers", severity="warning")
            return
        rev, release, revs = self.selected(), self.release, self.revisions()
        if rev is None or release is None:
            return
        live = next((r for r in revs if r.status == "deployed"), None)
        newest = revs[0]
        if str(newest.status).startswith("pending"):
            self.notify(f"release {release[0]} is {newest.status} (revision {newest.revision}): another operation "
                        "is in progress", severity="error")
            return
        if live is not None and rev.revision == live.revision:
            self.notify(f"revision {rev.revision} is the deployed one", severity="warning")
            return
        target = self.target

        def done(ok: bool | None) -> None:
            if ok:
                self.post_message(HelmRollbackConfirmed(target, release[0], release[1], rev.revision))

        self.app.push_screen(HelmConfirm(target, release, live, rev), done)
