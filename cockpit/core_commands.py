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
    serve.add_argument("--keepalive", metavar="FILE", type=Path,
                       help="stop when FILE has not been touched for --grace seconds (a drill whose cockpit crashed)")
    serve.add_argument("--grace", type=float, default=300.0, metavar="SECONDS", help="see --keepalive (default: 300)")
    serve.set_defaults(handler=_world_serve)

    journal = sub.add_parser("journal", parents=[common], help="read incident journals")
    jsub = journal.add_subparsers(dest="journal_command", metavar="ACTION", required=True)
    show = jsub.add_parser("show", parents=[common], help="print a journal's timeline (default: the newest)")
    show.add_argument("path", nargs="?", type=Path, help="journal file (default: the newest under the state dir)")
    show.set_defaults(handler=_journal_show)


_SKIP = {"seq", "ts", "actor", "type"}


def _summary(record: dict[str, Any]) -> str:
    import json

    from cockpit.text import sanitize

    parts = []
    for key, value in record.items():
        if key in _SKIP or value in (None, "", [], {}):
            continue
        if isinstance(value, (dict, list)):
            value = json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)
            if len(value) > 120:
                value = value[:117] + "..."
        parts.append(f"{key}={value}")
    return sanitize(" ".join(parts), max_len=400)


def _field(record: dict[str, Any], key: str, width: int) -> str:
    """One envelope field, whatever the record holds there (null, a number, escapes), shown
    through the sanitizer and padded."""
    from cockpit.text import sanitize

    value = record.get(key)
    shown = "?" if value is None else sanitize(value if isinstance(value, str) else repr(value), max_len=120)
    return f"{shown:<{width}}"


def _line_list(numbers: list[int], most: int = 20) -> str:
    shown = ", ".join(str(n) for n in numbers[:most])
    return shown + (f" and {len(numbers) - most} more" if len(numbers) > most else "")


def _journal_show(args: argparse.Namespace) -> int:
    """Every record of a journal, in order, each field through the sanitizer; lines that are
    not records are shown where they are and counted ("2 unreadable records at lines 14, 15")."""
    import json

    from cockpit.errors import NotFoundError
    from cockpit.journal import read_bytes, scan, state_dir
    from cockpit.text import sanitize

    path = args.path or args.journal
    if path is None:
        found = sorted((state_dir() / "incidents").glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise NotFoundError(f"no journals under {state_dir() / 'incidents'}", hint="pass a PATH")
        path = found[-1]
    if not Path(path).exists():
        raise NotFoundError(f"journal {path} does not exist")
    found = scan(read_bytes(path))
    bad = [u.line for u in found.unreadable]
    if args.output == "json":
        # ASCII-only JSON: escapes, C1 controls and lone surrogates stay \u escapes, never raw bytes
        print(json.dumps({"path": str(path), "records": found.records,
                          "unreadable": [{"line": u.line, "text": sanitize(u.data.decode("utf-8", "replace"), max_len=200)}
                                         for u in found.unreadable],
                          "torn_tail": None if found.torn is None else {"offset": found.torn.offset}},
                         indent=2, ensure_ascii=True, default=str))
        return 0
    print(f"journal {sanitize(str(path), max_len=500)}  ({len(found.records)} records"
          + (f", {len(bad)} unreadable" if bad else "") + ")")
    rows = [(n, r) for n, r in zip(found.lines, found.records)] + [(u.line, u) for u in found.unreadable]
    for _, item in sorted(rows, key=lambda x: x[0]):
        if isinstance(item, dict):
            print(f"{_field(item, 'ts', 25)} {_field(item, 'actor', 20)} {_field(item, 'type', 18)} {_summary(item)}")
        else:
            text = item.data.decode("utf-8", "replace")
            print(f"line {item.line}: unreadable record: {sanitize(text, max_len=120) or '(blank line)'}")
    if bad:
        print(f"{len(bad)} unreadable record{'s' if len(bad) != 1 else ''} at line{'s' if len(bad) != 1 else ''} {_line_list(bad)}")
    if found.torn is not None:
        print(f"(a torn last line at byte {found.torn.offset} was not accepted: a crash mid-write)")
    return 0


def _world_serve(args: argparse.Namespace) -> int:
    from cockpit.world.serve import serve

    return serve(args.world_kubeconfig, port=args.port, scenario=args.scenario, speed=args.speed,
                 forbid=args.forbid, keepalive=args.keepalive, grace_s=args.grace)
