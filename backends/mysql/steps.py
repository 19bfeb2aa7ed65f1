"""Runbook step kinds for MySQL/MariaDB.

``mysql.migrations``, ``mysql.counts``, ``mysql.integrity`` and ``mysql.long_transactions``
(listing) read; ``mysql.backup`` reads the database and writes evidence; ``mysql.restore``,
``mysql.pitr`` and ``mysql.long_transactions`` with ``action: cancel|terminate`` change the
world (an fsynced intent first; refused readonly before anything is sent). The DSN comes from
the step's ``dsn`` (a secret: never journaled) or the ``mysql`` backend of the context (a
:class:`MySQLBackend`, a DSN string, or ``{"dsn": ...}``). What these kinds share with
PostgreSQL's is written once in :mod:`backends.sqlsteps`; here they get their names and wording.

.. code-block:: yaml

    - kind: mysql.backup               # into <evidence>/mysql, size + sha256 + binlog position
    - kind: mysql.counts
      params: {tables: [users, orders], save_as: pre}
    - kind: mysql.pitr                 # guard: the database name and the time, typed
      params: {file: /evidence/mysql/shop-....sql, until: "2026-12-02 06:40:00",
               confirm: shop, confirm_time: "2026-12-02 06:40:00"}
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from backends import sqlsteps
from backends.mysql.client import MySQLBackend
from cockpit.runbook import Duration
from cockpit.steps import StepContext, step_kind


class MySQLStep(sqlsteps.SQLStep):
    engine, backend_cls = "mysql", MySQLBackend


@step_kind
class MySQLMigrations(MySQLStep, sqlsteps.Migrations):
    kind = "mysql.migrations"
    summary = "list recent database migrations (MySQL)"


@step_kind
class MySQLBackup(MySQLStep, sqlsteps.Backup):
    """``mariadb-dump --single-transaction`` into the evidence directory; size, sha256 and the
    binary-log position returned and journaled. Only reads the database: not mutating."""

    kind = "mysql.backup"
    summary = "back up the database (mariadb-dump)"


@step_kind
class MySQLRestore(MySQLStep, sqlsteps.Restore):
    """Guarded restore: the guard and the backup's checksum checked in ``prepare``, before the
    intent. After a crash it runs again: loading the same dump twice gives the same tables
    (each is dropped and recreated)."""

    kind = "mysql.restore"
    replaces = "the database's tables"

    def prepare(self, ctx: StepContext, params: Any) -> dict[str, Any] | None:
        backend = self.backend(ctx, params)
        backend._refuse_if_readonly(f"restore into {backend.database}")
        backend._confirm_database(params.confirm, "restore")
        from backends.mysql.dump import checked

        info = checked(Path(params.file))
        return {"sha256": info.sha256, "database": backend.database}


class PitrParams(sqlsteps.SQLParams):
    file: str = Field(description="a backup written by mysql.backup (it records its binary-log position)")
    until: str = Field(description="'YYYY-MM-DD HH:MM:SS' UTC (or with an offset)")
    confirm: str = Field(description="the database name, typed by the operator")
    confirm_time: str = Field(description="the time, typed again by the operator")
    timeout: Duration = 3600.0


@step_kind
class MySQLPitr(MySQLStep):
    """Point-in-time recovery: every check (guard, checksum, the time inside the binary logs'
    range) in ``prepare``, before the intent; then restore and replay up to the time. After a
    crash it runs again from the backup: the replay stops at the first event at or after the
    time, which the restore's own writes always are, so a second run lands on the same state."""

    kind = "mysql.pitr"
    mutating = True
    Params = PitrParams

    def describe(self, params: Any) -> str:
        return f"point-in-time recovery up to {params.until} from {Path(params.file).name}"

    def prepare(self, ctx: StepContext, params: Any) -> dict[str, Any] | None:
        from backends.mysql.pitr import check_pitr, fmt

        backend = self.backend(ctx, params)
        backend._refuse_if_readonly(f"point-in-time recovery of {backend.database}")
        plan = check_pitr(backend, Path(params.file), params.until, confirm_database=params.confirm,
                          confirm_time=params.confirm_time)
        return {"until": fmt(plan["until"]), "database": backend.database, "binlog_file": plan["binlog_file"],
                "binlog_pos": plan["binlog_pos"], "sha256": plan["backup"].sha256}

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        backend = self.backend(ctx, params)
        sqlsteps.follow(ctx, backend.pitr(params.file, params.until, confirm_database=params.confirm,
                                          confirm_time=params.confirm_time, cancel=ctx.cancel, timeout=params.timeout))
        return {"file": params.file, "database": backend.database, "dsn": backend.display_dsn,
                "until": ctx.prepared.get("until", params.until) if ctx.prepared else params.until}


@step_kind
class MySQLCounts(MySQLStep, sqlsteps.Counts):
    kind = "mysql.counts"


@step_kind
class MySQLIntegrity(MySQLStep, sqlsteps.Integrity):
    kind = "mysql.integrity"
    builtin_note = "CHECK TABLE, "


class LongTxParams(sqlsteps.LongTxParams):
    id: int | None = Field(None, description="the connection id (processlist)")
    user: str | None = Field(None, description="only transactions of this user")


@step_kind
class MySQLLongTransactions(MySQLStep, sqlsteps.LongTransactions):
    """Long InnoDB transactions; ``action: cancel`` (KILL QUERY) or ``terminate`` (KILL
    CONNECTION) one id, or every one of a ``user``; a selector missing is refused before the
    listing."""

    kind = "mysql.long_transactions"
    Params = LongTxParams
    id_param, name_param, noun = "id", "user", "id"
    unselected = "an id or a user (refusing to kill every transaction)"
    not_signalled = "already gone"
    refuse_before_listing = True

    def who(self, params: Any) -> str:
        return f"connection {params.id}" if params.id else f"{params.user}'s transactions"

    def line(self, tx: Any) -> str:
        return f"id {tx.pid} {tx.age_seconds:.0f}s {tx.state} {tx.user}@{tx.client}: {tx.query[:120]}"

    def signal(self, backend: MySQLBackend, action: str, tx_id: int) -> bool:
        return backend.kill(tx_id, connection=action == "terminate")
