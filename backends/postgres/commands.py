"""Headless PostgreSQL commands: ``cockpit pg migrations|backup|backups|restore|counts|integrity|long-tx``.

Cheap to import; psycopg loads inside the handlers. The DSN defaults to ``$DATABASE_URL``;
its password never appears in output or the journal.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from backends import sqldb
from cockpit.durations import duration_arg as duration


_SQL = sqldb.SQLCommands(
    "backends.postgres.client.PostgresBackend",
    product="PostgreSQL", dsn_hint="pass --dsn or set DATABASE_URL", prefix="postgres",
    restore_warning="pg_restore --clean will replace the contents of database {database!r} at {target} with {file}")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    pg = sub.add_parser("pg", parents=[common], help="PostgreSQL: migrations, backups, counts, integrity, long transactions")
    psub = pg.add_subparsers(dest="pg_command", metavar="ACTION", required=True)
    dsn_arg = sqldb.dsn_options(
        ("DATABASE_URL",), help="postgresql://user@host:5432/db or 'host=... dbname=...' (default: $DATABASE_URL)")

    sqldb.add_migrations(psub, common, dsn_arg, _SQL.migrations)

    b = psub.add_parser("backup", parents=[common], help="pg_dump (custom format) into DIR; size and sha256 recorded")
    dsn_arg(b)
    b.add_argument("--dir", type=Path, required=True, help="evidence directory")
    b.add_argument("--timeout", type=duration, default=3600.0, metavar="DUR")
    b.add_argument("--compress", type=int, choices=range(0, 10), default=1, metavar="0-9",
                   help="pg_dump zlib level (default 1: fast, ~10%% larger than pg_dump's own 6)")
    b.set_defaults(handler=_backup)

    sqldb.add_backups(psub, common, _SQL.backups)
    sqldb.add_restore(psub, common, dsn_arg, _SQL.restore,
                      help="pg_restore a backup (checksum verified; type the database name)")
    sqldb.add_counts(psub, common, dsn_arg, _SQL.counts, table_help="table or schema.table (default: the snapshot's)")
    sqldb.add_integrity(psub, common, dsn_arg, _SQL.integrity,
                        help="built-in and configured integrity checks (exit 7 on violations)",
                        builtin_help="skip the built-in checks")

    sqldb.add_long_tx(psub, common, dsn_arg, _long_tx, help="long-running transactions; cancel or terminate one",
                      metavar="PID", cancel_help="pg_cancel_backend(PID)", terminate_help="pg_terminate_backend(PID)")


# ---------------------------------------------------------------------------- its own handlers (the others: _SQL)


def _backup(args: argparse.Namespace) -> int:
    from cockpit.output import emit

    info = sqldb.journaled_backup(args, _SQL.backend(args), "postgres.backup", compress=args.compress)
    emit(args, info, ["FILE", "SIZE", "SHA256", "SECONDS"], [[str(info.path), info.size, info.sha256, info.duration]])
    return 0


def _long_tx(args: argparse.Namespace) -> int:
    backend = _SQL.backend(args)
    return sqldb.long_tx_command(
        args, backend, noun="pid", app_header="APPLICATION", action="postgres.{verb}_backend",
        missing=lambda pid, txs: f"no open transaction with pid {pid} on {backend.target}",
        describe=lambda verb, pid, t: f"{verb} pid {pid} ({t.user}@{t.application or '-'}, {t.age_seconds:.0f}s, "
        f"{t.state}): {t.query[:120]}",
        signal=lambda verb, pid: backend.cancel_backend(pid) if verb == "cancel" else backend.terminate_backend(pid))
