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
- the checklist (``check``: who ticked what, when, with which evidence);
- the notifications sent (``notification``) and the operator's skips/edits (``comms``);
- evidence collected (``evidence``: directory, manifest and its sha256);
- the before/after comparison: a ``comparison`` record (``before``/``after`` dicts) if one
  was journaled, else derived from the metrics samples around the rollback;
- a timeline in UTC; sections for root cause and lessons left for people;
- an optional SVG screenshot path (a ``screenshot`` record's ``path``, or the caller's).

Determinism: for a resolved incident everything is measured up to ``incident_resolved``;
for an open one up to the last record (``as_of``), never the wall clock, unless the caller
passes ``now``. All text from the journal is sanitized; Markdown metacharacters that could
break a table are escaped.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from cockpit.state import PHASE_BUDGETS, _ts, replay
from cockpit.text import sanitize

BUDGET_ORDER = ("declare", "identify", "execute", "verify", "monitor")
ROLLBACK_ACTIONS = ("rollback", "switch_selector", "set_image")
SKIP_TIMELINE = frozenset({"log", "step_started", "run_finished"})


# --------------------------------------------------------------------------- helpers


def iso(at: datetime | None) -> str | None:
    if at is None:
        return None
    return at.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def hms(at: datetime | None) -> str:
    return at.astimezone(timezone.utc).strftime("%H:%M:%S") if at else "—"


