"""``cockpit incidents``: the team's incidents, open and past, from the journal's mirror.

    cockpit incidents [--from URL] [--open] [--limit N] [-o json]
    cockpit incidents --push JOURNAL... [--from URL]

The URL is ``--from``, else ``--mirror``, else ``journal.mirror`` (config file or
``COCKPIT_JOURNAL__MIRROR``); it is read readonly for the list. ``--push`` sends what the store
lacks of local journals (a session that ended while the store was down says so), in order,
never twice. Cheap to import: the store's client loads inside the handler.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

EPILOG = """\
exit codes:
  0  listed (also when there is no incident yet), or pushed
  2  no mirror URL, or not a postgresql:// / redis:// URL
  3  no cockpit mirror at that URL (nothing was ever mirrored there)
  4  the store does not answer
  5  --push with --readonly
  8  a JOURNAL to push cannot be read
"""


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "incidents", parents=[common], help="the team's incidents, open and past, from the journal's mirror",
        description="Incidents mirrored to the team's PostgreSQL or Redis, newest first: the incident's id,\n"
                    "target, who opened it, when, its phase and when it was resolved (or 'open').\n"
                    "Follow one live with `cockpit --readonly --follow URL`.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from", dest="from_url", metavar="URL",
                   help="the mirror: postgresql://… or redis://… (default: --mirror, then journal.mirror)")
    p.add_argument("--open", dest="open_only", action="store_true", help="only the incidents still open")
    p.add_argument("--limit", type=int, default=200, metavar="N", help="at most N incidents (default 200)")
    p.add_argument("--push", nargs="+", type=Path, metavar="JOURNAL", default=None,
                   help="send what the mirror lacks of these local journals (in order, never twice), then stop")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                   help="--push: how long to wait for the store (default 30)")
    p.set_defaults(handler=_incidents)


def mirror_url(args: argparse.Namespace) -> str:
    """The mirror's URL: ``--from``, ``--mirror``, else ``journal.mirror`` from the settings."""
    from cockpit.errors import ConfigError
    from cockpit.mirror import check_url

    url = getattr(args, "from_url", None) or getattr(args, "mirror", None)
    if not url:
        from cockpit.mirror import configured

        url = configured().url
    if not url:
        raise ConfigError("no mirror to read", hint="pass --from postgresql://… or redis://…, or set journal.mirror")
    return check_url(url)


def _incidents(args: argparse.Namespace) -> int:
    from backends.mirror import open_store

    url = mirror_url(args)
    if args.push:
        return _push(args, url)
    store = open_store(url, True)
    try:
        found = store.incidents(open_only=args.open_only, limit=max(1, args.limit))
    finally:
        store.close()
    if args.output == "json":
        from cockpit.output import print_json

        print_json({"store": store.display, "incidents": [_as_json(i) for i in found]})
        return 0
    if not found:
        print(f"no {'open ' if args.open_only else ''}incidents at {store.display}")
        return 0
    from cockpit.output import table

    print(table(("INCIDENT", "TARGET", "WHO", "OPENED", "PHASE", "RESOLVED"),
                [(i.id, i.target + (" (drill)" if i.drill else ""), i.who, _when(i.opened), i.phase,
                  _when(i.resolved) if i.resolved else (f"closed {_when(i.closed)}" if i.closed else "open"))
                 for i in found]))
    return 0


def _when(moment: Any) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment is not None else "?"


def _as_json(i: Any) -> dict:
    def iso(moment: Any) -> str | None:
        from datetime import timezone

        return None if moment is None else moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    return {"id": i.id, "target": i.target, "who": i.who, "opened": iso(i.opened), "phase": i.phase,
            "resolved": iso(i.resolved), "closed": iso(i.closed), "open": i.open, "drill": i.drill,
            "records": i.last_seq, "last_record": iso(i.last_ts), "heartbeat": iso(i.heartbeat)}


def _push(args: argparse.Namespace, url: str) -> int:
    """Send what the store lacks of each journal (the mirror's backfill, run to the end)."""
    from backends.mirror import open_store
    from cockpit.errors import ReadonlyError, UnreachableError
    from cockpit.journal import Journal
    from cockpit.mirror import Mirror, incident_id

    if args.readonly:
        raise ReadonlyError("readonly: --push writes to the mirror; nothing was sent")
    failed = []
    for path in args.push:
        if not path.is_file():
            from cockpit.errors import JournalError

            raise JournalError(f"no journal at {path}", hint="pass the journal files to push (under $XDG_STATE_HOME/cockpit/incidents)")
        journal = Journal.open(path, readonly=True)  # JournalError (exit 8) when it cannot be read
        store = open_store(url, False)
        notes: list[str] = []
        mirror = Mirror(store, path, incident_id(path), last_seq=journal.seq, flush_s=args.timeout,
                        warn=notes.append).start()
        caught = mirror.wait_caught_up(args.timeout)
        status = mirror.status()
        mirror.close()
        if caught:
            print(f"{path}: {mirror.sent} record{'s' if mirror.sent != 1 else ''} sent to {store.display} "
                  f"({journal.seq} in the journal)")
        else:
            failed.append(f"{path}: {status.pending} records not sent ({status.error or 'no answer'})")
    if failed:
        raise UnreachableError("; ".join(failed), hint="try again when the store answers; nothing is sent twice")
    return 0
