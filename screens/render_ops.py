"""Pure render functions for the comms and data panels: facts → ``Content`` (never markup).

Same rules as :mod:`screens.render`: everything from outside (journal details, key names,
query text, migration names, file names) goes through :func:`screens.render.text`
(sanitize + ``Content``), colours are theme variables. Tested without a terminal.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from textual.content import Content

from cockpit.durations import format_duration
from screens.render import clock, g, text

CHANNEL_HELP = ("no notification channel is configured. Set COCKPIT_NOTIFY__SLACK_WEBHOOK_URL (Slack), "
                "COCKPIT_NOTIFY__WEBHOOK_URL (a JSON webhook) or COCKPIT_NOTIFY__STATUSPAGE_API_KEY + "
                "COCKPIT_NOTIFY__STATUSPAGE_PAGE_ID, or the notify section of the config file "
                "(cockpit config schema). Skips are journaled all the same.")
PG_HELP = "PostgreSQL: not configured (set COCKPIT_DATA__POSTGRES_DSN or data.postgres_dsn in the config file)"
REDIS_HELP = "Redis: not configured (set COCKPIT_DATA__REDIS_URL or data.redis_url in the config file)"


dur = format_duration
"""``45s``, ``4m 05s``, ``1h 02m`` (:func:`cockpit.durations.format_duration`; the sign is dropped)."""


def countdown(seconds: float) -> tuple[str, str]:
    """``("in 2m 05s", style)`` or ``("OVERDUE 1m 02s", style)``."""
    if seconds > 0:
        return f"in {dur(seconds)}", ("$warning bold" if seconds < 60 else "")
    return f"OVERDUE {dur(seconds)}", "$error bold reverse"


def item_label(due: Any) -> str:
    label = getattr(due, "label", None)
    if isinstance(label, str):
        return label
    return "periodic update" if due.kind == "update" else f"escalation {due.level}"


# --------------------------------------------------------------------------- comms


OUTBOX = "outbox"
OUTBOX_NOTE = "  drill: messages go to the local outbox below and the journal; nothing is sent"


def channels_line(channels: list[str], loaded: bool = True) -> Content:
    if not loaded:
        return Content("channels: loading the notify settings…").stylize("$text-muted")
    if not channels:
        return Content.assemble(("channels: ", "bold"), ("none  ", "$warning bold"), (CHANNEL_HELP, "$text-muted"))
    note = (OUTBOX_NOTE, "$text-muted") if OUTBOX in channels else ("", "")
    return Content.assemble(("channels: ", "bold"), (", ".join(channels), "$success"), note)


def next_lines(plan: Any, now: datetime, busy: str = "") -> Content:
    """The next periodic update and the next escalation, with due time and countdown."""
    if plan is None:
        return Content("")
    if not plan.open:
        msg = "the incident is resolved: nothing more is due" if plan.items or plan.last_sent_at else (
            "no incident is open: updates and escalations start when you act on a target (s or k here, or a rollback)")
        return Content(msg).stylize("$text-muted")
    lines = []
    esc = next((d for d in plan.escalations if d.status == "pending"), None)
    started = getattr(plan, "started", None)
    rows = [("next update     ", plan.update), ("next escalation ", esc)]
    if started is not None and started.status == "pending":  # the rollback started: announce it first
        rows.insert(0, ("announce        ", started))
    for label, due in rows:
        if due is None:
            lines.append(Content.assemble((label, "bold"), ("none pending", "$text-muted")))
            continue
        left, style = countdown(due.seconds_until(now))
        who = f"  to {' '.join(due.targets)}" if due.targets else ""
        what = "the rollback" if due.kind == "started" else item_label(due)  # "announce the rollback"
        lines.append(Content.assemble((label, "bold"), (f"{what:<16}", ""), (f"due {clock(due.due_at)}  ", ""),
                                      (left, style), text(who, 200, "$text-muted")))
    if busy:
        lines.append(text(busy, 200, "$accent"))
    return Content("\n").join(lines)


ITEM_COLUMNS = [("", "mark", 1), ("ITEM", "item", 16), ("DUE", "due", 8), ("WHEN", "left", 16), ("STATUS", "status", 8),
                ("TO", "to", 40)]


def item_cells(due: Any, now: datetime, ascii: bool = False) -> tuple[Content, ...]:
    gl = g(ascii)
    if due.status == "pending":
        left, style = countdown(due.seconds_until(now))
        mark = Content(gl["pending"]).stylize("$text-muted")
    else:
        left, style = (f"{due.status} {clock(due.done_at)}" if due.done_at else due.status), "$text-muted"
        mark = Content(gl["ok"]).stylize("$success")
    return (mark, Content(item_label(due)), Content(clock(due.due_at)), Content(left).stylize(style) if style else Content(left),
            Content(due.status).stylize("$success" if due.status == "sent" else ("$warning" if due.status == "skipped" else "")),
            text(" ".join(due.targets), 200, "$text-muted"))


SENT_COLUMNS = [("WHEN", "when", 8), ("CHANNEL", "channel", 10), ("OK", "ok", 2), ("WHAT", "what", 22), ("WHO", "who", 18),
                ("DETAIL", "detail", 60)]


def _when(rec: dict) -> str:
    ts = rec.get("ts")
    try:
        at = datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
    except ValueError:
        return "--:--:--"
    return clock(at if at.tzinfo else at.replace(tzinfo=timezone.utc))


def sent_rows(records: list[dict], ascii: bool = False) -> list[tuple[str, tuple[Content, ...]]]:
    """What was sent (``notification`` records: channel, ok, when) and what was skipped or
    edited (``comms`` records), newest first; keyed by journal seq."""
    gl = g(ascii)
    out = []
    for r in records:
        t = r.get("type")
        if t == "notification":
            ok = bool(r.get("ok"))
            what = str(r.get("purpose") or "") + (f" {r['level']}" if r.get("level") else "") + (" (edited)" if r.get("edited") else "")
            detail = (r.get("title") if r.get("channel") == OUTBOX else None) or r.get("detail") or r.get("title") or ""
            cells = (Content(_when(r)), text(r.get("channel", "?"), 20), Content(gl["ok"] if ok else gl["fail"]).stylize(
                "$success bold" if ok else "$error bold"), text(what, 40), text(r.get("actor", ""), 60, "$text-muted"),
                text(detail, 300, "" if ok else "$error"))
        elif t == "comms" and r.get("action") in ("skip", "edit"):
            cells = (Content(_when(r)), Content("-").stylize("$text-muted"), Content(""),
                     text(f"{r.get('action')} {r.get('item', '')}", 40, "$warning"), text(r.get("actor", ""), 60, "$text-muted"),
                     text(r.get("note") or "", 300, "$text-muted"))
        else:
            continue
        out.append((str(r.get("seq", len(out))), cells))
    out.reverse()
    return out


def _as_slack_shows(value: str) -> str:
    """The outbox keeps the message as Slack would receive it (values escaped for mrkdwn:
    ``&lt;`` ``&gt;`` ``&amp;``); it shows it as Slack would display it."""
    return value.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def outbox_lines(records: list[dict], limit: int = 3, body_lines: int = 6) -> Content:
    """The drill outbox's latest messages, newest first: time, what, who, then the title and
    the body as they would have been posted (journaled ``notification`` records on the
    ``outbox`` channel)."""
    msgs = [r for r in records if r.get("type") == "notification" and r.get("channel") == OUTBOX]
    if not msgs:
        return Content("the outbox is empty: s sends the item under the cursor here, e edits it first").stylize(
            "$text-muted")
    out: list[Content] = []
    for r in reversed(msgs[-limit:]):
        what = str(r.get("purpose") or "message") + (f" {r['level']}" if r.get("level") else "") + \
            (" (edited)" if r.get("edited") else "")
        out.append(Content.assemble((_when(r) + "  ", "bold"), text(what, 60, "$accent"), ("  ", ""),
                                    text(r.get("actor", ""), 60, "$text-muted")))
        out.append(Content.assemble(("  ", ""), text(_as_slack_shows(r.get("title") or ""), 300, "bold")))
        lines = _as_slack_shows(str(r.get("text") or "")).split("\n")
        for line in lines[:body_lines]:
            out.append(Content.assemble(("  ", ""), text(line, 300)))
        if len(lines) > body_lines:
            more = len(lines) - body_lines
            out.append(Content(f"  … {more} more line{'s' if more != 1 else ''} in the journal").stylize("$text-muted"))
    if len(msgs) > limit:
        out.append(Content(f"{len(msgs) - limit} older messages in the journal").stylize("$text-muted"))
    return Content("\n").join(out)


def report_line(path: str | None, resolved: bool, readonly: bool) -> Content:
    if path:
        return Content.assemble(("incident report: ", "bold"), text(path, 500, "$success"))
    if resolved and not readonly:
        return Content.assemble(("incident resolved — ", "$success bold"), ("w: write the incident report", ""))
    return Content("the incident report is offered when the incident is resolved (checklist: R)").stylize("$text-muted")


# --------------------------------------------------------------------------- data


def targets_line(pg: str | None, redis: str | None) -> Content:
    parts: list[Any] = []
    parts.append(Content.assemble(("PostgreSQL: ", "bold"), text(pg, 300)) if pg else Content(PG_HELP).stylize("$text-muted"))
    parts.append(Content.assemble(("Redis: ", "bold"), text(redis, 300)) if redis else Content(REDIS_HELP).stylize("$text-muted"))
    return Content("\n").join(parts)


MIGRATION_COLUMNS = [("FRAMEWORK", "fw", 9), ("MIGRATION", "name", 36), ("APPLIED", "at", 19), ("DETAIL", "detail", 30)]


def migration_rows(histories: list[Any]) -> list[tuple[str, tuple[Content, ...]]]:
    out = []
    for h in histories:
        for m in h.migrations:
            at = m.applied_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if m.applied_at else "?"
            key = f"{h.table}|{m.name}|{at}"[:600]
            out.append((key, (text(h.framework, 20), text(m.name, 300), Content(at), text(m.detail, 200, "$text-muted"))))
    return out


BACKUP_COLUMNS = [("BACKUP", "file", 40), ("SIZE", "size", 9), ("CREATED", "at", 19), ("SHA256", "sha", 14), ("DB", "db", 16)]


def size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def backup_rows(backups: list[Any]) -> list[tuple[str, tuple[Content, ...]]]:
    out = []
    for b in backups:
        at = b.created.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if b.created else "?"
        out.append((str(b.path), (text(b.path.name, 200), Content(size(b.size)), Content(at),
                                  text((b.sha256 or "")[:12] or "none", 20, "" if b.sha256 else "$warning"), text(b.database, 100))))
    return out


LONG_TX_COLUMNS = [("PID", "pid", 7), ("AGE", "age", 8), ("STATE", "state", 19), ("USER", "user", 12), ("APP", "app", 16),
                   ("QUERY", "query", 80)]


def long_tx_rows(txs: list[Any]) -> list[tuple[str, tuple[Content, ...]]]:
    return [(str(t.pid), (Content(str(t.pid)), Content(dur(t.age_seconds)).stylize("$warning" if t.age_seconds > 300 else ""),
                          text(t.state, 40), text(t.user, 60), text(t.application, 60), text(t.query, 1000)))
            for t in txs]


def redis_lines(count: Any, progress: Any, running: bool, readonly: bool) -> Content:
    """The dry-run result (with sample keys) and the invalidation's progress line."""
    lines: list[Content] = []
    if count is None:
        hint = "/: type a pattern (e.g. moshimoshi:*), enter: dry-run count" + ("" if readonly else ", then i: invalidate")
        lines.append(Content(hint).stylize("$text-muted"))
    else:
        lines.append(Content.assemble(("dry run ", "bold"), text(count.pattern, 300, "bold"), (f": {count.matched} keys match of "
                                       f"{count.dbsize} ({count.scan_calls} SCAN calls, {count.elapsed:.2f}s)", "")))
        if count.sample:
            lines.append(Content.assemble(("  e.g. ", "$text-muted"), text(", ".join(count.sample), 400)))
    if progress is not None:
        p = progress
        if p.done:
            rem = "" if p.remaining is None else f"; {p.remaining} still matching"
            state = ("done", "$success bold" if not p.remaining else "$error bold")
            tail = f"deleted {p.deleted} of {p.matched} matched in {p.elapsed:.2f}s{rem}; dbsize {p.dbsize_before} -> {p.dbsize_after}"
        else:
            state = ("running" if running else "stopped", "$warning bold")
            tail = f"scanned {p.scan_calls} calls, matched {p.matched}, deleted {p.deleted}, {p.rate:,.0f} keys/s"
        lines.append(Content.assemble(("invalidate ", "bold"), text(p.pattern, 300, "bold"), (" ", ""), state, ("  " + tail, "")))
    return Content("\n").join(lines)


def invalidate_confirm_text(server: str, db: Any, pattern: str, matched: int | None) -> Content:
    n = "?" if matched is None else str(matched)
    return Content.assemble(
        ("Delete every key matching ", ""), text(pattern, 300, "$error bold"),
        ("\n\non Redis ", ""), text(server, 200, "bold"), ("  database ", ""), (str(db), "bold"),
        (f"\n\nthe dry run found {n} matching keys; keys outside the pattern are not touched. ", ""),
        ("UNLINK cannot be undone.", "$error"),
    )
