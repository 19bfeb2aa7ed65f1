"""Headless Redis commands: ``cockpit redis invalidate|count|flush|dbsize``.

Cheap to import (argparse only); the backend loads inside the handlers, and the
``invalidate`` path never imports pydantic, YAML, Textual or redis-py (hiredis fast path).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from cockpit.prompt import ask as _ask


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    redis_p = sub.add_parser("redis", parents=[common], help="Redis: invalidate keys by pattern, flush (guarded)")
    rsub = redis_p.add_subparsers(dest="redis_command", metavar="ACTION", required=True)

    def url_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--url", default=os.environ.get("REDIS_URL"),
                       help="redis://[user:password@]host:port/db (default: $REDIS_URL)")

    inv = rsub.add_parser("invalidate", parents=[common], help="delete every key matching a glob pattern (SCAN + UNLINK)")
    inv.add_argument("pattern", help="glob pattern, e.g. 'moshimoshi:*' (quote it)")
    url_arg(inv)
    inv.add_argument("--dry-run", action="store_true", help="only count the matching keys")
    inv.add_argument("--yes", action="store_true", help="do not ask; delete without the dry-run count first")
    inv.add_argument("--count", type=int, default=10_000, metavar="N", help="SCAN COUNT per call (default 10000)")
    inv.set_defaults(handler=_invalidate)

    cnt = rsub.add_parser("count", parents=[common], help="count keys matching a pattern (a dry run)")
    cnt.add_argument("pattern")
    url_arg(cnt)
    cnt.set_defaults(handler=_count)

    fl = rsub.add_parser("flush", parents=[common], help="FLUSHDB (or FLUSHALL with --all), only with --confirm naming the target")
    url_arg(fl)
    fl.add_argument("--confirm", metavar="NAME", default=None,
                    help="host:port/db for FLUSHDB, host:port for FLUSHALL (asked for when omitted on a terminal)")
    fl.add_argument("--all", action="store_true", help="FLUSHALL: every database on the server")
    fl.set_defaults(handler=_flush)

    db = rsub.add_parser("dbsize", parents=[common], help="number of keys in the database")
    url_arg(db)
    db.set_defaults(handler=_dbsize)


def _backend(args: argparse.Namespace, **kw: Any) -> Any:
    from backends.redis.client import RedisBackend
    from cockpit.errors import ConfigError

    if not args.url:
        raise ConfigError("no Redis URL", hint="pass --url redis://host:6379/0 or set REDIS_URL")
    return RedisBackend(args.url, readonly=bool(getattr(args, "readonly", False)), **kw)


def _journal(args: argparse.Namespace) -> Any:
    path = getattr(args, "journal", None)
    if not path:
        return None
    from cockpit.journal import Journal

    return Journal.open(path)


def _progress_printer(args: argparse.Namespace):
    """Progress on stderr when it is a terminal (one rewritten line), else nothing."""
    if getattr(args, "output", "text") == "json" or not sys.stderr.isatty():
        return lambda p: None

    def show(p: Any) -> None:
        verb = "matched" if p.dry_run else "deleted"
        n = p.matched if p.dry_run else p.deleted
        sys.stderr.write(f"\r{verb} {n:,} keys · {p.scan_calls} scans · {p.rate:,.0f}/s   ")
        if p.done:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def _invalidate(args: argparse.Namespace) -> int:
    from cockpit.errors import Aborted
    from cockpit.output import emit

    backend = _backend(args, scan_count=args.count)
    with backend:
        if args.dry_run or not args.yes:
            counted = backend.count(args.pattern)
            if args.dry_run:
                data = {"target": backend.target, "pattern": counted.pattern, "matched": counted.matched,
                        "dbsize": counted.dbsize, "sample": list(counted.sample), "dry_run": True}
                emit(args, data, ["TARGET", "PATTERN", "MATCHING", "DBSIZE"],
                     [[backend.target, counted.pattern, counted.matched, counted.dbsize]])
                return 0
            if counted.matched == 0:
                emit(args, {"target": backend.target, "pattern": counted.pattern, "matched": 0, "deleted": 0,
                            "remaining": 0}, ["TARGET", "PATTERN", "DELETED"], [[backend.target, counted.pattern, 0]])
                return 0
            print(f"{counted.matched:,} of {counted.dbsize:,} keys on {backend.target} match {counted.pattern!r}",
                  file=sys.stderr)
            answer = _ask("delete them? type yes: ")
            if answer.strip().lower() != "yes":
                raise Aborted("nothing deleted", hint="answer 'yes', or pass --yes to skip the question")
        journal = _journal(args)
        show = _progress_printer(args)
        intent = None
        if journal is not None:
            intent = journal.intent("redis.invalidate", target=backend.display_url, pattern=args.pattern)
        try:
            final = None
            for final in backend.invalidate(args.pattern):
                show(final)
        except Exception as exc:
            if journal is not None:
                from cockpit.journal import error_data

                journal.outcome(intent, False, **error_data(exc))
            raise
        data = {"target": backend.target, "pattern": final.pattern, "deleted": final.deleted,
                "matched": final.matched, "remaining": final.remaining, "dbsize_before": final.dbsize_before,
                "dbsize_after": final.dbsize_after, "seconds": round(final.elapsed, 3), "scan_calls": final.scan_calls}
        if journal is not None:
            journal.outcome(intent, True, **data)
            journal.close()
    emit(args, data, ["TARGET", "PATTERN", "DELETED", "REMAINING", "DBSIZE BEFORE", "DBSIZE AFTER", "SECONDS"],
         [[data["target"], data["pattern"], data["deleted"], data["remaining"], data["dbsize_before"],
           data["dbsize_after"], f"{final.elapsed:.2f}"]])
    if final.remaining:
        from cockpit.errors import CockpitError

        raise CockpitError(f"{final.remaining} keys matching {final.pattern!r} remain (written while we deleted?)",
                           title="Not verified", hint="run it again; if they keep coming back, stop the writer first")
    return 0


def _count(args: argparse.Namespace) -> int:
    from cockpit.output import emit

    with _backend(args) as backend:
        c = backend.count(args.pattern)
    emit(args, {"target": backend.target, "pattern": c.pattern, "matched": c.matched, "dbsize": c.dbsize,
                "sample": list(c.sample)},
         ["TARGET", "PATTERN", "MATCHING", "DBSIZE", "SAMPLE"],
         [[backend.target, c.pattern, c.matched, c.dbsize, ", ".join(c.sample)]])
    return 0


def _flush(args: argparse.Namespace) -> int:
    from cockpit.errors import Aborted
    from cockpit.output import emit

    backend = _backend(args)
    scope = "all" if args.all else "db"
    expected = backend.server if args.all else backend.target
    with backend:
        confirm = args.confirm
        if confirm is None:
            if backend.readonly:
                backend.flush(confirm="", scope=scope)  # raises ReadonlyError
            size = backend.dbsize()
            print(f"{'FLUSHALL wipes every database on' if args.all else 'FLUSHDB wipes'} {expected} "
                  f"({size:,} keys in db {backend.db})", file=sys.stderr)
            confirm = _ask(f"type {expected} to confirm: ")
            if not confirm:
                raise Aborted("nothing flushed", hint=f"pass --confirm {expected}")
        if confirm.strip() != expected or backend.readonly:
            backend.flush(confirm=confirm, scope=scope)  # raises before anything is journaled or sent
        journal = _journal(args)
        if journal is not None:
            with journal.action("redis.flush", target=backend.display_url, scope=scope) as act:
                result = backend.flush(confirm=confirm, scope=scope)
                act.result = {"dbsize_before": result.dbsize_before, "dbsize_after": result.dbsize_after}
            journal.close()
        else:
            result = backend.flush(confirm=confirm, scope=scope)
    emit(args, result, ["TARGET", "SCOPE", "DBSIZE BEFORE", "DBSIZE AFTER"],
         [[result.target, result.scope, result.dbsize_before, result.dbsize_after]])
    return 0


def _dbsize(args: argparse.Namespace) -> int:
    from cockpit.output import emit

    with _backend(args) as backend:
        n = backend.dbsize()
    emit(args, {"target": backend.target, "dbsize": n}, ["TARGET", "DBSIZE"], [[backend.target, n]])
    return 0
