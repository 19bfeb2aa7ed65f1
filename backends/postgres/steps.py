"""Runbook step kinds for PostgreSQL.

``postgres.migrations``, ``postgres.counts``, ``postgres.integrity`` and
``postgres.long_transactions`` (listing) read; ``postgres.backup`` reads the database and writes
evidence; ``postgres.migrate_rollback``, ``postgres.restore`` and ``postgres.long_transactions``
with ``action: cancel|terminate`` change the world. The DSN comes from the step's ``dsn``
(a secret: never journaled) or the ``postgres`` backend of the context (a
:class:`PostgresBackend`, a DSN string, or ``{"dsn": ...}``).

.. code-block:: yaml

    - kind: postgres.backup            # into <evidence>/postgres, size + sha256 journaled
    - kind: postgres.counts
      params: {tables: [users, orders], save_as: pre}
    - kind: postgres.migrate_rollback
      params: {argv: [alembic, downgrade, "-1"], cwd: /srv/app}
    - kind: postgres.counts
      params: {compare_to: pre}
    - kind: postgres.integrity
      params: {checks: {orphaned orders: "SELECT count(*) FROM orders o LEFT JOIN users u ON u.id = o.user_id WHERE u.id IS NULL"}}
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr

from backends import sqldb
from backends.postgres.client import PostgresBackend
from cockpit.errors import CockpitError, ConfigError
from cockpit.runbook import Duration
from cockpit.steps import Step, StepContext, StepParams, step_kind
from cockpit.text import sanitize


class PgParams(StepParams):
    dsn: SecretStr | None = Field(None, description="overrides the postgres backend's DSN; never journaled")
    statement_timeout: Duration = 30.0


def backend_for(ctx: StepContext, params: PgParams) -> PostgresBackend:
    return sqldb.backend_for(ctx, params, PostgresBackend, "postgres")


_record, _jsonable, _evidence, _log_histories = sqldb.record, sqldb.jsonable, sqldb.evidence, sqldb.log_histories


# ---------------------------------------------------------------------------- migrations


class MigrationsParams(PgParams):
    limit: int = Field(10, ge=1, le=1000)


@step_kind
class PostgresMigrations(Step):
    kind = "postgres.migrations"
    mutating = False
    Params = MigrationsParams

    def describe(self, params: Any) -> str:
        return "list recent database migrations"

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        return sqldb.migrations_step(ctx, backend_for(ctx, params), params.limit)


class MigrateRollbackParams(PgParams):
    argv: list[str] = Field(min_length=1, description="the team's own command, e.g. [alembic, downgrade, '-1']")
    cwd: str | None = None
    env: dict[str, SecretStr] = Field(default_factory=dict)
    timeout: Duration = 600.0
    limit: int = Field(50, ge=1, le=1000)
    expect_change: bool = Field(True, description="fail if the history did not change")


@step_kind
class PostgresMigrateRollback(Step):
    """The team's migration rollback command as a streamed ``exec``, with the migration history
    read before and after and the difference journaled (``migrations_diff``)."""

    kind = "postgres.migrate_rollback"
    mutating = True
    Params = MigrateRollbackParams

    def describe(self, params: Any) -> str:
        return "roll back migrations: " + " ".join(sanitize(a, max_len=60) for a in params.argv)

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        from backends.exec import ExecParams, ExecStep
        from backends.postgres.migrations import diff_histories

        backend = backend_for(ctx, params)
        before = backend.migrations(limit=params.limit)
        _log_histories(ctx, before, "before")
        exec_params = ExecParams(argv=params.argv, cwd=params.cwd, env=params.env, timeout=params.timeout)
        exec_result = ExecStep().run(ctx, exec_params)
        after = backend.migrations(limit=params.limit)
        _log_histories(ctx, after, "after")
        diff = diff_histories(before, after)
        for m in diff.removed:
            ctx.log(f"rolled back: {m.framework} {m.name}")
        for m in diff.added:
            ctx.log(f"applied: {m.framework} {m.name}")
        data = {"dsn": backend.display_dsn, "removed": _jsonable(diff.removed), "added": _jsonable(diff.added),
                "before": _jsonable(before), "after": _jsonable(after), "exit_code": exec_result.get("exit_code")}
        _record(ctx, "migrations_diff", dsn=backend.display_dsn, removed=data["removed"], added=data["added"])
        if params.expect_change and not diff.changed:
            raise CockpitError("the command succeeded but the migration history did not change",
                               title="Migration not rolled back", hint="check the command and the database it used")
        return data


# ---------------------------------------------------------------------------- backups


class BackupParams(PgParams):
    dir: str | None = Field(None, description="default: <evidence dir>/postgres")
    label: str | None = None
    timeout: Duration = 3600.0
    compress: int = Field(1, ge=0, le=9, description="pg_dump zlib level (1: fast, ~10% larger than 6)")


@step_kind
class PostgresBackup(Step):
    """``pg_dump -Fc`` into the evidence directory; size and sha256 returned and journaled.
    Only reads the database, so it is not a mutating step (an observer may take one)."""

    kind = "postgres.backup"
    mutating = False
    Params = BackupParams

    def describe(self, params: Any) -> str:
        return "back up the database (pg_dump)"

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        backend = backend_for(ctx, params)
        return sqldb.backup_step(ctx, "postgres", backend.backup(
            _evidence(ctx, "postgres", params.dir), cancel=ctx.cancel, timeout=params.timeout, label=params.label,
            compress=params.compress))


class RestoreParams(PgParams):
    file: str = Field(description="a backup written by postgres.backup")
    confirm: str = Field(description="the database name, typed by the operator")
    timeout: Duration = 3600.0


@step_kind
class PostgresRestore(Step):
    kind = "postgres.restore"
    mutating = True
    Params = RestoreParams

    def describe(self, params: Any) -> str:
        return f"restore {Path(params.file).name} (replaces the database's contents)"

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        return sqldb.restore_step(ctx, backend_for(ctx, params), params)


# ---------------------------------------------------------------------------- counts


class CountsParams(PgParams):
    tables: list[str] = Field(default_factory=list, description="default: the tables of compare_to")
    save_as: str | None = Field(None, description="snapshot name, kept in the evidence dir")
    compare_to: str | None = Field(None, description="a snapshot saved earlier (save_as)")
    fail_on_change: bool = False


@step_kind
class PostgresCounts(Step):
    """Row counts of chosen tables; saved as a named snapshot and/or compared with one."""

    kind = "postgres.counts"
    mutating = False
    Params = CountsParams

    def describe(self, params: Any) -> str:
        return "row counts" + (f" vs {params.compare_to}" if params.compare_to else "")

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        return sqldb.counts_step(ctx, params, lambda: backend_for(ctx, params), sub="postgres", kind=self.kind,
                                 report_saved=True)


# ---------------------------------------------------------------------------- integrity


class IntegrityParams(PgParams):
    checks: dict[str, str] = Field(default_factory=dict, description="name -> SQL returning violating rows")
    builtin: bool = True
    fail_on_violation: bool = True


@step_kind
class PostgresIntegrity(Step):
    kind = "postgres.integrity"
    mutating = False
    Params = IntegrityParams

    def describe(self, params: Any) -> str:
        return f"integrity checks ({len(params.checks)} configured)"

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        return sqldb.integrity_step(ctx, backend_for(ctx, params), params, detail_lines=5)


# ---------------------------------------------------------------------------- long transactions


class LongTxParams(PgParams):
    older_than: Duration = 60.0
    action: Literal["list", "cancel", "terminate"] = "list"
    pid: int | None = None
    application: str | None = Field(None, description="only transactions of this application_name")


@step_kind
class PostgresLongTransactions(Step):
    """List long-running transactions; with ``action: cancel|terminate`` signal them (a pid, or
    every one older than ``older_than`` of one ``application``; never all of them blindly)."""

    kind = "postgres.long_transactions"
    mutating = True
    Params = LongTxParams

    def is_mutating(self, params: Any) -> bool:
        return params.action != "list"

    def describe(self, params: Any) -> str:
        if params.action == "list":
            return "list long-running transactions"
        who = f"pid {params.pid}" if params.pid else f"{params.application} transactions"
        return f"{params.action} {who} older than {params.older_than:g}s"

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        backend = backend_for(ctx, params)
        txs = backend.long_transactions(older_than=params.older_than)
        if params.application:
            txs = [t for t in txs if t.application == params.application]
        if params.pid is not None:
            txs = [t for t in txs if t.pid == params.pid]
        for t in txs:
            ctx.log(f"pid {t.pid} {t.age_seconds:.0f}s {t.state} {t.user}@{t.application or '-'}: {t.query[:120]}")
        data: dict[str, Any] = {"dsn": backend.display_dsn, "transactions": _jsonable(txs)}
        if params.action == "list":
            return data
        if params.pid is None and not params.application:
            raise ConfigError(f"{params.action} needs a pid or an application (refusing to signal every transaction)")
        signalled = []
        for t in txs:
            ok = backend.cancel_backend(t.pid) if params.action == "cancel" else backend.terminate_backend(t.pid)
            ctx.log(f"{params.action} pid {t.pid}: {'done' if ok else 'not signalled'}")
            if ok:
                signalled.append(t.pid)
        data["signalled"] = signalled
        return data

    def reconcile(self, ctx: StepContext, params: Any, intent: dict[str, Any]) -> dict[str, Any] | None:
        """Done when no matching transaction is left; else run again (signalling is idempotent)."""
        if params.action == "list":
            return None
        backend = backend_for(ctx, params)
        txs = backend.long_transactions(older_than=params.older_than)
        left = [t for t in txs if (params.pid is None or t.pid == params.pid)
                and (not params.application or t.application == params.application)]
        return None if left else {"dsn": backend.display_dsn, "signalled": [], "reconciled": True}
