"""Runbook step kinds for MySQL/MariaDB.

``mysql.migrations``, ``mysql.counts``, ``mysql.integrity`` and ``mysql.long_transactions``
(listing) read; ``mysql.backup`` reads the database and writes evidence; ``mysql.restore``,
``mysql.pitr`` and ``mysql.long_transactions`` with ``action: cancel|terminate`` change the
world (an fsynced intent first; refused readonly before anything is sent). The DSN comes from
the step's ``dsn`` (a secret: never journaled) or the ``mysql`` backend of the context (a
:class:`MySQLBackend`, a DSN string, or ``{"dsn": ...}``).

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
from typing import Any, Literal

from pydantic import Field, SecretStr

from backends.mysql.client import MySQLBackend
from backends import sqldb
from backends.sqldb import evidence as _evidence
from backends.sqldb import jsonable as _jsonable
from cockpit.errors import ConfigError
from cockpit.runbook import Duration
from cockpit.steps import Step, StepContext, StepParams, step_kind


class MyParams(StepParams):
    dsn: SecretStr | None = Field(None, description="overrides the mysql backend's DSN; never journaled")
    statement_timeout: Duration = 30.0


def backend_for(ctx: StepContext, params: MyParams) -> MySQLBackend:
    return sqldb.backend_for(ctx, params, MySQLBackend, "mysql")


class MigrationsParams(MyParams):
    limit: int = Field(10, ge=1, le=1000)


@step_kind
class MySQLMigrations(Step):
    kind = "mysql.migrations"
    mutating = False
    Params = MigrationsParams

    def describe(self, params: Any) -> str:
        return "list recent database migrations (MySQL)"

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        return sqldb.migrations_step(ctx, backend_for(ctx, params), params.limit)


class BackupParams(MyParams):
    dir: str | None = Field(None, description="default: <evidence dir>/mysql")
    label: str | None = None
    timeout: Duration = 3600.0


@step_kind
class MySQLBackup(Step):
    """``mariadb-dump --single-transaction`` into the evidence directory; size, sha256 and the
    binary-log position returned and journaled. Only reads the database: not mutating."""

    kind = "mysql.backup"
    mutating = False
    Params = BackupParams

    def describe(self, params: Any) -> str:
        return "back up the database (mariadb-dump)"

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        backend = backend_for(ctx, params)
        return sqldb.backup_step(ctx, "mysql", backend.backup(
            _evidence(ctx, "mysql", params.dir), cancel=ctx.cancel, timeout=params.timeout, label=params.label))


class RestoreParams(MyParams):
    file: str = Field(description="a backup written by mysql.backup")
    confirm: str = Field(description="the database name, typed by the operator")
    timeout: Duration = 3600.0


@step_kind
class MySQLRestore(Step):
    """Guarded restore. After a crash it runs again: loading the same dump twice gives the
    same tables (each is dropped and recreated)."""

    kind = "mysql.restore"
    mutating = True
    Params = RestoreParams

    def describe(self, params: Any) -> str:
        return f"restore {Path(params.file).name} (replaces the database's tables)"

    def prepare(self, ctx: StepContext, params: Any) -> dict[str, Any] | None:
        backend = backend_for(ctx, params)
        backend._refuse_if_readonly(f"restore into {backend.database}")
        backend._confirm_database(params.confirm, "restore")
        from backends.mysql.dump import checked

        info = checked(Path(params.file))
        return {"sha256": info.sha256, "database": backend.database}

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        return sqldb.restore_step(ctx, backend_for(ctx, params), params)


class PitrParams(MyParams):
    file: str = Field(description="a backup written by mysql.backup (it records its binary-log position)")
    until: str = Field(description="'YYYY-MM-DD HH:MM:SS' UTC (or with an offset)")
    confirm: str = Field(description="the database name, typed by the operator")
    confirm_time: str = Field(description="the time, typed again by the operator")
    timeout: Duration = 3600.0


@step_kind
class MySQLPitr(Step):
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

        backend = backend_for(ctx, params)
        backend._refuse_if_readonly(f"point-in-time recovery of {backend.database}")
        plan = check_pitr(backend, Path(params.file), params.until, confirm_database=params.confirm,
                          confirm_time=params.confirm_time)
        return {"until": fmt(plan["until"]), "database": backend.database, "binlog_file": plan["binlog_file"],
                "binlog_pos": plan["binlog_pos"], "sha256": plan["backup"].sha256}

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        backend = backend_for(ctx, params)
        sqldb.follow(ctx, backend.pitr(params.file, params.until, confirm_database=params.confirm,
                                       confirm_time=params.confirm_time, cancel=ctx.cancel, timeout=params.timeout))
        return {"file": params.file, "database": backend.database, "dsn": backend.display_dsn,
                "until": ctx.prepared.get("until", params.until) if ctx.prepared else params.until}


class CountsParams(MyParams):
    tables: list[str] = Field(default_factory=list, description="default: the tables of compare_to")
    save_as: str | None = None
    compare_to: str | None = None
    fail_on_change: bool = False


@step_kind
class MySQLCounts(Step):
    kind = "mysql.counts"
    mutating = False
    Params = CountsParams

    def describe(self, params: Any) -> str:
        return "row counts" + (f" vs {params.compare_to}" if params.compare_to else "")

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        return sqldb.counts_step(ctx, params, lambda: backend_for(ctx, params), sub="mysql", kind=self.kind,
                                 report_saved=False)


class IntegrityParams(MyParams):
    checks: dict[str, str] = Field(default_factory=dict, description="name -> SQL returning violating rows")
    builtin: bool = Field(True, description="CHECK TABLE every table of the database")
    fail_on_violation: bool = True


@step_kind
class MySQLIntegrity(Step):
    kind = "mysql.integrity"
    mutating = False
    Params = IntegrityParams

    def describe(self, params: Any) -> str:
        return f"integrity checks (CHECK TABLE, {len(params.checks)} configured)"

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        return sqldb.integrity_step(ctx, backend_for(ctx, params), params, detail_lines=0)


class LongTxParams(MyParams):
    older_than: Duration = 60.0
    action: Literal["list", "cancel", "terminate"] = "list"
    id: int | None = Field(None, description="the connection id (processlist)")
    user: str | None = Field(None, description="only transactions of this user")


@step_kind
class MySQLLongTransactions(Step):
    """List long InnoDB transactions; ``action: cancel`` (KILL QUERY) or ``terminate`` (KILL
    CONNECTION) one id, or every one older than ``older_than`` of one ``user`` — never all."""

    kind = "mysql.long_transactions"
    mutating = True
    Params = LongTxParams

    def is_mutating(self, params: Any) -> bool:
        return params.action != "list"

    def describe(self, params: Any) -> str:
        if params.action == "list":
            return "list long-running transactions"
        who = f"connection {params.id}" if params.id else f"{params.user}'s transactions"
        return f"{params.action} {who} older than {params.older_than:g}s"

    def _matching(self, backend: MySQLBackend, params: Any) -> list:
        txs = backend.long_transactions(older_than=params.older_than)
        return [t for t in txs if (params.id is None or t.pid == params.id) and (not params.user or t.user == params.user)]

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        backend = backend_for(ctx, params)
        if params.action != "list" and params.id is None and not params.user:
            raise ConfigError(f"{params.action} needs an id or a user (refusing to kill every transaction)")
        txs = self._matching(backend, params)
        for t in txs:
            ctx.log(f"id {t.pid} {t.age_seconds:.0f}s {t.state} {t.user}@{t.client}: {t.query[:120]}")
        data: dict[str, Any] = {"dsn": backend.display_dsn, "transactions": _jsonable(txs)}
        if params.action == "list":
            return data
        killed = []
        for t in txs:
            ok = backend.kill(t.pid, connection=params.action == "terminate")
            ctx.log(f"{params.action} id {t.pid}: {'done' if ok else 'already gone'}")
            if ok:
                killed.append(t.pid)
        data["signalled"] = killed
        return data

    def reconcile(self, ctx: StepContext, params: Any, intent: dict[str, Any]) -> dict[str, Any] | None:
        if params.action == "list":
            return None
        backend = backend_for(ctx, params)
        return None if self._matching(backend, params) else {"dsn": backend.display_dsn, "signalled": [],
                                                              "reconciled": True}
