"""``cockpit drill scores [JOURNAL...]``: past drills from their journals, so a team sees its progress.

Core only (no backend). Every drill journal under ``$XDG_STATE_HOME/cockpit/drills/incidents``
(where ``cockpit --drill`` writes them) and every drill incident (``incident_opened`` with
``drill: true``) under ``$XDG_STATE_HOME/cockpit/incidents`` — or the JOURNALs given — one line
each, oldest first: date, scenario, target, status, the total and per-phase times, keys, whether
the revision was the goal's, checks, comms on time and the score. A drill whose card was
journaled (``drill_scored``) shows that card; an older or unfinished one is scored from its
journal now (keys unknown).

A journal that cannot be read is one line on stderr (``cockpit: warning: PATH: reason``) and
the others are still listed; the exit code then says so (8).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EPILOG = """\
exit codes:
  0  listed (also when there is no drill yet)
  1  a JOURNAL given is not a drill's journal (the others are listed)
  8  a journal could not be read (one line each on stderr; the others are listed)
"""


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("drill", parents=[common], help="drills on the embedded world: past scores (cockpit --drill runs one)")
    dsub = p.add_subparsers(dest="drill_command", metavar="ACTION", required=True)
    s = dsub.add_parser(
        "scores", parents=[common], help="list past drills with their times and scores (a team's progress)",
        description="Past drills from their journals, oldest first: date, scenario, total and per-phase\n"
                    "times against the runbooks' budgets (declare 2m, identify 3m, execute 5m, verify 5m),\n"
                    "keys to the confirmed rollback, whether the revision was the scenario's goal, checks\n"
                    "verified, comms on time, and the score. -o json for scripts.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("journals", nargs="*", type=Path, metavar="JOURNAL",
                   help="drill journals (default: every drill under $XDG_STATE_HOME/cockpit/drills/incidents, and "
                        "drill incidents under $XDG_STATE_HOME/cockpit/incidents)")
    s.set_defaults(handler=_scores)


def drill_journals() -> list[Path]:
    """Where drills are journaled (each file once)."""
    from cockpit.journal import state_dir

    root = state_dir()
    found: list[Path] = []
    for folder in (root / "drills" / "incidents", root / "incidents"):
        if folder.is_dir():
            found += sorted(folder.glob("*.jsonl"))
    return list(dict.fromkeys(found))


def _dur(seconds: float | None) -> str:
    from cockpit.durations import format_duration

    return "—" if seconds is None else format_duration(seconds)


def _revision(ok: bool | None) -> str:
    return "—" if ok is None else ("goal" if ok else "WRONG")


def _date(summary: Any) -> str:
    at = summary.opened_at
    return at.strftime("%Y-%m-%d %H:%MZ") if at is not None else "?"


def _scores(args: argparse.Namespace) -> int:
    from cockpit.drill_score import builtin_goals, is_drill, summarize
    from cockpit.errors import JournalError
    from cockpit.journal import read_journal
    from cockpit.output import print_json, table
    from cockpit.text import sanitize

    explicit = bool(args.journals)
    paths = list(args.journals) if explicit else drill_journals()
    goals = builtin_goals()
    drills, unreadable, not_drills = [], [], []
    for path in paths:
        try:
            records = read_journal(path)
        except (JournalError, OSError) as exc:
            reason = exc.message if isinstance(exc, JournalError) else (exc.strerror or str(exc))
            unreadable.append((str(path), str(reason)))
            continue
        if not is_drill(records):
            if explicit:
                not_drills.append(str(path))
            continue
        try:
            drills.append(summarize(str(path), records, goals))
        except (ArithmeticError, AttributeError, KeyError, TypeError, ValueError) as exc:
            unreadable.append((str(path), f"cannot score it: {type(exc).__name__}: {exc}"))
    drills.sort(key=lambda d: (d.opened_at is None, d.opened_at, d.path))
    for path, reason in unreadable:
        said = reason if path in reason else f"{path}: {reason}"  # JournalError names the path already
        print(f"cockpit: warning: {sanitize(said, max_len=800)}", file=sys.stderr)
    for path in not_drills:
        print(f"cockpit: warning: {sanitize(path, max_len=500)}: not a drill's journal (its incident is not marked "
              "drill: true)", file=sys.stderr)
    if getattr(args, "output", "text") == "json":
        print_json({"drills": [d.as_json() for d in drills],
                    "unreadable": [{"journal": p, "error": sanitize(r, max_len=300)} for p, r in unreadable],
                    "not_drills": not_drills})
    elif not drills:
        from cockpit.journal import state_dir

        where = "the JOURNALs given" if explicit else sanitize(str(state_dir() / "drills"), max_len=500)
        print(f"no drills found in {where} (cockpit --drill runs one)")
    else:
        headers = ["DATE", "SCENARIO", "TARGET", "STATUS", "TOTAL", "DECLARE", "IDENTIFY", "EXECUTE", "VERIFY", "KEYS",
                   "REVISION", "CHECKS", "COMMS", "SCORE"]
        rows = [[_date(d), d.scenario, d.target, d.status, _dur(d.total_s),
                 *(_dur(d.phases.get(n)) for n in ("declare", "identify", "execute", "verify")),
                 "—" if d.keystrokes is None else d.keystrokes, _revision(d.revision_ok), d.checks, d.comms,
                 f"{d.points}/{d.max_points}"] for d in drills]
        print(table(headers, rows))
        best = max(drills, key=lambda d: d.points / d.max_points if d.max_points else 0)
        last = drills[-1]
        print(f"\n{len(drills)} drill{'s' if len(drills) != 1 else ''}; latest {last.points}/{last.max_points} "
              f"({_date(last)}), best {best.points}/{best.max_points} ({_date(best)})")
    if unreadable:
        return 8
    return 1 if not_drills else 0
