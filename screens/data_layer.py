"""The data layer: PostgreSQL migration history, backups in the backups directory, long
transactions (query text inert), and a Redis pattern invalidation — dry-run count first
(``/`` then enter), then ``i`` behind the one confirmation naming host, database and pattern,
its progress streamed into a line and a log. ``i`` and ``ctrl+x`` are mutating: absent in
readonly (and the Redis backend built readonly refuses every write anyway).

The app polls (dolphie loop, only while this screen is current) and runs the Redis calls in
thread workers; this screen renders :class:`screens.data.UIData` and posts messages.
"""
from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Input, RichLog

from cockpit.text import sanitize
from screens import render_ops as ro
from screens.base import CockpitScreen
from screens.keys import bindings
from screens.messages import CancelInvalidate, InvalidateConfirmed, RedisCountWanted
from screens.widgets import KeyedTable, Line


class DataScreen(CockpitScreen):
    BINDINGS = bindings("data")
    parts = ("data", "redis")

    def compose(self) -> ComposeResult:
        yield from self.compose_bar()
        with VerticalScroll(id="data"):
            yield Line(id="data-targets", markup=False)
            yield Line(id="data-errors", markup=False)
            yield Input(placeholder="Redis key pattern, e.g. moshimoshi:*  (enter: dry-run count)", id="pattern")
            yield Line(id="redis-status", markup=False)
            yield Line(Content("migrations (newest first)").stylize("bold"), classes="section")
            yield KeyedTable(ro.MIGRATION_COLUMNS, id="migrations", cursor_type="none")
            yield Line(Content("backups").stylize("bold"), classes="section")
            yield KeyedTable(ro.BACKUP_COLUMNS, id="backups", cursor_type="none")
            yield Line(Content("long transactions").stylize("bold"), classes="section")
            yield KeyedTable(ro.LONG_TX_COLUMNS, id="long-tx", cursor_type="none")
            yield Line(Content("redis log").stylize("bold"), classes="section")
            yield RichLog(id="redis-log", markup=False, highlight=False, wrap=False, max_lines=500)
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#pattern").display = self.data.data_redis is not None
        self.query_one("#migrations").focus()  # not the input: one-letter keys must navigate
        self._logged = 0

    def show_data(self) -> None:
        d = self.data
        self.query_one("#data-targets", Line).set(ro.targets_line(d.data_pg, d.data_redis))
        snap = d.data_snapshot
        errors = dict(getattr(snap, "errors", {}) or {})
        self.query_one("#data-errors", Line).set(
            Content("\n").join([ro.text(f"{k}: {v}", 300, "$error") for k, v in sorted(errors.items())]) if errors else Content(""))
        if snap is None:
            return
        self.query_one("#migrations", KeyedTable).sync(ro.migration_rows(list(snap.migrations)))
        self.query_one("#backups", KeyedTable).sync(ro.backup_rows(list(snap.backups)))
        self.query_one("#long-tx", KeyedTable).sync(ro.long_tx_rows(list(snap.long_tx)))

    def show_redis(self) -> None:
        d = self.data
        self.query_one("#pattern").display = d.data_redis is not None
        self.query_one("#redis-status", Line).set(ro.redis_lines(d.redis_count, d.redis_progress, d.redis_running, d.readonly))
        log = self.query_one("#redis-log", RichLog)
        if len(d.redis_log) < self._logged:
            log.clear()
            self._logged = 0
        for line in d.redis_log[self._logged:]:
            log.write(Text(sanitize(line, max_len=500)))
        self._logged = len(d.redis_log)

    def pattern(self) -> str:
        return self.query_one("#pattern", Input).value.strip()

    @on(Input.Submitted, "#pattern")
    def _count(self, event: Input.Submitted) -> None:
        if self.pattern():
            self.post_message(RedisCountWanted(self.pattern()))

    def action_pattern(self) -> None:
        if self.data.data_redis is None:
            self.notify("Redis is not configured (COCKPIT_DATA__REDIS_URL)", severity="warning")
            return
        self.query_one("#pattern", Input).focus()

    def action_invalidate(self) -> None:
        count = self.data.redis_count
        pattern = self.pattern()
        if count is None or not pattern or count.pattern != pattern:
            self.notify("dry run first: type the pattern and press enter", severity="warning")
            return
        if self.data.redis_running:
            self.notify("an invalidation is running (ctrl+x cancels it)", severity="warning")
            return
        from screens.modals import ConfirmInvalidate

        def done(yes: bool | None) -> None:
            if yes:
                self.post_message(InvalidateConfirmed(pattern))

        self.app.push_screen(ConfirmInvalidate(self.data.redis_server, self.data.redis_db, pattern, count.matched), done)

    def action_cancel_invalidate(self) -> None:
        self.post_message(CancelInvalidate())

    def back(self) -> bool:
        """esc in the pattern field: leave it first."""
        inp = self.query_one("#pattern", Input)
        if inp.has_focus:
            self.query_one("#migrations").focus()
            return True
        return False
