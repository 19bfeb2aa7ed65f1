"""Team communication: the next periodic update and the next escalation with their due time
and a live countdown, every comms item, and what was sent (the journal's ``notification``
records: channel, ok, when) or skipped; in a drill, the local outbox's messages as they would
have been posted. The operator sends now (``s``), edits before sending
(``e``: a modal prefilled from the template) or skips (``k``, journaled); ``w`` writes the
incident report once the incident is resolved. Sends and skips are mutating: absent in
readonly. The app does the I/O (thread workers); this screen posts what was asked for.

Imported in a worker before it is first shown: :mod:`cockpit.comms` pulls in pydantic.
"""
from __future__ import annotations

from datetime import datetime, timezone

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content

from cockpit.comms import CommsPlan, plan
from screens import render_ops as ro
from screens.base import CockpitScreen
from screens.keys import bindings
from screens.messages import CommsWanted, ReportWanted
from screens.widgets import KeyedTable, Line


class CommsScreen(CockpitScreen):
    BINDINGS = bindings("comms")
    parts = ("comms",)
    DEFAULT_CSS = """
    #comms-outbox-title { height: 1; margin-top: 1; display: none; }
    #comms-outbox { height: auto; max-height: 12; display: none; }
    """

    def compose(self) -> ComposeResult:
        yield from self.compose_bar()
        with Vertical(id="comms"):
            yield Line(id="comms-channels", markup=False)
            yield Line(id="comms-next", markup=False)
            yield Line(Content("items (s: send now  e: edit, then send  k: skip)").stylize("bold"), id="comms-items-title")
            yield KeyedTable(ro.ITEM_COLUMNS, id="comms-items")
            yield Line(Content("sent and skipped").stylize("bold"), id="comms-sent-title")
            yield KeyedTable(ro.SENT_COLUMNS, id="comms-sent", cursor_type="none")
            yield Line(Content("drill outbox (newest first; nothing leaves this machine)").stylize("bold"),
                       id="comms-outbox-title")
            yield Line(id="comms-outbox", markup=False)
            yield Line(id="comms-report", markup=False)
        yield from self.compose_footer()

    def on_mount(self) -> None:
        if self.data.readonly:
            self.query_one("#comms-items-title", Line).set(Content("items").stylize("bold"))
        self.query_one("#comms-items").focus()
        self.set_interval(1.0, self._tick_clock)

    def _tick_clock(self) -> None:
        if self.is_current:  # the countdowns are the one thing that moves every second here
            self.show_comms()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.data.now, timezone.utc) if self.data.now else datetime.now(timezone.utc)

    def plan(self) -> CommsPlan | None:
        if self.data.comms_policy is None:
            return None
        return plan(self.data.records, self.data.comms_policy)

    def show_comms(self) -> None:
        d = self.data
        now = self.now()
        p = self.plan()
        self.query_one("#comms-channels", Line).set(ro.channels_line(d.comms_channels, d.comms_policy is not None))
        self.query_one("#comms-next", Line).set(ro.next_lines(p, now, d.comms_busy))
        items = list(p.items) if p is not None else []
        self._keys = [i.key for i in items]
        self.query_one("#comms-items", KeyedTable).sync([(i.key, ro.item_cells(i, now, d.ascii)) for i in items])
        self.query_one("#comms-sent", KeyedTable).sync(ro.sent_rows(d.records, d.ascii))
        outbox = ro.OUTBOX in d.comms_channels
        for part in ("#comms-outbox-title", "#comms-outbox"):
            self.query_one(part, Line).display = outbox
        if outbox:
            self.query_one("#comms-outbox", Line).set(ro.outbox_lines(d.records))
        self.query_one("#comms-report", Line).set(ro.report_line(d.report_path, d.state.resolved, d.readonly))

    def selected(self) -> str | None:
        """The highlighted item's key if it is pending, else None (the next one due)."""
        table = self.query_one("#comms-items", KeyedTable)
        keys = getattr(self, "_keys", [])
        p = self.plan()
        if p is None or table.cursor_row is None or not (0 <= table.cursor_row < len(keys)):
            return None
        key = keys[table.cursor_row]
        due = next((i for i in p.items if i.key == key), None)
        return key if due is not None and due.status == "pending" else None

    def action_send(self) -> None:
        self.post_message(CommsWanted("send", self.selected()))

    def action_edit(self) -> None:
        self.post_message(CommsWanted("edit", self.selected()))

    def action_skip(self) -> None:
        self.post_message(CommsWanted("skip", self.selected()))

    def action_report(self) -> None:
        self.post_message(ReportWanted())
