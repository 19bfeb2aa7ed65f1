"""Subcommands that need only the core: ``world serve`` and ``journal show``.

(The composition root, :mod:`cockpit.cli`, owns the ones that need backends.)
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    world = sub.add_parser("world", parents=[common], help="the embedded simulated world (drills, tests)")
    wsub = world.add_subparsers(dest="world_command", metavar="ACTION", required=True)
    serve = wsub.add_parser("serve", help="serve a simulated cluster on loopback")
    serve.add_argument("--kubeconfig", dest="world_kubeconfig", metavar="PATH", type=Path, required=True,
                       help="where to write the kubeconfig (context cockpit-drill)")
    serve.add_argument("--port", type=int, default=0, help="API port (default: a free one)")
    serve.add_argument("--scenario", default="healthy", help="scenario name or YAML file (default: healthy)")
    serve.add_argument("--speed", type=float, default=1.0, help="simulated time speed-up (default: 1.0)")
    serve.add_argument("--forbid", action="append", default=[], metavar="RESOURCE",
                       help="answer every request for RESOURCE (e.g. leases) with 403 Forbidden, as RBAC would")
    serve.set_defaults(handler=_world_serve)

    journal = sub.add_parser("journal", parents=[common], help="read incident journals")
    jsub = journal.add_subparsers(dest="journal_command", metavar="ACTION", required=True)
    show = jsub.add_parser("show", parents=[common], help="print a journal's timeline (default: the newest)")
    show.add_argument("path", nargs="?", type=Path, help="journal file (default: the newest under the state dir)")
    show.set_defaults(handler=_journal_show)


_SKIP = {"seq", "ts", "actor", "type"}


def _summary(record: dict[str, Any]) -> str:
    from cockpit.text import sanitize

    parts = []
    for key, value in record.items():
        if key in _SKIP or value in (None, "", [], {}):
            continue
        if isinstance(value, (dict, list)):
            import json

            value = json.dumps(value, separators=(",", ":"), default=str)
            if len(value) > 120:
                value = value[:117] + "..."
        parts.append(f"{key}={value}")
    return sanitize(" ".join(parts), max_len=400)


def _journal_show(args: argparse.Namespace) -> int:
    from cockpit.errors import NotFoundError
    from cockpit.journal import Journal, state_dir
    from cockpit.output import print_json

    path = args.path or args.journal
    if path is None:
        found = sorted((state_dir() / "incidents").glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise NotFoundError(f"no journals under {state_dir() / 'incidents'}", hint="pass a PATH")
        path = found[-1]
    if not Path(path).exists():
        raise NotFoundError(f"journal {path} does not exist")
    journal = Journal.open(path, readonly=True)
    records = journal.read()
    if args.output == "json":
        print_json({"path": str(path), "records": records,
                    "torn_tail": None if journal.torn is None else {"offset": journal.torn.offset}})
        return 0
    print(f"journal {path}  ({len(records)} records)")
    for r in records:
        print(f"{r.get('ts', '?'):<25} {r.get('actor', ''):<20} {r.get('type', ''):<18} {_summary(r)}")
    if journal.torn is not None:
        print(f"(a torn last line at byte {journal.torn.offset} was not accepted: a crash mid-write)")
    return 0


def _world_serve(args: argparse.Namespace) -> int:
    from cockpit.world.serve import serve

    return serve(args.world_kubeconfig, port=args.port, scenario=args.scenario, speed=args.speed,
                 forbid=args.forbid)
