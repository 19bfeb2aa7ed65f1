"""Headless Memcached commands: ``cockpit memcached stats|flush``.

``flush`` is guarded like Redis FLUSHALL: it wipes every item on the server, so it runs only
with ``--confirm HOST:PORT`` naming that server (asked for on a terminal), is refused before
connecting when readonly, and is journaled as an intent (fsynced) before ``flush_all`` goes.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from cockpit.prompt import ask as _ask


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    mc = sub.add_parser("memcached", parents=[common], help="Memcached: stats, flush_all (guarded)")
    msub = mc.add_subparsers(dest="memcached_command", metavar="ACTION", required=True)

    def server_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--server", default=os.environ.get("MEMCACHED_SERVER"), metavar="HOST:PORT",
                       help="the memcached server (default: $MEMCACHED_SERVER; port 11211 when omitted)")

    st = msub.add_parser("stats", parents=[common], help="items, bytes, flushes, uptime, version")
    server_arg(st)
    st.set_defaults(handler=_stats)

    fl = msub.add_parser("flush", parents=[common], help="flush_all: every item on the server, only with --confirm HOST:PORT")
    server_arg(fl)
    fl.add_argument("--confirm", metavar="HOST:PORT", default=None,
                    help="the server's host:port, typed again (asked for when omitted on a terminal)")
    fl.set_defaults(handler=_flush)


def _backend(args: argparse.Namespace) -> Any:
    from backends.memcached.client import MemcachedBackend

    return MemcachedBackend(args.server, readonly=bool(getattr(args, "readonly", False)))


def _stats(args: argparse.Namespace) -> int:
    from cockpit.output import emit

    with _backend(args) as b:
        s = b.stats()
    emit(args, {"target": b.target, "items": s.items, "bytes": s.bytes, "cmd_flush": s.cmd_flush,
                "uptime_s": s.uptime_s, "version": s.version},
         ["SERVER", "ITEMS", "BYTES", "FLUSHES", "UPTIME", "VERSION"],
         [[b.target, s.items, s.bytes, s.cmd_flush, s.uptime_s, s.version]])
    return 0


def _flush(args: argparse.Namespace) -> int:
    from cockpit.errors import Aborted
    from cockpit.output import emit

    with _backend(args) as backend:
        confirm = args.confirm
        if backend.readonly:
            backend.flush(confirm=confirm or "")  # raises ReadonlyError before connecting
        if confirm is None:
            s = backend.stats()
            print(f"flush_all wipes every item on {backend.target} ({s.items:,} items, {s.bytes:,} bytes)", file=sys.stderr)
            confirm = _ask(f"type {backend.target} to confirm: ")
            if not confirm:
                raise Aborted("nothing flushed", hint=f"pass --confirm {backend.target}")
        if confirm.strip() != backend.target:
            backend.flush(confirm=confirm)  # raises before anything is journaled or sent
        path = getattr(args, "journal", None)
        if path:
            from cockpit.journal import Journal

            with Journal.open(path) as journal:
                before = backend.stats()
                with journal.action("memcached.flush", target=backend.target, cmd_flush_before=before.cmd_flush) as act:
                    result = backend.flush(confirm=confirm)
                    act.result = {"items_before": result.items_before, "cmd_flush_after": result.cmd_flush_after,
                                  "verified": result.verified}
        else:
            result = backend.flush(confirm=confirm)
    emit(args, {"target": result.target, "items_before": result.items_before, "items_after": result.items_after,
                "flushes_before": result.cmd_flush_before, "flushes_after": result.cmd_flush_after,
                "verified": result.verified},
         ["SERVER", "ITEMS BEFORE", "FLUSHES BEFORE", "FLUSHES AFTER", "VERIFIED"],
         [[result.target, result.items_before, result.cmd_flush_before, result.cmd_flush_after,
           "yes: an item stored before is a miss" if result.verified else "NO"]])
    return 0 if result.verified else 1