def duration(seconds: float | None) -> str:
    """``45s``, ``4m 05s``, ``1h 02m``."""
    if seconds is None:
        return "—"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {(s % 3600) // 60:02d}m"


def pct(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.1f} %"


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def metric_points(records: list[dict]) -> list[tuple[datetime, float | None, float | None]]:
    """``(at, error_rate, p95_ms)`` from ``verdict`` / ``metrics`` / ``sample`` records."""
    out = []
    for r in records:
        if r.get("type") not in ("verdict", "metrics", "sample"):
            continue
        at = _ts(r)
        if at is None:
            continue
        er = p95 = None
        for src in (r, r.get("sample"), r.get("metrics")):
            if isinstance(src, dict):
                er = er if er is not None else _num(src.get("error_rate"))
                p95 = p95 if p95 is not None else _num(src.get("p95_ms"))
        for reason in r.get("reasons") or []:
            if isinstance(reason, dict):
                if reason.get("metric") == "error_rate" and er is None:
                    er = _num(reason.get("value"))
                if reason.get("metric") == "p95_ms" and p95 is None:
                    p95 = _num(reason.get("value"))
        if er is not None or p95 is not None:
            out.append((at, er, p95))
    return out


def _text(v: Any, n: int = 500) -> str:
    if isinstance(v, (dict, list)):
        v = json.dumps(v, sort_keys=True, ensure_ascii=False, default=str)
    return sanitize(v, max_len=n)


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
    notifications: list[dict]
    comms: list[dict]
    evidence: list[dict]
    comparison: dict[str, Any] | None
    timeline: list[dict]
    screenshot: str | None = None
    summary: str = ""
    root_cause: str = ""
    lessons: str = ""
    budget_total_s: float = field(default=sum(PHASE_BUDGETS.values()))

    def as_dict(self) -> dict:
        return asdict(self)


def build_report(records: list[dict], *, screenshot: str | None = None, now: datetime | None = None) -> Report:
    """Fold ``records`` into a :class:`Report`. ``now`` only matters for an open incident
    (default: the last record's time, so the same journal always gives the same report)."""
    state = replay(records)
    stamps = [t for t in (_ts(r) for r in records) if t is not None]
    as_of = state.resolved_at or now or (max(stamps) if stamps else None)

    # actions with their timestamps
    acts: dict[str, dict] = {}
    order: list[str] = []
    rolled_back: datetime | None = None
    notifications: list[dict] = []
    comms: list[dict] = []
    evidence: list[dict] = []
    comparison: dict[str, Any] | None = None
    summary = ""
    timeline: list[dict] = []
    last_verdict = None
    for r in records:
        t = r.get("type")
        at = _ts(r)
        if t == "intent":
            aid = str(r.get("id"))
            acts[aid] = {
                "id": aid, "action": _text(r.get("action"), 200), "step": r.get("step"),
                "name": _text(r.get("name") or "", 200), "started": iso(at), "ended": None,
                "status": "pending", "resumed": False, "superseded": False, "result": None, "error": "",
            }
            order.append(aid)
        elif t == "outcome" and str(r.get("id")) in acts:
            a = acts[str(r.get("id"))]
            a["ended"] = iso(at)
            a["resumed"] = bool(r.get("resumed"))
            a["superseded"] = bool(r.get("superseded"))
            a["status"] = "ok" if r.get("ok") else ("superseded" if r.get("superseded") else "failed")
            a["result"] = r.get("result")
            if not r.get("ok"):
                a["error"] = _text(f"{r.get('error_title') or ''}: {r.get('error_message') or ''}".strip(": "), 300)
            if r.get("ok") and rolled_back is None and any(k in a["action"] for k in ROLLBACK_ACTIONS):
                rolled_back = at
        elif t == "notification":
            notifications.append({
                "at": iso(at), "channel": _text(r.get("channel"), 100), "ok": bool(r.get("ok")),
                "purpose": _text(r.get("purpose") or "", 50), "detail": _text(r.get("detail") or "", 300),
                "edited": bool(r.get("edited")), "attempts": r.get("attempts"),
            })
        elif t == "comms":
            comms.append({"at": iso(at), "action": _text(r.get("action"), 50), "item": _text(r.get("item"), 100),
                          "who": _text(r.get("actor") or "", 100), "note": _text(r.get("note") or "", 300)})
        elif t == "evidence":
            evidence.append({"at": iso(at), "dir": _text(r.get("dir"), 500), "manifest": _text(r.get("manifest"), 500),
                             "manifest_sha256": _text(r.get("manifest_sha256") or "", 64),
                             "files": len(r.get("files") or []), "errors": [_text(e, 300) for e in r.get("errors") or []]})
        elif t == "comparison":
            comparison = {"source": "journal", "before": r.get("before") or {}, "after": r.get("after") or {}}
        elif t == "screenshot" and screenshot is None and r.get("path"):
            screenshot = _text(r.get("path"), 500)
        elif t == "incident_resolved":
            summary = _text(r.get("summary") or "", 1000)
        line = _timeline_text(r, last_verdict)
        if t == "run_started" and r.get("resume"):
            open_ = [acts[a]["action"] for a in order if acts[a]["status"] == "pending"]
            if open_:
                line += f" ({len(open_)} action(s) without outcome: {', '.join(open_)})"
        if t == "verdict":
            last_verdict = r.get("value")
        if line:
            timeline.append({"at": iso(at), "actor": _text(r.get("actor") or "", 100), "event": t, "text": line})

    # milestones
    def phase_start(name: str) -> datetime | None:
        return next((p.started for p in state.phases if p.name == name), None)

    def phase_end(name: str) -> datetime | None:
        return next((p.ended for p in state.phases if p.name == name and p.ended), None)

    chosen = next((_ts(r) for r in records if r.get("type") == "revision_chosen"), None)
    identified = min([t for t in (chosen, phase_start("execute")) if t is not None], default=None)
    verified = phase_start("monitor") or phase_end("verify")
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

    points = metric_points(records)
    peak: dict[str, Any] = {"error_rate": None, "error_rate_at": None, "p95_ms": None, "p95_ms_at": None}
    for at, er, p95 in points:
        if er is not None and (peak["error_rate"] is None or er > peak["error_rate"]):
            peak["error_rate"], peak["error_rate_at"] = er, iso(at)
        if p95 is not None and (peak["p95_ms"] is None or p95 > peak["p95_ms"]):
            peak["p95_ms"], peak["p95_ms_at"] = p95, iso(at)
    if comparison is None and rolled_back is not None:
        before = [p for p in points if p[0] <= rolled_back]
        after = [p for p in points if p[0] > rolled_back]
        if before and after:
            comparison = {
                "source": "metrics samples around the rollback",
                "before": {"at": iso(before[-1][0]), "error_rate": before[-1][1], "p95_ms": before[-1][2]},
                "after": {"at": iso(after[-1][0]), "error_rate": after[-1][1], "p95_ms": after[-1][2]},
            }

    rev = dict(state.revision or {})
    from_rev = next((a["result"].get("from_revision") for a in acts.values()
                     if a["status"] == "ok" and isinstance(a["result"], dict) and "from_revision" in a["result"]), None)
    revision = {
        "from": state.inputs.get("from_version") or from_rev,
        "to": state.inputs.get("to_version") or rev.get("revision"),
        "images": rev.get("images") or [],
    }
    checklist = [
        {"id": _text(c.id, 200), "ok": c.ok, "who": _text(c.who, 100), "at": iso(c.at),
         "evidence": _text(c.evidence, 300) if c.evidence not in (None, "") else "", "note": _text(c.note, 300)}
        for c in state.checks.values()
    ]
    inputs = {str(k): v for k, v in state.inputs.items()}
    return Report(
        target=_text(state.target or "", 300), reason=_text(state.reason, 500), declared_by=_text(state.opened_by, 200),
        status="resolved" if state.resolved else ("closed" if state.closed else "open"), as_of=iso(as_of),
        milestones=milestones, mttr_s=mttr, phases=phases, peak=peak,
        users_affected=state.inputs.get("users_affected"), inputs=inputs, revision=revision,
        actions=[acts[a] for a in order], checklist=checklist, notifications=notifications, comms=comms,
        evidence=evidence, comparison=comparison, timeline=timeline, screenshot=screenshot, summary=summary,
    )


def _timeline_text(r: dict, last_verdict: Any) -> str:
    t = r.get("type")
    g = lambda k, n=200: _text(r.get(k) if r.get(k) is not None else "", n)  # noqa: E731
    if t in SKIP_TIMELINE:
        return ""
    if t == "incident_opened":
        return f"Incident declared on {g('target')} by {_text(r.get('who') or r.get('actor') or '')}: {g('reason', 300)}"
    if t == "phase":
        return f"Phase: {g('phase')}"
    if t == "verdict":
        if r.get("value") == last_verdict:
            return ""
        reasons = [x.get("text", x.get("metric")) if isinstance(x, dict) else x for x in r.get("reasons") or []]
        return f"Verdict: {g('value')}" + (f" ({_text('; '.join(map(str, reasons)), 300)})" if reasons else "")
    if t == "operator_input":
        return f"Input: {g('key')} = {g('value')}"
    if t == "revision_chosen":
        images = ", ".join(_text(i, 200) for i in r.get("images") or [])
        return f"Revision {g('revision')} chosen" + (f" ({images})" if images else "")
    if t == "intent":
        return f"Started {g('action')}" + (f" — {g('name')}" if r.get("name") else "")
    if t == "outcome":
        if r.get("ok"):
            return f"Outcome ok{' (reconciled after resume)' if r.get('resumed') else ''} [{g('id', 20)}]"
        if r.get("superseded"):
            return f"Outcome: not applied before the crash, re-run [{g('id', 20)}]"
        return f"Outcome FAILED: {g('error_title')}: {g('error_message', 300)} [{g('id', 20)}]"
    if t == "run_started":
        return f"Runbook {g('runbook')} resumed after interruption" if r.get("resume") else f"Runbook {g('runbook')} started"
    if t == "step_finished":
        if r.get("status", "ok" if r.get("ok") else "failed") == "ok":
            return ""
        return f"Step {int(r.get('index', -1)) + 1} ({g('kind')}) {g('status') or 'failed'}: {g('error_message', 300)}"
    if t == "check":
        mark = "passed" if r.get("ok") else "FAILED"
        ev = f" — evidence: {_text(r.get('evidence'), 200)}" if r.get("evidence") else ""
        return f"Check {g('id')} {mark} by {_text(r.get('who') or r.get('actor') or '')}{ev}"
    if t == "notification":
        ok = "sent" if r.get("ok") else "FAILED"
        purpose = f" ({g('purpose')})" if r.get("purpose") else ""
        return f"Notification {g('channel')}{purpose} {ok}" + (f": {g('detail', 200)}" if r.get("detail") else "")
    if t == "comms":
        return f"Comms: {g('action')} {g('item')}"
    if t == "evidence":
        return f"Evidence collected: {g('dir', 300)} ({len(r.get('files') or [])} files)"
    if t == "comparison":
        return "Before/after comparison recorded"
    if t == "incident_resolved":
        return "Incident resolved" + (f": {g('summary', 300)}" if r.get("summary") else "")
    if t == "incident_closed":
        return "Incident closed"
    return ""


# --------------------------------------------------------------------------- rendering


def _md(value: Any) -> str:
    """Sanitized and safe inside a Markdown table cell."""
    text = sanitize("" if value is None else value, max_len=500)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("`", "\\`")


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
        w(f"| {_md(p['phase'])} | {hms(_ts({'ts': p['started']}) if p['started'] else None)} | {duration(p['elapsed_s'])} | "
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
    if rep.checklist:
        w("| check | result | who | when | evidence |")
        w("|---|---|---|---|---|")
        for c in rep.checklist:
            w(f"| {_md(c['id'])} | {'✓' if c['ok'] else '✗'} | {_md(c['who'])} | {hms(_parse(c['at']))} | "
              f"{_md(c['evidence'] or c['note']) or '—'} |")
    else:
        w("No checks were ticked.")
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
            w(f"- {e['at']}: `{_md(e['dir'])}` — {e['files']} files, manifest `{_md(e['manifest'])}`"
              + (f" (sha256 {e['manifest_sha256']})" if e["manifest_sha256"] else "")
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
        w(f"![cockpit at resolution]({_md(rep.screenshot)})")
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


def _parse(s: str | None) -> datetime | None:
    return _ts({"ts": s}) if s else None


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
