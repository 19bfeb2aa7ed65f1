"""The data layer: PostgreSQL migration history, backups in the backups directory, long
transactions (query text inert), and a Redis pattern invalidation — dry-run count first
(``/`` then enter), then ``i`` behind the one confirmation naming host, database and pattern,
its progress streamed into a line and a log. ``i`` and ``ctrl+x`` are mutating: absent in
readonly (and the Redis backend built readonly refuses every write anyway).

The other data actions, all mutating (absent readonly, refused below the UI as well): ``k``
cancel the query / ``T`` terminate the session of the long transaction under the cursor
(type its pid), ``b`` backup now, ``R`` restore the backup under the cursor (type the
database name), ``F`` FLUSHDB the Redis database (type ``host:port/db``). Each runs through
:meth:`cockpit.controllers.data_layer.DataLayer.act`: journaled write-ahead in the incident
for the target on screen, in a thread, its progress and result in the log.

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
from screens.data_confirm import DataActionWanted, TypedConfirm, confirm_body
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
            yield KeyedTable(ro.BACKUP_COLUMNS, id="backups", cursor_type="row")
            yield Line(Content("long transactions").stylize("bold"), classes="section")
            yield KeyedTable(ro.LONG_TX_COLUMNS, id="long-tx", cursor_type="row")
            yield Line(Content("log").stylize("bold"), classes="section")
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

    # ---- the other data actions

    def _cursor_key(self, table_id: str) -> str | None:
        table = self.query_one(table_id, KeyedTable)
        if not table.row_count:
            return None
        try:
            return table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        except Exception:  # noqa: BLE001 — no row under the cursor
            return None

    def _signal_tx(self, action: str, verb: str, consequence: str) -> None:
        if self.data.data_pg is None:
            self.notify("PostgreSQL is not configured (COCKPIT_DATA__POSTGRES_DSN)", severity="warning")
            return
        pid = self._cursor_key("#long-tx")
        snap = self.data.data_snapshot
        tx = next((t for t in getattr(snap, "long_tx", ()) if str(t.pid) == pid), None)
        if tx is None:
            self.notify("no long transaction under the cursor (tab to the long transactions table)", severity="warning")
            return
        body = confirm_body(f"{verb} PostgreSQL process {tx.pid}", [
            ("database", self.data.data_pg), ("session", f"{tx.user}@{tx.application or '-'} from {tx.client}"),
            ("open for", f"{tx.age_seconds:.0f}s, {tx.state}"), ("query", tx.query[:200])], consequence, str(tx.pid))
        self.app.push_screen(TypedConfirm(f"{verb} a long transaction", body, str(tx.pid)),
                             lambda typed: self.post_message(DataActionWanted(action, {"pid": tx.pid, "confirm": typed}))
                             if typed else None)

    def action_cancel_tx(self) -> None:
        self._signal_tx("cancel_tx", "Cancel the query of",
                        "pg_cancel_backend: its current statement is cancelled; the session stays")

    def action_terminate_tx(self) -> None:
        self._signal_tx("terminate_tx", "Terminate",
                        "pg_terminate_backend: the session ends and its open transaction is rolled back")

    def action_backup(self) -> None:
        if self.data.data_pg is None:
            self.notify("PostgreSQL is not configured (COCKPIT_DATA__POSTGRES_DSN)", severity="warning")
            return
        self.post_message(DataActionWanted("backup"))

    def action_restore(self) -> None:
        if self.data.data_pg is None:
            self.notify("PostgreSQL is not configured (COCKPIT_DATA__POSTGRES_DSN)", severity="warning")
            return
        key = self._cursor_key("#backups")
        snap = self.data.data_snapshot
        b = next((b for b in getattr(snap, "backups", ()) if str(b.path) == key), None)
        if b is None:
            self.notify("no backup under the cursor (tab to the backups table)", severity="warning")
            return
        pg = getattr(getattr(self.app, "datalayer", None), "postgres", None)
        expected = getattr(pg, "database", "") or b.database  # the database the DSN points at (the backend checks it)
        body = confirm_body(f"Restore {b.path.name}", [("into", self.data.data_pg or "?"), ("backup of", b.database or "?")],
                            "pg_restore --clean --single-transaction replaces the database's contents with the backup",
                            expected)
        self.app.push_screen(TypedConfirm("Restore a PostgreSQL backup", body, expected),
                             lambda typed: self.post_message(DataActionWanted("restore", {"path": str(b.path), "confirm": typed}))
                             if typed else None)

    def action_flush(self) -> None:
        if self.data.data_redis is None:
            self.notify("Redis is not configured (COCKPIT_DATA__REDIS_URL)", severity="warning")
            return
        expected = f"{self.data.redis_server}/{self.data.redis_db}"
        body = confirm_body(f"FLUSHDB on Redis {self.data.redis_server}", [
            ("server", self.data.redis_server), ("database", str(self.data.redis_db))],
            "every key in this database is deleted (FLUSHDB ASYNC); other databases are not touched. It cannot be undone.",
            expected)
        self.app.push_screen(TypedConfirm("Flush a Redis database", body, expected),
                             lambda typed: self.post_message(DataActionWanted("flush", {"confirm": typed})) if typed else None)

    def on_data_action_wanted(self, m: DataActionWanted) -> None:
        """Routed here (the app's route would be one line): the controller runs it."""
        m.stop()
        self.app.datalayer.act(m.action, **m.params)
