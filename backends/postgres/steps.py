"""Runbook step kinds for PostgreSQL.

``postgres.migrations``, ``postgres.counts``, ``postgres.integrity`` and
``postgres.long_transactions`` (listing) read; ``postgres.backup`` reads the database and writes
evidence; ``postgres.migrate_rollback``, ``postgres.restore`` and ``postgres.long_transactions``
with ``action: cancel|terminate`` change the world. The DSN comes from the step's ``dsn``
(a secret: never journaled) or the ``postgres`` backend of the context (a
:class:`PostgresBackend`, a DSN string, or ``{"dsn": ...}``). What these kinds share with
MySQL's is written once in :mod:`backends.sqlsteps`; here they get their names and wording.

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

from typing import Any

from pydantic import Field, SecretStr

from backends import sqlsteps
from backends.postgres.client import PostgresBackend
from cockpit.errors import CockpitError
from cockpit.output import jsonable
from cockpit.runbook import Duration
from cockpit.steps import StepContext, step_kind
from cockpit.text import sanitize


class PostgresStep(sqlsteps.SQLStep):
    engine, backend_cls = "postgres", PostgresBackend


# ---------------------------------------------------------------------------- migrations


@step_kind
class PostgresMigrations(PostgresStep, sqlsteps.Migrations):
    kind = "postgres.migrations"


class MigrateRollbackParams(sqlsteps.SQLParams):
    argv: list[str] = Field(min_length=1, description="the team's own command, e.g. [alembic, downgrade, '-1']")
    cwd: str | None = None
    env: dict[str, SecretStr] = Field(default_factory=dict)
    timeout: Duration = 600.0
    limit: int = Field(50, ge=1, le=1000)
    expect_change: bool = Field(True, description="fail if the history did not change")


@step_kind
class PostgresMigrateRollback(PostgresStep):
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

        backend = self.backend(ctx, params)
        before = backend.migrations(limit=params.limit)
        sqlsteps.log_histories(ctx, before, "before")
        exec_params = ExecParams(argv=params.argv, cwd=params.cwd, env=params.env, timeout=params.timeout)
        exec_result = ExecStep().run(ctx, exec_params)
        after = backend.migrations(limit=params.limit)
        sqlsteps.log_histories(ctx, after, "after")
        diff = diff_histories(before, after)
        for m in diff.removed:
            ctx.log(f"rolled back: {m.framework} {m.name}")
        for m in diff.added:
            ctx.log(f"applied: {m.framework} {m.name}")
        data = {"dsn": backend.display_dsn, "removed": jsonable(diff.removed), "added": jsonable(diff.added),
                "before": jsonable(before), "after": jsonable(after), "exit_code": exec_result.get("exit_code")}
        sqlsteps.record(ctx, "migrations_diff", dsn=backend.display_dsn, removed=data["removed"], added=data["added"])
        if params.expect_change and not diff.changed:
            raise CockpitError("the command succeeded but the migration history did not change",
                               title="Migration not rolled back", hint="check the command and the database it used")
        return data


# ---------------------------------------------------------------------------- backups


class BackupParams(sqlsteps.BackupParams):
    compress: int = Field(1, ge=0, le=9, description="pg_dump zlib level (1: fast, ~10% larger than 6)")


@step_kind
class PostgresBackup(PostgresStep, sqlsteps.Backup):
    """``pg_dump -Fc`` into the evidence directory; size and sha256 returned and journaled.
    Only reads the database, so it is not a mutating step (an observer may take one)."""

    kind = "postgres.backup"
    Params = BackupParams
    summary = "back up the database (pg_dump)"

    def options(self, params: Any) -> dict[str, Any]:
        return {"compress": params.compress}


@step_kind
class PostgresRestore(PostgresStep, sqlsteps.Restore):
    kind = "postgres.restore"


# ---------------------------------------------------------------------------- counts and integrity


@step_kind
class PostgresCounts(PostgresStep, sqlsteps.Counts):
    kind = "postgres.counts"
    report_saved = True


@step_kind
class PostgresIntegrity(PostgresStep, sqlsteps.Integrity):
    kind = "postgres.integrity"
    detail_lines = 5


# ---------------------------------------------------------------------------- long transactions


class LongTxParams(sqlsteps.LongTxParams):
    pid: int | None = None
    application: str | None = Field(None, description="only transactions of this application_name")


@step_kind
class PostgresLongTransactions(PostgresStep, sqlsteps.LongTransactions):
    """Signalled with ``pg_cancel_backend``/``pg_terminate_backend``: a pid, or every one of an
    ``application``; a selector missing is refused after the listing."""

    kind = "postgres.long_transactions"
    Params = LongTxParams
    id_param, name_param, noun = "pid", "application", "pid"
    unselected = "a pid or an application (refusing to signal every transaction)"
    not_signalled = "not signalled"

    def who(self, params: Any) -> str:
        return f"pid {params.pid}" if params.pid else f"{params.application} transactions"

    def line(self, tx: Any) -> str:
        return f"pid {tx.pid} {tx.age_seconds:.0f}s {tx.state} {tx.user}@{tx.application or '-'}: {tx.query[:120]}"

    def signal(self, backend: PostgresBackend, action: str, tx_id: int) -> bool:
        return backend.cancel_backend(tx_id) if action == "cancel" else backend.terminate_backend(tx_id)
