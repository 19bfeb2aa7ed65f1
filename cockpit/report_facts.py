"""The parts of the incident report that tell *why* and *how far*: why the rollback was
started, the rollback itself, the verification checklist with every item (ticked or not), and
one timeline line per event. Pure functions of :class:`cockpit.state.IncidentState`; the
report (:mod:`cockpit.report`) assembles them. Outside text is sanitized here; Markdown
escaping is the renderer's.

Why the rollback was started (:func:`why`), from what was journaled *before the first
rollback action* (its ``intent``; without one, the whole journal):

- ``trigger``: the last automatic-rollback ``trigger`` that fired (name, reason, whether armed);
- ``verdict``: the last ``verdict`` (value and reasons);
- ``answers``: the operator's ``operator_input`` answers (the decision tree: data loss,
  security breach, share of users affected...);
- ``declared``: the reason the incident was declared with;
- ``revision_why``: why the target revision was chosen.

``summary`` (the report's ``reason``) is the trigger when one fired; else the reason the
incident was declared with, and what the operator had before them when they acted — a verdict
that was not OK with its reasons, and their answers — when there is none; where the incident
was opened by the full-screen cockpit or the watch, whose declared reason says what was done
("rollback to revision 2"), not why, what the operator had before them comes first.

The checklist (:func:`checks`): the items of the runbook's ``verify`` list when the journal
recorded a runbook with one, else :data:`cockpit.runbook.DEFAULT_CHECKLIST`, each with its
journaled tick (``ok`` True / False) or ``ok: None`` — not verified; ticks of ids outside the
list follow, titled by their id.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import yaml

from cockpit import events as ev
from cockpit.runbook import DEFAULT_CHECKLIST
from cockpit.state import ROLLBACK_ACTIONS, IncidentState
from cockpit.text import sanitize


def text(v: Any, n: int = 500) -> str:
    """Outside text made inert (dicts and lists as sorted JSON)."""
    if isinstance(v, (dict, list, tuple)) or hasattr(v, "items"):
        v = json.dumps(v if not hasattr(v, "items") else dict(v), sort_keys=True, ensure_ascii=False, default=str)
    return sanitize(v, max_len=n)


def iso(at: datetime | None) -> str | None:
    """UTC, seconds, ``Z``: the report's one time format."""
    if at is None:
        return None
    return at.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _cutoff(state: IncidentState) -> int:
    """Index in the timeline of the first rollback action's intent (or its end)."""
    for i, entry in enumerate(state.timeline):
        if isinstance(entry.event, ev.Intent) and any(k in entry.event.action for k in ROLLBACK_ACTIONS):
            return i
    return len(state.timeline)


def why(state: IncidentState) -> dict[str, Any]:
    before = state.timeline[:_cutoff(state)]
    trig = next((e for e in reversed(before) if isinstance(e.event, ev.Trigger)), None)
    verdict = next((e for e in reversed(before) if isinstance(e.event, ev.VerdictChanged)), None)
    answers: dict[str, Any] = {}
    for e in before:
        if isinstance(e.event, ev.OperatorInput):
            answers[text(e.event.key, 100)] = e.event.value if isinstance(e.event.value, (int, float, bool)) or e.event.value is None \
                else text(e.event.value, 300)
    trigger = None
    if trig is not None:
        t: ev.Trigger = trig.event  # type: ignore[assignment]
        trigger = {"name": text(t.name, 100), "reason": text(t.reason, 300), "auto": t.auto, "count": t.count,
                   "at": iso(trig.meta.at), "to_revision": t.to_revision, "why": text(t.why, 300)}
    verdict_d = None
    if verdict is not None:
        v: ev.VerdictChanged = verdict.event  # type: ignore[assignment]
        verdict_d = {"value": text(v.value, 50), "reasons": [text(r, 300) for r in v.reasons], "at": iso(verdict.meta.at)}
    chosen = state.chosen[0].why if state.chosen else (state.rolled_back.why if state.rolled_back else "")
    declared = text(state.reason, 500)
    seen = []  # what the operator had before them when they acted
    if verdict_d is not None and verdict_d["value"].lower() != "ok":
        seen.append(f"verdict {verdict_d['value']}" + (f": {'; '.join(verdict_d['reasons'])}" if verdict_d["reasons"] else ""))
    if answers:
        seen.append("operator's answers: " + ", ".join(f"{k} = {v}" for k, v in answers.items()))
    # the full-screen cockpit and the watch open an incident with what the operator did ("rollback
    # to revision 2"), not why: there, what they had before them is the reason
    acted = state.opened_via in ("tui", "watch")
    if trigger is not None:
        summary = f"trigger {trigger['name']}: {trigger['reason']}" + (" (armed: automatic rollback)" if trigger["auto"] else "")
    else:
        summary = ("; ".join(seen) or declared) if acted else (declared or "; ".join(seen))
    return {"summary": summary, "declared": declared, "trigger": trigger, "verdict": verdict_d, "answers": answers,
            "revision_why": text(chosen, 300)}


def rolled_back(state: IncidentState) -> dict[str, Any] | None:
    rb = state.rolled_back
    if rb is None:
        return None
    return {"at": iso(rb.at), "action": text(rb.action, 200), "from_revision": rb.from_revision,
            "to_revision": rb.to_revision, "images": [text(i, 300) for i in rb.images], "why": text(rb.why, 300)}


