"""Headless PostgreSQL commands: ``cockpit pg migrations|backup|backups|restore|counts|integrity|long-tx``.

Cheap to import; psycopg loads inside the handlers. The DSN defaults to ``$DATABASE_URL``;
its password never appears in output or the journal.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from cockpit.durations import duration_arg as duration


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    pg = sub.add_parser("pg", parents=[common], help="PostgreSQL: migrations, backups, counts, integrity, long transactions")
    psub = pg.add_subparsers(dest="pg_command", metavar="ACTION", required=True)

    def dsn_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dsn", default=os.environ.get("DATABASE_URL"),
                       help="postgresql://user@host:5432/db or 'host=... dbname=...' (default: $DATABASE_URL)")
        p.add_argument("--statement-timeout", type=duration, default=30.0, metavar="DUR",
                       help="per statement (default 30s)")

    m = psub.add_parser("migrations", parents=[common], help="recent migrations from every framework table found")
    dsn_arg(m)
    m.add_argument("--limit", type=int, default=10, help="per table (default 10)")
    m.set_defaults(handler=_migrations)

    b = psub.add_parser("backup", parents=[common], help="pg_dump (custom format) into DIR; size and sha256 recorded")
    dsn_arg(b)
    b.add_argument("--dir", type=Path, required=True, help="evidence directory")
    b.add_argument("--timeout", type=duration, default=3600.0, metavar="DUR")
    b.add_argument("--compress", type=int, choices=range(0, 10), default=1, metavar="0-9",
                   help="pg_dump zlib level (default 1: fast, ~10%% larger than pg_dump's own 6)")
    b.set_defaults(handler=_backup)

    bl = psub.add_parser("backups", parents=[common], help="list the backups in DIR (and verify their checksums)")
    bl.add_argument("--dir", type=Path, required=True)
    bl.add_argument("--verify", action="store_true", help="recompute every sha256")
    bl.set_defaults(handler=_backups)

    r = psub.add_parser("restore", parents=[common], help="pg_restore a backup (checksum verified; type the database name)")
    dsn_arg(r)
    r.add_argument("file", type=Path)
    r.add_argument("--confirm", metavar="DBNAME", default=None, help="the database name (asked for on a terminal)")
    r.add_argument("--timeout", type=duration, default=3600.0, metavar="DUR")
    r.set_defaults(handler=_restore)

    c = psub.add_parser("counts", parents=[common], help="exact row counts; --save a snapshot, --compare against one")
    dsn_arg(c)
    c.add_argument("tables", nargs="*", metavar="TABLE", help="table or schema.table (default: the snapshot's)")
    c.add_argument("--save", type=Path, metavar="FILE", help="write the counts as JSON")
    c.add_argument("--compare", type=Path, metavar="FILE", help="compare with a saved snapshot")
    c.set_defaults(handler=_counts)

    i = psub.add_parser("integrity", parents=[common], help="built-in and configured integrity checks (exit 7 on violations)")
    dsn_arg(i)
    i.add_argument("--check", action="append", default=[], metavar="NAME=SQL",
                   help="a query returning the number of violating rows (repeatable)")
    i.add_argument("--checks-file", type=Path, metavar="FILE", help="JSON or YAML mapping name -> SQL")
    i.add_argument("--no-builtin", action="store_true", help="skip the built-in checks")
    i.set_defaults(handler=_integrity)

    lt = psub.add_parser("long-tx", parents=[common], help="long-running transactions; cancel or terminate one")
    dsn_arg(lt)
    lt.add_argument("--older-than", type=duration, default=60.0, metavar="DUR", help="default 1m")
    act = lt.add_mutually_exclusive_group()
    act.add_argument("--cancel", type=int, metavar="PID", help="pg_cancel_backend(PID)")
    act.add_argument("--terminate", type=int, metavar="PID", help="pg_terminate_backend(PID)")
    lt.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    lt.set_defaults(handler=_long_tx)


# ---------------------------------------------------------------------------- helpers


def _backend(args: argparse.Namespace) -> Any:
    from backends.postgres.client import PostgresBackend
    from cockpit.errors import ConfigError

    if not getattr(args, "dsn", None):
        raise ConfigError("no PostgreSQL DSN", hint="pass --dsn or set DATABASE_URL")
    return PostgresBackend(args.dsn, readonly=bool(getattr(args, "readonly", False)),
                           statement_timeout=getattr(args, "statement_timeout", 30.0))


def _journal(args: argparse.Namespace) -> Any:
    path = getattr(args, "journal", None)
    if not path:
        return None
    from cockpit.journal import Journal

    return Journal.open(path)


class _Journaled:
    """``with _Journaled(args, action, **data) as act: ... act.result = {...}`` — or nothing."""

    def __init__(self, args: argparse.Namespace, action: str, **data: Any) -> None:
        self.journal = _journal(args)
        self.action, self.data = action, data
        self._cm = None

    def __enter__(self) -> Any:
        if self.journal is None:
            class _Null:
                result: dict = {}

            return _Null()
        self._cm = self.journal.action(self.action, **self.data)
        return self._cm.__enter__()

    def __exit__(self, *exc: Any) -> bool:
        try:
            if self._cm is not None:
                return bool(self._cm.__exit__(*exc))
            return False
        finally:
            if self.journal is not None:
                self.journal.close()


def _ask(prompt: str) -> str:
    if not sys.stdin.isatty():
        return ""
    try:
        return input(prompt)
    except EOFError:
        return ""


def _ts(value: Any) -> str:
    from cockpit.output import age

    return "" if value is None else f"{value:%Y-%m-%d %H:%M:%S} ({age(value)} ago)"


# ---------------------------------------------------------------------------- handlers


def _migrations(args: argparse.Namespace) -> int:
    from cockpit.output import emit

    backend = _backend(args)
    histories = backend.migrations(limit=args.limit)
    data = {"dsn": backend.display_dsn, "histories": histories}
    rows = [[h.framework, h.table, m.name, _ts(m.applied_at), m.detail] for h in histories for m in h.migrations]
    if getattr(args, "output", "text") != "json" and not histories:
        print(f"no migration tables found in {backend.target}")
        return 0
    emit(args, data, ["FRAMEWORK", "TABLE", "MIGRATION", "APPLIED", "NOTE"], rows)
    return 0


def _backup(args: argparse.Namespace) -> int:
    from cockpit.output import emit

    backend = _backend(args)
    tty = sys.stderr.isatty() and getattr(args, "output", "text") != "json"
    with _Journaled(args, "postgres.backup", dsn=backend.display_dsn, dir=str(args.dir)) as act:
        info = None
        for p in backend.backup(args.dir, timeout=args.timeout, compress=args.compress):
            if tty and p.message:
                print(p.message, file=sys.stderr)
            if p.done:
                info = p.backup
        assert info is not None
        act.result = {"path": str(info.path), "size": info.size, "sha256": info.sha256, "seconds": info.duration}
    emit(args, info, ["FILE", "SIZE", "SHA256", "SECONDS"], [[str(info.path), info.size, info.sha256, info.duration]])
    return 0


def _backups(args: argparse.Namespace) -> int:
    from backends.postgres.client import PostgresBackend
    from cockpit.output import emit

    items = PostgresBackend.list_backups(args.dir, verify=args.verify)
    emit(args, items, ["FILE", "DATABASE", "SIZE", "CREATED", "SHA256", "VERIFIED"],
         [[b.path.name, b.database, b.size, _ts(b.created), b.sha256[:16],
           {None: "-", True: "ok", False: "MISMATCH"}[b.verified]] for b in items])
    return 7 if args.verify and any(b.verified is False for b in items) else 0


def _restore(args: argparse.Namespace) -> int:
    from cockpit.errors import Aborted

    backend = _backend(args)
    if backend.readonly:
        backend._refuse_if_readonly(f"restore into {backend.database}")
    confirm = args.confirm
    if confirm is None:
        print(f"pg_restore --clean will replace the contents of database {backend.database!r} at {backend.target} "
              f"with {args.file}", file=sys.stderr)
        confirm = _ask("type the database name to confirm: ")
        if not confirm:
            raise Aborted("nothing restored", hint=f"pass --confirm {backend.database}")
    steps = backend.restore(args.file, confirm=confirm, timeout=args.timeout)  # checks confirm and readonly
    with _Journaled(args, "postgres.restore", dsn=backend.display_dsn, file=str(args.file)) as act:
        for p in steps:
            if p.message:
                print(p.message, file=sys.stderr)
        act.result = {"database": backend.database}
    print(f"restored {args.file} into {backend.database}")
    return 0


def _load_snapshot(path: Path) -> dict[str, int]:
    import json

    from cockpit.errors import ConfigError

    try:
        data = json.loads(path.read_text())
        counts = data.get("counts", data)
        return {str(k): int(v) for k, v in counts.items()}
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise ConfigError(f"{path}: not a counts snapshot ({exc})") from None


def _counts(args: argparse.Namespace) -> int:
    import json

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
        text = args.checks_file.read_text()
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
    pid = args.cancel or args.terminate
    if pid is None:
        txs = backend.long_transactions(older_than=args.older_than)
        emit(args, txs, ["PID", "AGE", "STATE", "USER", "APPLICATION", "CLIENT", "QUERY"],
             [[t.pid, f"{t.age_seconds:.0f}s", t.state, t.user, t.application, t.client, t.query[:80]] for t in txs])
        return 0
    verb = "cancel" if args.cancel else "terminate"
    backend._refuse_if_readonly(f"{verb} {pid}")
    txs = {t.pid: t for t in backend.long_transactions(older_than=0)}
    if pid not in txs:
        raise NotFoundError(f"no open transaction with pid {pid} on {backend.target}")
    t = txs[pid]
    if not args.yes:
        print(f"{verb} pid {pid} ({t.user}@{t.application or '-'}, {t.age_seconds:.0f}s, {t.state}): {t.query[:120]}",
              file=sys.stderr)
        if _ask(f"type {pid} to {verb} it: ").strip() != str(pid):
            raise Aborted(f"did not {verb} {pid}", hint="type the pid, or pass --yes")
    with _Journaled(args, f"postgres.{verb}_backend", dsn=backend.display_dsn, pid=pid) as act:
        done = backend.cancel_backend(pid) if args.cancel else backend.terminate_backend(pid)
        act.result = {"signalled": done}
    emit(args, {"pid": pid, "action": verb, "signalled": done}, ["PID", "ACTION", "SIGNALLED"], [[pid, verb, done]])
    return 0 if done else 1
