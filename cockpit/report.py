"""The incident report, folded from the journal. Pure: no clock, no I/O but the caller's.

``build_report(records) -> Report``; ``render_markdown(report)`` / ``render_json(report)``;
``report_text(records, fmt)`` does both steps. The CLI (``cockpit report``) and the cockpit
(when the incident is resolved) call the same functions in-process.

What it contains, every part from journal records (see :mod:`cockpit.state` for the types):

- milestones in UTC — *declared* (``incident_opened``), *identified* (the first
  ``revision_chosen`` or the start of the ``execute`` phase, whichever is earlier), *rolled
  back* (the first successful outcome of a rollback-like action), *verified* (the start of
  the ``monitor`` phase, else the end of ``verify``), *resolved* (``incident_resolved``);
- MTTR (declared → resolved) and the time in each phase against its budget
  (:data:`cockpit.state.PHASE_BUDGETS`: declare 2 min, identify 3, execute 5, verify 5,
  monitor 10);
- peak error rate and p95, from ``verdict`` and ``metrics`` records (keys ``error_rate``
  (fraction) and ``p95_ms``, top level or under ``sample`` / ``metrics``, or ``reasons``
  given as dicts with ``metric`` and ``value``);
- users affected as entered (``operator_input`` ``users_affected``) and every other input;
- every action (``intent``) with its outcome, including resumed and superseded ones and
  intents a crash left without outcome;
- why the rollback was started (``why``; ``reason`` is its one-line summary): the trigger,
  the verdict and its reasons, the operator's answers, the declared reason
  (:mod:`cockpit.report_facts`);
- the rollback itself (``rolled_back``: from/to revision, images as a list, when, why);
- the checklist: ``checks`` has every item of the runbook's ``verify`` list (else the default
  checklist) with its tick — who, when, evidence, note — or ``ok: null``, not verified;
  ``checklist`` the ticks alone in journal order; ``resolved_with_open_checks`` and
  ``open_checks``;
- the notifications sent (``notification``) and the operator's skips/edits (``comms``);
- evidence collected (``evidence``: directory, manifest and its sha256);
- the before/after comparison: a ``comparison`` record (``before``/``after`` dicts) if one
  was journaled, else derived from the metrics samples around the rollback;
- a timeline in UTC; sections for root cause and lessons left for people;
- an optional SVG screenshot path (a ``screenshot`` record's ``path``, or the caller's).

Determinism: for a resolved incident everything is measured up to ``incident_resolved``;
for an open one up to the last record (``as_of``), never the wall clock, unless the caller
passes ``now``.

Outside text. Everything from the journal is sanitized (controls shown inert) and, in the
Markdown, escaped for Markdown — not for HTML: every metacharacter (``\\ ` * _ [ ] ( ) ! # <
> | ~ & $``) gets a backslash, and so do the characters that make a renderer's autolinker
see a link (``:`` before ``//``, ``.`` before a letter, ``@``), and a leading list or
heading marker. So an image named ``x:[Grafana](https://evil.example/steal)`` reads as
exactly that and is neither a link nor an image; the only links and images in a rendered
report are the template's own (the final dashboard). Paths shown as code go in code spans
fenced longer than any backtick run in them.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from cockpit import events as ev
from cockpit.durations import format_duration
from cockpit.mdtext import md_code as _code
from cockpit.mdtext import md_image as _image_line
from cockpit.mdtext import md_text as _md
from cockpit.report_facts import checks as _checks
from cockpit.report_facts import iso, text, timeline_text
from cockpit.report_facts import rolled_back as _rolled_back
from cockpit.report_facts import why as _why
from cockpit.state import PHASE_BUDGETS, ActionState, IncidentState, record_time, replay

BUDGET_ORDER = ("declare", "identify", "execute", "verify", "monitor")


# --------------------------------------------------------------------------- helpers


def hms(at: datetime | None) -> str:
    return at.astimezone(timezone.utc).strftime("%H:%M:%S") if at else "—"


duration = format_duration
"""``45s``, ``4m 05s``, ``1h 02m`` (:func:`cockpit.durations.format_duration`)."""


def pct(value: Any) -> str:
    v = _num(value)
    if v is None:
        return "—" if value is None else _md(value)
    return f"{v * 100:.1f} %"


def ms(value: Any) -> str:
    v = _num(value)
    if v is None:
        return "—" if value is None else _md(value)
    return f"{v:.0f} ms"


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def metric_points(records: list[dict]) -> list[tuple[datetime, float | None, float | None]]:
    """``(at, error_rate, p95_ms)`` of the journal's metric samples and verdicts (the fold's)."""
    return [p for p in replay(records).samples if p[0] is not None]


_text = text


# --------------------------------------------------------------------------- the model


@dataclass
class Report:
    target: str
    reason: str
    declared_by: str
    status: str  # resolved / open
    as_of: str | None
    milestones: dict[str, str | None]
    mttr_s: float | None
    phases: list[dict]
    peak: dict[str, Any]
    users_affected: Any
    inputs: dict[str, Any]
    revision: dict[str, Any]
    actions: list[dict]
    checklist: list[dict]
    """The journaled ticks, in the order they were made (``checks`` has every item)."""
    notifications: list[dict]
    comms: list[dict]
    evidence: list[dict]
    comparison: dict[str, Any] | None
    timeline: list[dict]
    checks: list[dict] = field(default_factory=list)
    why: dict[str, Any] = field(default_factory=dict)
    rolled_back: dict[str, Any] | None = None
    resolved_with_open_checks: bool = False
    open_checks: list[str] = field(default_factory=list)
    screenshot: str | None = None
    summary: str = ""
    root_cause: str = ""
    lessons: str = ""
    budget_total_s: float = field(default=sum(PHASE_BUDGETS.values()))

    def as_dict(self) -> dict:
        return asdict(self)


def build_report(records: list[dict], *, screenshot: str | None = None, now: datetime | None = None) -> Report:
    """The report of the incident in ``records``: :func:`report_from_state` of their fold."""
    return report_from_state(replay(records), screenshot=screenshot, now=now)


def _action(a: ActionState) -> dict:
    out = a.outcome or {}
    status = "pending" if a.outcome is None else (
        "ok" if out.get("ok") else ("superseded" if out.get("superseded") else "failed"))
    error = ""
    if a.outcome is not None and not out.get("ok"):
        error = _text(f"{out.get('error_title') or ''}: {out.get('error_message') or ''}".strip(": "), 300)
    return {
        "id": a.id, "action": _text(a.action, 200), "step": a.intent.get("step"),
        "name": _text(a.intent.get("name") or "", 200), "started": iso(a.started), "ended": iso(a.ended),
        "status": status, "resumed": bool(out.get("resumed")), "superseded": bool(out.get("superseded")),
        "result": out.get("result"), "error": error,
    }


def report_from_state(state: IncidentState, *, screenshot: str | None = None, now: datetime | None = None) -> Report:
    """Everything from the fold: the report never reads raw records or the clock (``now``
    only matters for an open incident; default: the time of its last record)."""
    as_of = state.resolved_at or now or state.last_at
    rb = state.rolled_back
    rolled_back = rb.at if rb else None

    timeline: list[dict] = []
    last_verdict = None
    pending_so_far: list[str] = []
    by_id = {a.id: a for a in state.actions}
    for entry in state.timeline:
        e = entry.event
        line = timeline_text(e, last_verdict)
        if isinstance(e, ev.Intent):
            pending_so_far.append(e.id)
        elif isinstance(e, ev.Outcome) and e.id in pending_so_far:
            pending_so_far.remove(e.id)
        if isinstance(e, ev.RunStarted) and e.resume and pending_so_far:
            names = [by_id[i].action for i in pending_so_far if i in by_id]
            line += f" ({len(names)} action(s) without outcome: {', '.join(names)})"
        if isinstance(e, ev.VerdictChanged):
            last_verdict = e.value
        if line:
            timeline.append({"at": iso(entry.meta.at), "actor": _text(entry.meta.actor, 100), "event": e.type,
                             "text": line})

    chosen_at = next((x.meta.at for x in state.timeline if isinstance(x.event, ev.RevisionChosen)), None)
    identified = min([t for t in (chosen_at, state.phase_started("execute")) if t is not None], default=None)
    verified = state.phase_started("monitor") or state.phase_ended("verify")
    declared = state.opened_at
    milestones = {
        "declared": iso(declared), "identified": iso(identified), "rolled_back": iso(rolled_back),
        "verified": iso(verified), "resolved": iso(state.resolved_at),
    }
    mttr = (state.resolved_at - declared).total_seconds() if state.resolved_at and declared else None

    phases = []
    for p in state.phases:
        if p.name == "resolved":
            continue
        elapsed = p.elapsed(as_of)
        phases.append({
            "phase": p.name, "started": iso(p.started), "ended": iso(p.ended or (state.resolved_at if state.resolved else None)),
            "elapsed_s": round(elapsed, 3), "budget_s": p.budget,
            "over_budget": p.budget is not None and elapsed > p.budget, "running": p.ended is None and not state.resolved,
        })

    er, p95 = state.peak_error_rate, state.peak_p95_ms
    peak: dict[str, Any] = {"error_rate": er.value if er else None, "error_rate_at": iso(er.at) if er else None,
                            "p95_ms": p95.value if p95 else None, "p95_ms_at": iso(p95.at) if p95 else None}
    comparison: dict[str, Any] | None = None
    if state.comparison is not None:
        comparison = {"source": "journal", "before": dict(state.comparison.before), "after": dict(state.comparison.after)}
    elif rolled_back is not None:
        points = [p for p in state.samples if p[0] is not None]
        before = [p for p in points if p[0] <= rolled_back]
        after = [p for p in points if p[0] > rolled_back]
        if before and after:
            comparison = {
                "source": "metrics samples around the rollback",
                "before": {"at": iso(before[-1][0]), "error_rate": before[-1][1], "p95_ms": before[-1][2]},
                "after": {"at": iso(after[-1][0]), "error_rate": after[-1][1], "p95_ms": after[-1][2]},
            }

    rev = dict(state.revision or {})
    revision = {
        "from": state.inputs.get("from_version") or (rb.from_revision if rb else None),
        "to": state.inputs.get("to_version") or (rb.to_revision if rb and rb.to_revision is not None else rev.get("revision")),
        "images": list(rb.images) if rb and rb.images else list(rev.get("images") or []),
    }
    checklist = [
        {"id": _text(c.id, 200), "ok": c.ok, "who": _text(c.who, 100), "at": iso(c.at),
         "evidence": _text(c.evidence, 300) if c.evidence not in (None, "") else "", "note": _text(c.note, 300)}
        for c in state.checks.values()
    ]
    checks = _checks(state)
    open_checks = [c["id"] for c in checks if c["ok"] is not True]
    why = _why(state)
    notifications = [{"at": iso(n.at), "channel": _text(n.channel, 100), "ok": n.ok, "purpose": _text(n.purpose, 50),
                      "detail": _text(n.detail, 300), "edited": n.edited, "attempts": n.attempts}
                     for n in state.notifications]
    comms = [{"at": iso(c.meta.at), "action": _text(c.event.action, 50), "item": _text(c.event.item, 100),
              "who": _text(c.meta.actor, 100), "note": _text(c.event.note, 300)} for c in state.comms]
    evidence = [{"at": iso(x.meta.at), "dir": _text(x.event.dir, 500), "manifest": _text(x.event.manifest, 500),
                 "manifest_sha256": _text(x.event.manifest_sha256, 64), "files": len(x.event.files),
                 "errors": [_text(e, 300) for e in x.event.errors]} for x in state.evidence]
    shot = screenshot if screenshot is not None else (_text(state.screenshot, 500) if state.screenshot else None)
    return Report(
        target=_text(state.target or "", 300), reason=why["summary"], declared_by=_text(state.opened_by, 200),
        status="resolved" if state.resolved else ("closed" if state.closed else "open"), as_of=iso(as_of),
        milestones=milestones, mttr_s=mttr, phases=phases, peak=peak,
        users_affected=state.inputs.get("users_affected"), inputs={str(k): v for k, v in state.inputs.items()},
        revision=revision, actions=[_action(a) for a in state.actions], checklist=checklist, checks=checks,
        notifications=notifications, comms=comms, evidence=evidence, comparison=comparison, timeline=timeline, why=why, rolled_back=_rolled_back(state),
        resolved_with_open_checks=state.resolved and bool(state.resolved_with_open_checks or open_checks),
        open_checks=open_checks,
        screenshot=shot, summary=_text(state.summary, 1000),
    )


# --------------------------------------------------------------------------- rendering


def _fmt_value(v: Any) -> str:
    if isinstance(v, float) and 0 <= v <= 1:
        return f"{v} ({v * 100:.1f} %)"
    return _md(v if not isinstance(v, (dict, list)) else json.dumps(v, sort_keys=True, default=str))


def render_markdown(rep: Report) -> str:
    ms_ = rep.milestones
    date = (rep.milestones.get("declared") or rep.as_of or "")[:10]
    out: list[str] = []
    w = out.append
    w(f"# Incident report: {_md(rep.target) or 'unknown target'} ({date})")
    w("")
    w(f"Status: **{rep.status}**" + ("" if rep.status == "resolved" else f" (as of {rep.as_of} UTC)"))
    w("")
    w("## Summary")
    w("")
    w(f"- **Service**: {_md(rep.target)}")
    w(f"- **Reason**: {_md(rep.reason) or '—'}")
    w(f"- **Declared by**: {_md(rep.declared_by) or '—'}")
    frm, to = rep.revision.get("from"), rep.revision.get("to")
    w(f"- **Rolled back**: {_md(frm) if frm is not None else '?'} → {_md(to) if to is not None else '?'}"
      + (f" ({', '.join(_md(i) for i in rep.revision.get('images') or [])})" if rep.revision.get("images") else ""))
    w(f"- **MTTR**: {duration(rep.mttr_s)}" + ("" if rep.mttr_s is not None else " (not resolved)"))
    w(f"- **Users affected**: {_fmt_value(rep.users_affected) if rep.users_affected is not None else '— (not entered)'}")
    w(f"- **Peak error rate**: {pct(rep.peak['error_rate'])}" + (f" at {rep.peak['error_rate_at']}" if rep.peak["error_rate_at"] else ""))
    w(f"- **Peak p95 latency**: {ms(rep.peak['p95_ms'])}" + (f" at {rep.peak['p95_ms_at']}" if rep.peak["p95_ms_at"] else ""))
    if rep.summary:
        w(f"- **Resolution**: {_md(rep.summary)}")
    w("")
    _render_why(w, rep)
    w("## Milestones (UTC)")
    w("")
    w("| milestone | time |")
    w("|---|---|")
    for key, label in (("declared", "Declared"), ("identified", "Identified"), ("rolled_back", "Rolled back"),
                       ("verified", "Verified"), ("resolved", "Resolved")):
        w(f"| {label} | {ms_.get(key) or '—'} |")
    w("")
    w("## Time in each phase")
    w("")
    w("| phase | started | elapsed | budget | |")
    w("|---|---|---|---|---|")
    for p in rep.phases:
        flag = "OVER BUDGET" if p["over_budget"] else ("running" if p["running"] else "ok")
        w(f"| {_md(p['phase'])} | {hms(record_time({'ts': p['started']}) if p['started'] else None)} | {duration(p['elapsed_s'])} | "
          f"{duration(p['budget_s']) if p['budget_s'] else '—'} | {flag} |")
    if not rep.phases:
        w("| — | | | | |")
    w("")
    w("## Actions")
    w("")
    if rep.actions:
        w("| started | action | outcome | ended | detail |")
        w("|---|---|---|---|---|")
        for a in rep.actions:
            status = a["status"] + (" (resumed)" if a["resumed"] else "")
            if a["status"] == "pending":
                status = "no outcome (interrupted)"
            detail = a["error"] or (_result_summary(a["result"]))
            name = a["action"] + (f" — {a['name']}" if a["name"] else "")
            w(f"| {hms(_parse(a['started']))} | {_md(name)} | {status} | {hms(_parse(a['ended']))} | {_md(detail)} |")
    else:
        w("No actions were journaled.")
    w("")
    w("## Verification checklist")
    w("")
    if rep.checks:
        w("| check | result | who | when | evidence | note |")
        w("|---|---|---|---|---|---|")
        for c in rep.checks:
            result = "not verified" if c["ok"] is None else ("✓ verified" if c["ok"] else "✗ failed")
            name = _md(c["title"]) + (f" ({_md(c['id'])})" if c["title"] != c["id"] else "")
            w(f"| {name} | {result} | {_md(c['who']) or '—'} | "
              f"{hms(_parse(c['at'])) if c['at'] else '—'} | {_md(c['evidence']) or '—'} | {_md(c['note']) or '—'} |")
        w("")
    done = sum(1 for c in rep.checks if c["ok"] is True)
    w(f"{done} of {len(rep.checks)} checks verified.")
    if rep.resolved_with_open_checks:
        w(f"**Resolved with {len(rep.open_checks)} check(s) open**: {', '.join(_md(i) for i in rep.open_checks)}.")
    elif rep.status == "resolved":
        w("Resolved with every check verified.")
    w("")
    w("## Before / after")
    w("")
    if rep.comparison:
        b, a = rep.comparison.get("before") or {}, rep.comparison.get("after") or {}
        w(f"Source: {_md(rep.comparison.get('source'))}.")
        w("")
        w("| metric | before | after |")
        w("|---|---|---|")
        keys = [k for k in dict.fromkeys(list(b) + list(a)) if k != "at"]
        for k in keys:
            fmt = pct if k == "error_rate" else (ms if k.endswith("_ms") else (lambda v: _md(v) if v is not None else "—"))
            w(f"| {_md(k)} | {fmt(b.get(k))} | {fmt(a.get(k))} |")
    else:
        w("No before/after comparison was journaled.")
    w("")
    w("## Notifications")
    w("")
    if rep.notifications or rep.comms:
        w("| time | channel | purpose | result | detail |")
        w("|---|---|---|---|---|")
        rows = [(n["at"] or "", f"| {hms(_parse(n['at']))} | {_md(n['channel'])} | {_md(n['purpose']) or '—'} | "
                 f"{'sent' if n['ok'] else 'FAILED'}{' (edited)' if n['edited'] else ''} | {_md(n['detail'])} |")
                for n in rep.notifications]
        rows += [(c["at"] or "", f"| {hms(_parse(c['at']))} | — | {_md(c['item'])} | {_md(c['action'])} by {_md(c['who'])} | "
                  f"{_md(c['note'])} |") for c in rep.comms]
        for _, row in sorted(rows, key=lambda x: x[0]):
            w(row)
    else:
        w("No notifications were sent.")
    w("")
    if rep.evidence:
        w("## Evidence")
        w("")
        for e in rep.evidence:
            w(f"- {e['at']}: {_code(e['dir'])} — {e['files']} files, manifest {_code(e['manifest'])}"
              + (f" (sha256 {_md(e['manifest_sha256'])})" if e["manifest_sha256"] else "")
              + (f"; errors: {_md('; '.join(e['errors']))}" if e["errors"] else ""))
        w("")
    w("## Timeline (UTC)")
    w("")
    for item in rep.timeline:
        w(f"- {hms(_parse(item['at']))} — {_md(item['text'])}")
    if rep.screenshot:
        w("")
        w("## Final dashboard")
        w("")
        w(_image_line("cockpit at resolution", rep.screenshot))
    w("")
    w("## Root cause")
    w("")
    w("_To be written: what triggered the rollback? why wasn't it caught in testing? what monitoring failed?_")
    w("")
    w("## Lessons learned and action items")
    w("")
    w("_To be written._")
    w("")
    w("- [ ] ")
    w("")
    return "\n".join(out)


def _render_why(w: Any, rep: Report) -> None:
    why = rep.why
    w("## Why the rollback was started")
    w("")
    lines = []
    if why.get("trigger"):
        t = why["trigger"]
        lines.append(f"- **Trigger**: {_md(t['name'])} — {_md(t['reason']) or '—'}"
                     + (f" at {t['at']}" if t["at"] else "") + (" (armed: automatic rollback)" if t["auto"] else ""))
    if why.get("declared"):
        lines.append(f"- **Declared**: {_md(why['declared'])}")
    if why.get("verdict"):
        v = why["verdict"]
        lines.append(f"- **Verdict**: {_md(v['value'])}" + (f" — {_md('; '.join(v['reasons']))}" if v["reasons"] else "")
                     + (f" at {v['at']}" if v["at"] else ""))
    if why.get("answers"):
        lines.append("- **Operator's answers**: " + "; ".join(f"{_md(k)} = {_fmt_value(v)}" for k, v in why["answers"].items()))
    if why.get("revision_why"):
        lines.append(f"- **Revision chosen because**: {_md(why['revision_why'])}")
    for line in lines or ["Nothing was journaled about why."]:
        w(line)
    w("")


def _parse(s: str | None) -> datetime | None:
    return record_time({"ts": s}) if s else None


def _result_summary(result: Any) -> str:
    if not isinstance(result, dict) or not result:
        return ""
    parts = [f"{k}={v}" for k, v in result.items() if not isinstance(v, (dict, list))]
    return ", ".join(parts)[:200]


def render_json(rep: Report) -> str:
    return json.dumps(rep.as_dict(), indent=2, ensure_ascii=False, sort_keys=False, default=str) + "\n"


def report_text(records: list[dict], fmt: str = "md", *, screenshot: str | None = None, now: datetime | None = None) -> str:
    """The report as text (``fmt``: ``md`` or ``json``)."""
    rep = build_report(records, screenshot=screenshot, now=now)
    if fmt == "json":
        return render_json(rep)
    if fmt == "md":
        return render_markdown(rep)
    raise ValueError(f"unknown report format {fmt!r}; expected md or json")