def checklist_items(state: IncidentState) -> list[tuple[str, str, bool]]:
    """``(id, title, auto)`` of the incident's checklist: the recorded runbook's ``verify``
    items, else the default checklist. A runbook that cannot be read counts as none."""
    verify = None
    if state.runbook_yaml:
        try:
            doc = yaml.safe_load(state.runbook_yaml)
        except yaml.YAMLError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("verify"), list):
            verify = [(str(i["id"]), str(i.get("title") or i["id"]), bool(i.get("auto")))
                      for i in doc["verify"] if isinstance(i, dict) and isinstance(i.get("id"), str)]
    if verify is None:
        verify = [(c.id, c.title, bool(c.auto)) for c in DEFAULT_CHECKLIST]
    return verify


def checks(state: IncidentState) -> list[dict[str, Any]]:
    """Every checklist item with its tick (``ok`` None: not verified), then ticks outside it."""
    items = checklist_items(state)
    ids = {i for i, _, _ in items}
    rows = items + [(i, i, False) for i in state.checks if i not in ids]
    out = []
    for ident, title, auto in rows:
        c = state.checks.get(ident)
        out.append({
            "id": text(ident, 200), "title": text(title, 200), "auto": auto, "ok": None if c is None else bool(c.ok),
            "who": text(c.who, 100) if c else "", "at": iso(c.at) if c else None,
            "evidence": text(c.evidence, 300) if c and c.evidence not in (None, "") else "",
            "note": text(c.note, 300) if c else "",
        })
    return out


def timeline_text(e: ev.Event, last_verdict: Any) -> str:  # noqa: C901 — one line per event type
    t = lambda v, n=200: text(v if v is not None else "", n)  # noqa: E731
    if isinstance(e, ev.IncidentOpened):
        return f"Incident declared on {t(e.target)} by {t(e.who)}: {t(e.reason, 300)}"
    if isinstance(e, ev.Phase):
        return f"Phase: {t(e.phase)}"
    if isinstance(e, ev.VerdictChanged):
        if e.value == last_verdict:
            return ""
        return f"Verdict: {t(e.value)}" + (f" ({t('; '.join(e.reasons), 300)})" if e.reasons else "")
    if isinstance(e, ev.OperatorInput):
        return f"Input: {t(e.key)} = {t(e.value)}"
    if isinstance(e, ev.RevisionChosen):
        images = ", ".join(t(i) for i in e.images)
        return f"Revision {e.revision} chosen" + (f" ({images})" if images else "") + (f": {t(e.why, 300)}" if e.why else "")
    if isinstance(e, ev.Intent):
        name = e.extra.get("name")
        return f"Started {t(e.action)}" + (f" — {t(name)}" if name else "")
    if isinstance(e, ev.Outcome):
        if e.ok:
            return f"Outcome ok{' (reconciled after resume)' if e.resumed else ''} [{t(e.id, 20)}]"
        if e.superseded:
            return f"Outcome: not applied before the crash, re-run [{t(e.id, 20)}]"
        return f"Outcome FAILED: {t(e.error_title)}: {t(e.error_message, 300)} [{t(e.id, 20)}]"
    if isinstance(e, ev.RunStarted):
        return f"Runbook {t(e.runbook)} resumed after interruption" if e.resume else f"Runbook {t(e.runbook)} started"
    if isinstance(e, ev.StepFinished):
        if (e.status or ("ok" if e.ok else "failed")) == "ok":
            return ""
        return f"Step {e.index + 1} ({t(e.kind)}) {t(e.status) or 'failed'}: {t(e.error_message, 300)}"
    if isinstance(e, ev.Check):
        ev_ = f" — evidence: {t(e.evidence)}" if e.evidence else ""
        note = f" — note: {t(e.note, 300)}" if e.note else ""
        return f"Check {t(e.id)} {'passed' if e.ok else 'FAILED'} by {t(e.who)}{ev_}{note}"
    if isinstance(e, ev.Notification):
        purpose = f" ({t(e.purpose)})" if e.purpose else ""
        return f"Notification {t(e.channel)}{purpose} {'sent' if e.ok else 'FAILED'}" + (f": {t(e.detail)}" if e.detail else "")
    if isinstance(e, ev.Comms):
        return f"Comms: {t(e.action)} {t(e.item)}"
    if isinstance(e, ev.EvidenceCaptured):
        return f"Evidence collected: {t(e.dir, 300)} ({len(e.files)} files)"
    if isinstance(e, ev.Comparison):
        return "Before/after comparison recorded"
    if isinstance(e, ev.Trigger):
        return f"Trigger {t(e.name)}: {t(e.reason, 300)}" + (" (auto-rollback armed)" if e.auto else "")
    if isinstance(e, ev.TriggerAborted):
        return f"Automatic rollback aborted: {t(e.reason)}"
    if isinstance(e, ev.AutoRollbackArmed):
        return "Automatic rollback armed" if e.armed else "Automatic rollback disarmed"
    if isinstance(e, ev.IncidentResolved):
        opened = f" with {len(e.open_checks)} check(s) open: {t(', '.join(e.open_checks), 300)}" if e.open_checks else ""
        return "Incident resolved" + opened + (f": {t(e.summary, 300)}" if e.summary else "")
    if isinstance(e, ev.IncidentClosed):
        return "Incident closed" + (f": {t(e.reason, 300)}" if e.reason else "")
    return ""
