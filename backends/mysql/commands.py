"""Headless MySQL/MariaDB commands:
``cockpit mysql migrations|backup|backups|restore|pitr|counts|integrity|long-tx``.

Cheap to import; PyMySQL loads inside the handlers. The DSN defaults to ``$MYSQL_URL`` then
``$DATABASE_URL``; its password never appears in output, argv of the tools, or the journal.
Writes (restore, pitr, kill) are journaled as an fsynced intent before anything is sent when
``--journal`` is given.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from backends import sqldb
from backends.sqldb import Journaled as _Journaled
from cockpit.durations import duration_arg as duration
from cockpit.prompt import ask as _ask


_SQL = sqldb.SQLCommands(
    "backends.mysql.client.MySQLBackend",
    product="MySQL", dsn_hint="pass --dsn or set MYSQL_URL", prefix="mysql",
    restore_warning="restore will replace the tables of database {database!r} at {target} with those in {file}")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    my = sub.add_parser("mysql", parents=[common],
                        help="MySQL/MariaDB: migrations, backups, restore, PITR, counts, integrity, long transactions")
    msub = my.add_subparsers(dest="mysql_command", metavar="ACTION", required=True)
    dsn_arg = sqldb.dsn_options(("MYSQL_URL", "DATABASE_URL"),
                                help="mysql://user:password@host:3306/db (default: $MYSQL_URL, then $DATABASE_URL)")

    sqldb.add_migrations(msub, common, dsn_arg, _SQL.migrations)

    b = msub.add_parser("backup", parents=[common],
                        help="mariadb-dump --single-transaction into DIR; size, sha256 and binlog position recorded")
    dsn_arg(b)
    b.add_argument("--dir", type=Path, required=True, help="evidence directory")
    b.add_argument("--timeout", type=duration, default=3600.0, metavar="DUR")
    b.set_defaults(handler=_backup)

    sqldb.add_backups(msub, common, _SQL.backups)
    sqldb.add_restore(msub, common, dsn_arg, _SQL.restore,
                      help="restore a backup (checksum verified; type the database name)")

    p = msub.add_parser("pitr", parents=[common],
                        help="restore a backup, then replay the binary log up to --until (type database and time)")
    dsn_arg(p)
    p.add_argument("file", type=Path, help="a backup taken by `cockpit mysql backup` (it records its binlog position)")
    p.add_argument("--until", required=True, metavar="TIME", help="'YYYY-MM-DD HH:MM:SS' (UTC unless an offset is given)")
    p.add_argument("--confirm", metavar="DBNAME", default=None, help="the database name (asked for on a terminal)")
    p.add_argument("--confirm-time", metavar="TIME", default=None, help="the time again (asked for on a terminal)")
    p.add_argument("--timeout", type=duration, default=3600.0, metavar="DUR")
    p.set_defaults(handler=_pitr)

    sqldb.add_counts(msub, common, dsn_arg, _SQL.counts, table_help="table or db.table (default: the snapshot's)")
    sqldb.add_integrity(msub, common, dsn_arg, _SQL.integrity,
                        help="CHECK TABLE and configured checks (exit 7 on violations)", builtin_help="skip CHECK TABLE")

    sqldb.add_long_tx(msub, common, dsn_arg, _long_tx, help="long-running InnoDB transactions; kill one",
                      metavar="ID", cancel_help="KILL QUERY ID (its statement)",
                      terminate_help="KILL CONNECTION ID (its transaction rolls back)")


# ---------------------------------------------------------------------------- its own handlers (the others: _SQL)


def _backup(args: argparse.Namespace) -> int:
    from cockpit.output import emit

    info = sqldb.journaled_backup(args, _SQL.backend(args), "mysql.backup")
    emit(args, info, ["FILE", "SIZE", "SHA256", "SECONDS", "BINLOG"],
         [[str(info.path), info.size, info.sha256, info.duration,
           f"{info.extra.get('binlog_file', '-')}:{info.extra.get('binlog_pos', '-')}"]])
    return 0


def _pitr(args: argparse.Namespace) -> int:
    from backends.mysql.pitr import fmt, parse_time
    from cockpit.errors import Aborted

    backend = _SQL.backend(args)
    backend._refuse_if_readonly(f"point-in-time recovery of {backend.database}")
    when = parse_time(args.until)
    confirm, confirm_time = args.confirm, args.confirm_time
    if confirm is None or confirm_time is None:
        print(f"point-in-time recovery replaces the tables of database {backend.database!r} at {backend.target} "
              f"with {args.file}, then replays the binary log up to {fmt(when)} UTC", file=sys.stderr)
        if confirm is None:
            confirm = _ask("type the database name to confirm: ")
        if confirm_time is None and confirm:
            confirm_time = _ask(f"type the time ({fmt(when)}) to confirm: ")
        if not confirm or not confirm_time:
            raise Aborted("nothing recovered", hint=f"pass --confirm {backend.database} --confirm-time '{fmt(when)}'")
    steps = backend.pitr(args.file, when, confirm_database=confirm, confirm_time=confirm_time, timeout=args.timeout)
    with _Journaled(args, "mysql.pitr", dsn=backend.display_dsn, file=str(args.file), until=fmt(when)) as act:
        for p in steps:
            if p.message:
                print(p.message, file=sys.stderr)
        act.result = {"database": backend.database, "until": fmt(when)}
    print(f"recovered {backend.database} to {fmt(when)} UTC")
    return 0


def _long_tx(args: argparse.Namespace) -> int:
    backend = _SQL.backend(args)
    return sqldb.long_tx_command(
        args, backend, noun="id", app_header="DB", action="mysql.{verb}",
        missing=lambda tid, txs: f"no open transaction on connection {tid} at {backend.target}"
        + (f" (open: {', '.join(str(t) for t in sorted(txs))})" if txs else " (none open)"),
        describe=lambda verb, tid, t: f"{verb} connection {tid} ({t.user}@{t.client}, db {t.application or '-'}, "
        f"{t.age_seconds:.0f}s, {t.state}): {t.query[:120]}",
        signal=lambda verb, tid: backend.kill(tid, connection=verb == "terminate"))
