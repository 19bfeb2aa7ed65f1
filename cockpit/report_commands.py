"""``cockpit report [JOURNAL] [--format md|json] [--out FILE] [--screenshot SVG]``.

Core only (the report needs no backend). JOURNAL defaults to ``--journal`` or the newest
journal under ``$XDG_STATE_HOME/cockpit/incidents``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cockpit.text import sanitize


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("report", parents=[common], help="write the incident report from a journal (Markdown or JSON)")
    p.add_argument("path", nargs="?", type=Path, metavar="JOURNAL", help="journal file (default: --journal or the newest)")
    p.add_argument("--format", choices=("md", "json"), default=None, help="md (default) or json (also: -o json)")
    p.add_argument("--out", type=Path, metavar="FILE", help="write to FILE instead of stdout")
    p.add_argument("--screenshot", metavar="SVG", help="reference an SVG screenshot of the final dashboard")
    p.set_defaults(handler=handle)


def resolve_journal(path: Path | None, args: argparse.Namespace) -> Path:
    from cockpit.errors import NotFoundError
    from cockpit.journal import state_dir

    path = path or getattr(args, "journal", None)
    if path is None:
        found = sorted((state_dir() / "incidents").glob("*.jsonl"))
        if not found:
            raise NotFoundError(f"no incident journals under {state_dir() / 'incidents'}", hint="pass the JOURNAL path")
        path = found[-1]
    if not Path(path).exists():
        raise NotFoundError(f"journal {path} does not exist")  # not a regular file: read_journal says so (exit 8)
    return Path(path)


def _write(out: Path, text: str) -> None:
    """Write the report to ``out``; a path that cannot take it is an error naming the path
    and the reason (exit 1), never an internal error."""
    from cockpit.errors import CockpitError

    try:
        if out.exists() and not out.is_file():
            raise IsADirectoryError(21, "it is a directory" if out.is_dir() else "not a regular file")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CockpitError(f"cannot write the report to {out}: {exc.strerror or exc}",
                           title="Report not written", hint="choose another --out") from None


def handle(args: argparse.Namespace) -> int:
    from cockpit.journal import read_journal
    from cockpit.report import report_text

    path = resolve_journal(args.path, args)
    fmt = args.format or ("json" if getattr(args, "output", "text") == "json" else "md")
    text = report_text(read_journal(path), fmt, screenshot=args.screenshot)
    if args.out:
        _write(args.out, text)
        print(f"report: {sanitize(str(args.out), max_len=500)}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
