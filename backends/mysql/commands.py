"""Headless MySQL/MariaDB commands:
``cockpit mysql migrations|backup|backups|restore|pitr|counts|integrity|long-tx``.

Cheap to import; PyMySQL loads inside the handlers. The DSN defaults to ``$MYSQL_URL`` then
``$DATABASE_URL``; its password never appears in output, argv of the tools, or the journal.
Writes (restore, pitr, kill) are journaled as an fsynced intent before anything is sent when
``--journal`` is given.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from backends.postgres.commands import _ask, _Journaled, _ts  # shared helpers
from cockpit.durations import duration_arg as duration


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    my = sub.add_parser("mysql", parents=[common],
                        help="MySQL/MariaDB: migrations, backups, restore, PITR, counts, integrity, long transactions")
    msub = my.add_subparsers(dest="mysql_command", metavar="ACTION", required=True)

    def dsn_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dsn", default=os.environ.get("MYSQL_URL") or os.environ.get("DATABASE_URL"),
                       help="mysql://user:password@host:3306/db (default: $MYSQL_URL, then $DATABASE_URL)")
        p.add_argument("--statement-timeout", type=duration, default=30.0, metavar="DUR",
                       help="per statement (default 30s)")

    m = msub.add_parser("migrations", parents=[common], help="recent migrations from every framework table found")
    dsn_arg(m)
    m.add_argument("--limit", type=int, default=10, help="per table (default 10)")
    m.set_defaults(handler=_migrations)

    b = msub.add_parser("backup", parents=[common],
                        help="mariadb-dump --single-transaction into DIR; size, sha256 and binlog position recorded")
    dsn_arg(b)
    b.add_argument("--dir", type=Path, required=True, help="evidence directory")
    b.add_argument("--timeout", type=duration, default=3600.0, metavar="DUR")
    b.set_defaults(handler=_backup)

    bl = msub.add_parser("backups", parents=[common], help="list the backups in DIR (and verify their checksums)")
    bl.add_argument("--dir", type=Path, required=True)
    bl.add_argument("--verify", action="store_true", help="recompute every sha256")
    bl.set_defaults(handler=_backups)

    r = msub.add_parser("restore", parents=[common], help="restore a backup (checksum verified; type the database name)")
    dsn_arg(r)
    r.add_argument("file", type=Path)
    r.add_argument("--confirm", metavar="DBNAME", default=None, help="the database name (asked for on a terminal)")
    r.add_argument("--timeout", type=duration, default=3600.0, metavar="DUR")
    r.set_defaults(handler=_restore)

    p = msub.add_parser("pitr", parents=[common],
                        help="restore a backup, then replay the binary log up to --until (type database and time)")
    dsn_arg(p)
    p.add_argument("file", type=Path, help="a backup taken by `cockpit mysql backup` (it records its binlog position)")
    p.add_argument("--until", required=True, metavar="TIME", help="'YYYY-MM-DD HH:MM:SS' (UTC unless an offset is given)")
    p.add_argument("--confirm", metavar="DBNAME", default=None, help="the database name (asked for on a terminal)")
    p.add_argument("--confirm-time", metavar="TIME", default=None, help="the time again (asked for on a terminal)")
    p.add_argument("--timeout", type=duration, default=3600.0, metavar="DUR")
    p.set_defaults(handler=_pitr)

    c = msub.add_parser("counts", parents=[common], help="exact row counts; --save a snapshot, --compare against one")
    dsn_arg(c)
    c.add_argument("tables", nargs="*", metavar="TABLE", help="table or db.table (default: the snapshot's)")
    c.add_argument("--save", type=Path, metavar="FILE", help="write the counts as JSON")
    c.add_argument("--compare", type=Path, metavar="FILE", help="compare with a saved snapshot")
    c.set_defaults(handler=_counts)

    i = msub.add_parser("integrity", parents=[common], help="CHECK TABLE and configured checks (exit 7 on violations)")
    dsn_arg(i)
    i.add_argument("--check", action="append", default=[], metavar="NAME=SQL",
                   help="a query returning the number of violating rows (repeatable)")
    i.add_argument("--checks-file", type=Path, metavar="FILE", help="JSON or YAML mapping name -> SQL")
    i.add_argument("--no-builtin", action="store_true", help="skip CHECK TABLE")
    i.set_defaults(handler=_integrity)

    lt = msub.add_parser("long-tx", parents=[common], help="long-running InnoDB transactions; kill one")
    dsn_arg(lt)
    lt.add_argument("--older-than", type=duration, default=60.0, metavar="DUR", help="default 1m")
    act = lt.add_mutually_exclusive_group()
    act.add_argument("--cancel", type=int, metavar="ID", help="KILL QUERY ID (its statement)")
    act.add_argument("--terminate", type=int, metavar="ID", help="KILL CONNECTION ID (its transaction rolls back)")
    lt.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    lt.set_defaults(handler=_long_tx)


def _backend(args: argparse.Namespace) -> Any:
    from backends.mysql.client import MySQLBackend
    from cockpit.errors import ConfigError

    if not getattr(args, "dsn", None):
        raise ConfigError("no MySQL DSN", hint="pass --dsn or set MYSQL_URL")
    return MySQLBackend(args.dsn, readonly=bool(getattr(args, "readonly", False)),
                        statement_timeout=getattr(args, "statement_timeout", 30.0))


def _migrations(args: argparse.Namespace) -> int:
    from cockpit.output import emit

    backend = _backend(args)
    histories = backend.migrations(limit=args.limit)
    if getattr(args, "output", "text") != "json" and not histories:
        print(f"no migration tables found in {backend.target}")
        return 0
    emit(args, {"dsn": backend.display_dsn, "histories": histories}, ["FRAMEWORK", "TABLE", "MIGRATION", "APPLIED", "NOTE"],
         [[h.framework, h.table, m.name, _ts(m.applied_at), m.detail] for h in histories for m in h.migrations])
    return 0


def _backup(args: argparse.Namespace) -> int:
    from cockpit.output import emit

    backend = _backend(args)
    tty = sys.stderr.isatty() and getattr(args, "output", "text") != "json"
    with _Journaled(args, "mysql.backup", dsn=backend.display_dsn, dir=str(args.dir)) as act:
        info = None
        for p in backend.backup(args.dir, timeout=args.timeout):
            if tty and p.message:
                print(p.message, file=sys.stderr)
            if p.done:
                info = p.backup
        assert info is not None
        act.result = {"path": str(info.path), "size": info.size, "sha256": info.sha256, "seconds": info.duration,
                      **info.extra}
    emit(args, info, ["FILE", "SIZE", "SHA256", "SECONDS", "BINLOG"],
         [[str(info.path), info.size, info.sha256, info.duration,
           f"{info.extra.get('binlog_file', '-')}:{info.extra.get('binlog_pos', '-')}"]])
    return 0


def _backups(args: argparse.Namespace) -> int:
    from backends.mysql.client import MySQLBackend
    from cockpit.output import emit

    items = MySQLBackend.list_backups(args.dir, verify=args.verify)
    emit(args, items, ["FILE", "DATABASE", "SIZE", "CREATED", "SHA256", "VERIFIED"],
         [[b.path.name, b.database, b.size, _ts(b.created), b.sha256[:16],
           {None: "-", True: "ok", False: "MISMATCH"}[b.verified]] for b in items])
    return 7 if args.verify and any(b.verified is False for b in items) else 0


def _restore(args: argparse.Namespace) -> int:
    from cockpit.errors import Aborted

    backend = _backend(args)
    backend._refuse_if_readonly(f"restore into {backend.database}")
    confirm = args.confirm
    if confirm is None:
        print(f"restore will replace the tables of database {backend.database!r} at {backend.target} "
              f"with those in {args.file}", file=sys.stderr)
        confirm = _ask("type the database name to confirm: ")
        if not confirm:
            raise Aborted("nothing restored", hint=f"pass --confirm {backend.database}")
    steps = backend.restore(args.file, confirm=confirm, timeout=args.timeout)  # checks confirm and readonly
    with _Journaled(args, "mysql.restore", dsn=backend.display_dsn, file=str(args.file)) as act:
        for p in steps:
            if p.message:
                print(p.message, file=sys.stderr)
        act.result = {"database": backend.database}
    print(f"restored {args.file} into {backend.database}")
    return 0


def _pitr(args: argparse.Namespace) -> int:
    from backends.mysql.pitr import fmt, parse_time
    from cockpit.errors import Aborted

    backend = _backend(args)
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


def _counts(args: argparse.Namespace) -> int:
    import json

    from backends.postgres.commands import _load_snapshot
    from cockpit.errors import ConfigError
    from cockpit.output import emit

    before = _load_snapshot(args.compare) if args.compare else None
    tables = list(args.tables) or list(before or [])
    if not tables:
        raise ConfigError("name at least one table (or --compare a snapshot)")
    backend = _backend(args)
    counts = backend.counts(tables)
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps({"dsn": backend.display_dsn, "counts": counts}, indent=2) + "\n")
    if before is None:
        emit(args, counts, ["TABLE", "ROWS"], [[t, n] for t, n in counts.items()])
        return 0
    diffs = backend.compare_counts(before, counts)
    data = [{"table": d.table, "before": d.before, "after": d.after, "delta": d.delta, "changed": d.changed} for d in diffs]
    emit(args, data, ["TABLE", "BEFORE", "AFTER", "DELTA", ""],
         [[d.table, d.before, d.after, "" if d.delta is None else f"{d.delta:+d}", "CHANGED" if d.changed else ""]
          for d in diffs])
    return 0


def _integrity(args: argparse.Namespace) -> int:
    import json

    from cockpit.errors import ConfigError
    from cockpit.output import emit

    checks: dict[str, str] = {}
    if args.checks_file:
        try:
            text = args.checks_file.read_text()
        except OSError as exc:
            raise ConfigError(f"{args.checks_file}: {exc.strerror}") from None
        try:
            loaded = json.loads(text)
        except ValueError:
            import yaml

            loaded = yaml.safe_load(text)
        if not isinstance(loaded, dict):
            raise ConfigError(f"{args.checks_file}: expected a mapping of check name to SQL")
        checks.update({str(k): str(v) for k, v in loaded.items()})
    for item in args.check:
        name, sep, query = item.partition("=")
        if not sep or not name.strip() or not query.strip():
            raise ConfigError(f"--check {item!r}: expected NAME=SQL")
        checks[name.strip()] = query
    results = _backend(args).integrity(checks, builtin=not args.no_builtin)
    emit(args, [{"name": r.name, "violations": r.violations, "ok": r.ok, "builtin": r.builtin,
                 "detail": list(r.detail), "error": r.error} for r in results],
         ["CHECK", "VIOLATIONS", "RESULT", "DETAIL"],
         [[r.name, r.violations, "ok" if r.ok else ("ERROR" if r.error else "FAIL"),
           r.error or "; ".join(r.detail[:3])] for r in results])
    return 0 if all(r.ok for r in results) else 7


def _long_tx(args: argparse.Namespace) -> int:
    from cockpit.errors import Aborted, NotFoundError
    from cockpit.output import emit

    backend = _backend(args)
    tid = args.cancel or args.terminate
    if tid is None:
        txs = backend.long_transactions(older_than=args.older_than)
        emit(args, txs, ["ID", "AGE", "STATE", "USER", "DB", "CLIENT", "QUERY"],
             [[t.pid, f"{t.age_seconds:.0f}s", t.state, t.user, t.application, t.client, t.query[:80]] for t in txs])
        return 0
    verb = "cancel" if args.cancel else "terminate"
    backend._refuse_if_readonly(f"{verb} {tid}")
    txs = {t.pid: t for t in backend.long_transactions(older_than=0)}
    if tid not in txs:
        raise NotFoundError(f"no open transaction on connection {tid} at {backend.target}"
                            + (f" (open: {', '.join(str(t) for t in sorted(txs))})" if txs else " (none open)"))
    t = txs[tid]
    if not args.yes:
        print(f"{verb} connection {tid} ({t.user}@{t.client}, db {t.application or '-'}, {t.age_seconds:.0f}s, "
              f"{t.state}): {t.query[:120]}", file=sys.stderr)
        if _ask(f"type {tid} to {verb} it: ").strip() != str(tid):
            raise Aborted(f"did not {verb} {tid}", hint="type the id, or pass --yes")
    with _Journaled(args, f"mysql.{verb}", dsn=backend.display_dsn, pid=tid) as act:
        done = backend.kill(tid, connection=bool(args.terminate))
        act.result = {"signalled": done}
    emit(args, {"id": tid, "action": verb, "signalled": done}, ["ID", "ACTION", "SIGNALLED"], [[tid, verb, done]])
    return 0 if done else 1
