"""``cockpit notify``: test channels, send a templated message, see and skip what is due.

- ``cockpit notify channels``                       configured channels (no secrets shown)
- ``cockpit notify test slack|statuspage|webhook``  a harmless test (Statuspage: reads the page)
- ``cockpit notify send CHANNEL [--template T | --text T] [--status S] [--journal J]``
- ``cockpit notify due [--journal J]``              next periodic update / escalations
- ``cockpit notify skip ITEM [--journal J]``        journal a skip (``update``, ``started``, ``escalation:1``)
- ``cockpit notify preview TEMPLATE [--journal J]`` render without sending
- ``cockpit notify page [--action A] [--journal J]``  PagerDuty: what the incident owes (trigger on
  declare, acknowledge once the rollback started, resolve once resolved), one dedup_key per incident
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("notify", parents=[common], help="team communication: Slack, Statuspage, webhooks")
    ns = p.add_subparsers(dest="notify_command", metavar="ACTION", required=True)
    ns.add_parser("channels", parents=[common], help="list configured channels").set_defaults(handler=_channels)
    t = ns.add_parser("test", parents=[common], help="send a test message")
    t.add_argument("channel", choices=("slack", "statuspage", "webhook"))
    t.set_defaults(handler=_test)
    s = ns.add_parser("send", parents=[common], help="send a templated message about the incident in --journal")
    s.add_argument("channel", choices=("slack", "statuspage", "webhook"))
    s.add_argument("--template", choices=("started", "progress", "completed", "failed", "escalation"))
    s.add_argument("--text", help="send this text instead (first line: title)")
    s.add_argument("--status", choices=("investigating", "identified", "monitoring", "resolved"), help="Statuspage status")
    s.set_defaults(handler=_send)
    d = ns.add_parser("due", parents=[common], help="what communication is due next")
    d.set_defaults(handler=_due)
    k = ns.add_parser("skip", parents=[common], help="skip a due item (journaled)")
    k.add_argument("item", help="update, started (the rollback-started message) or escalation:N")
    k.add_argument("--note", default="")
    k.set_defaults(handler=_skip)
    v = ns.add_parser("preview", parents=[common], help="render a template without sending")
    v.add_argument("template")
    v.add_argument("--channel", default="slack", choices=("slack", "statuspage", "webhook"))
    v.set_defaults(handler=_preview)
    g = ns.add_parser("page", parents=[common], help="PagerDuty: send what the incident in --journal owes")
    g.add_argument("--action", choices=("auto", "trigger", "acknowledge", "resolve"), default="auto",
                   help="auto (default): what is owed; else this event (same dedup_key)")
    g.set_defaults(handler=_page)


def _journal_path(args: argparse.Namespace) -> Path:
    from cockpit.report_commands import resolve_journal

    return resolve_journal(None, args)


def _notifier(args: argparse.Namespace, journal: Any = None) -> Any:
    from backends.notify.notifier import Notifier
    from cockpit.comms import load_notify_settings

    from backends.notify.pagerduty import settings_for

    ns = load_notify_settings()
    return Notifier(ns, readonly=bool(getattr(args, "readonly", False)), journal=journal, pagerduty=settings_for(ns))


def _emit_delivery(args: argparse.Namespace, d: Any) -> int:
    from cockpit.output import emit

    emit(args, {"channel": d.channel, "ok": d.ok, "status": d.status, "attempts": d.attempts, "detail": d.detail, **d.data},
         ["CHANNEL", "OK", "ATTEMPTS", "DETAIL"], [[d.channel, "yes" if d.ok else "NO", d.attempts, d.detail]])
    if not d.ok:
        from cockpit.errors import CockpitError

        raise CockpitError(d.detail, title="Notification failed")
    return 0


def _channels(args: argparse.Namespace) -> int:
    from cockpit.comms import load_notify_settings
    from cockpit.output import emit

    from backends.notify.pagerduty import settings_for

    s = load_notify_settings()
    chans = s.configured_channels() + (["pagerduty"] if settings_for(s).routing_key is not None else [])
    rows = [[c, "configured" if c in chans else "not configured"] for c in ("slack", "statuspage", "webhook", "pagerduty")]
    emit(args, {"channels": chans, "update_every_min": s.update_every_min,
                "escalation": [e.model_dump() for e in s.escalation]}, ["CHANNEL", "STATE"], rows)
    return 0


def _test(args: argparse.Namespace) -> int:
    from cockpit.journal import Journal

    journal = Journal.open(args.journal) if args.journal and not args.readonly else None
    try:
        return _emit_delivery(args, _notifier(args, journal).test(args.channel))
    finally:
        if journal is not None:
            journal.close()


def _send(args: argparse.Namespace) -> int:
    from cockpit.journal import Journal

    if args.readonly:
        from cockpit.errors import ReadonlyError

        raise ReadonlyError(f"readonly: not notifying {args.channel} (nothing was sent)")
    journal = Journal.open(_journal_path(args))
    try:
        d = _notifier(args, journal).send(args.channel, args.template, journal.read(), text=args.text, status=args.status)
    finally:
        journal.close()
    return _emit_delivery(args, d)


def _due(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from cockpit.comms import load_notify_settings, plan
    from cockpit.durations import format_duration
    from cockpit.journal import read_journal
    from cockpit.output import emit

    p = plan(read_journal(_journal_path(args)), load_notify_settings().policy())
    now = datetime.now(timezone.utc)
    rows, data = [], []
    for d in p.items:
        left = d.seconds_until(now)
        when = f"in {format_duration(left)}" if left > 0 else f"OVERDUE {format_duration(left)}"
        rows.append([d.key, d.due_at.strftime("%H:%M:%S UTC"), when if d.status == "pending" else d.status,
                     " ".join(d.targets)])
        data.append({"item": d.key, "due_at": d.due_at, "status": d.status, "seconds_until": round(left, 1),
                     "targets": list(d.targets)})
    if not p.open and not rows:
        print("no open incident in this journal: nothing is due", file=sys.stderr)
    emit(args, {"open": p.open, "items": data, "next": p.next.key if p.next else None},
         ["ITEM", "DUE", "WHEN", "TARGETS"], rows)
    return 0


def _skip(args: argparse.Namespace) -> int:
    from cockpit.comms import load_notify_settings, plan, skip_event
    from cockpit.errors import NotFoundError, ReadonlyError
    from cockpit.journal import Journal

    if args.readonly:
        raise ReadonlyError("readonly: observers do not skip communication")
    journal = Journal.open(_journal_path(args))
    try:
        p = plan(journal.read(), load_notify_settings().policy())
        due = next((d for d in p.items if d.key == args.item and d.status == "pending"), None)
        if due is None:
            raise NotFoundError(f"nothing pending called {args.item!r}", hint="see `cockpit notify due`")
        journal.append("comms", **skip_event(due, note=args.note))
    finally:
        journal.close()
    print(f"skipped {args.item}")
    return 0


def _preview(args: argparse.Namespace) -> int:
    from cockpit.journal import read_journal

    msg = _notifier(args).preview(args.channel, args.template, read_journal(_journal_path(args)))
    print(msg.title)
    print(msg.body)
    return 0


def _page(args: argparse.Namespace) -> int:
    from cockpit.errors import ConfigError, ReadonlyError
    from cockpit.journal import Journal
    from cockpit.output import emit

    if args.readonly:
        raise ReadonlyError("readonly: not paging (nothing was sent)")
    journal = Journal.open(_journal_path(args))
    try:
        n = _notifier(args, journal)
        if "pagerduty" not in n.channels:
            raise ConfigError("PagerDuty is not configured (no routing key)",
                              hint="set COCKPIT_NOTIFY__PAGERDUTY__ROUTING_KEY (or $PAGERDUTY_ROUTING_KEY)")
        if args.action == "auto":
            deliveries = n.page(journal.read())
        else:
            deliveries = [n.send("pagerduty", None, journal.read(), purpose=args.action)]
    finally:
        journal.close()
    if not deliveries:
        emit(args, [], ["CHANNEL", "OK", "ATTEMPTS", "DETAIL"], [["pagerduty", "-", 0, "nothing owed"]])
        return 0
    for d in deliveries[:-1]:
        _emit_delivery(args, d)
    return _emit_delivery(args, deliveries[-1])
