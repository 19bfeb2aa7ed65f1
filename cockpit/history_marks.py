"""What the incident knows about a deployment's revisions: which one was rolled back from (bad),
which one went live when, which ones were seen healthy — and so which row the history screen
offers first.

Pure functions over the journal's fold (:class:`cockpit.state.IncidentState`) and, where a
backend reads it, the cockpit's note on the deployment (``cockpit.io/last-rollback``: who,
when, from/to template hash), which holds across sessions and bastions. Revisions are matched
by **template hash**, never by number: a Kubernetes rollback renumbers them (the old revision 2
becomes revision 4, and the bad revision 3 keeps its number).

An honest "went live" time only: the outcome of a rollback the journal holds (written once its
rollout completed) or the note's time. A ReplicaSet's creation time is when it was first
created — for a ReplicaSet re-used by a rollback that is days before it went live again — so
it is never shown as the live revision's age.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cockpit import events as ev
from cockpit.model import Revision
from cockpit.state import IncidentState


@dataclass(frozen=True)
class Marks:
    """By template hash: ``bad`` → when it was rolled back from (None: when unknown);
    ``live_since`` → when a rollback to it completed; ``healthy``: seen ``OK``."""

    bad: dict[str, datetime | None] = field(default_factory=dict)
    live_since: dict[str, datetime] = field(default_factory=dict)
    healthy: frozenset[str] = frozenset()

    def of(self, r: Revision) -> tuple[datetime | None, bool, datetime | None, bool]:
        """``(rolled back from at, is bad, live since, seen healthy)`` for revision ``r``."""
        h = r.template_hash
        return self.bad.get(h), bool(h) and h in self.bad, self.live_since.get(h), bool(h) and h in self.healthy


def from_state(state: IncidentState | None, target: Any) -> Marks:
    """The marks the incident journal gives for ``target`` (nothing for another target's journal)."""
    if state is None or state.target is None or state.target != str(target):
        return Marks()
    bad: dict[str, datetime | None] = {}
    live: dict[str, datetime] = {}
    for act in state.actions:
        if "rollback" not in act.action or act.status != "ok":
            continue
        result = act.outcome.get("result") if act.outcome else None
        if isinstance(result, Mapping) and result.get("result") == "skipped":
            continue
        chosen = _chosen_for(state.chosen, act.intent)
        if chosen is None:
            continue
        _moved(bad, live, chosen.from_template_hash, chosen.template_hash, act.ended)
    healthy = set()
    for entry in state.timeline:
        e = entry.event
        if isinstance(e, ev.VerdictChanged) and e.value == "OK" and e.template_hash and e.target in ("", str(target)):
            healthy.add(e.template_hash)
    return Marks(bad, live, frozenset(healthy))


def _chosen_for(chosen: Sequence[ev.RevisionChosen], intent: Mapping[str, Any]) -> ev.RevisionChosen | None:
    """The ``revision_chosen`` an intent carried out (by template hash, else by step)."""
    want = intent.get("template_hash")
    for c in reversed(chosen):
        if want and c.template_hash == want:
            return c
    step = intent.get("step")
    return next((c for c in reversed(chosen) if step is not None and c.step == step and c.template_hash), None)


def _moved(bad: dict, live: dict, from_hash: str, to_hash: str, at: datetime | None) -> None:
    if from_hash and from_hash != to_hash:
        bad[from_hash] = at
    if to_hash:
        bad.pop(to_hash, None)  # rolled (forward) to on purpose: it is what runs now
        if at is not None:
            live[to_hash] = at


def with_note(marks: Marks, note: Mapping[str, Any] | None) -> Marks:
    """``marks`` completed with the deployment's ``cockpit.io/last-rollback`` note (the journal
    wins where both know). The note is outside data: only strings are taken, ``at`` must parse."""
    if not note:
        return marks
    frm, to = note.get("from_template_hash"), note.get("to_template_hash")
    if not isinstance(frm, str) or not isinstance(to, str):
        return marks
    bad, live = dict(marks.bad), dict(marks.live_since)
    at = _parse_time(note.get("at"))
    if frm and frm != to and frm not in bad and frm not in live:
        bad[frm] = at
    if to and at is not None and to not in live and to not in bad:
        live[to] = at
    return Marks(bad, live, marks.healthy)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def preselect(history: Iterable[Revision], marks: Marks) -> Revision | None:
    """The revision to offer first: the newest non-live revision whose template was seen
    healthy, else the newest non-live one — never one rolled back from, never the live
    template (None: no such revision)."""
    revs = list(history)
    live = next((r for r in revs if r.live), None)
    candidates = sorted((r for r in revs if not r.live and r.template_hash not in marks.bad
                         and (live is None or not r.template_hash or r.template_hash != live.template_hash)),
                        key=lambda r: -r.number)
    return next((r for r in candidates if r.template_hash and r.template_hash in marks.healthy),
                candidates[0] if candidates else None)


def live_since(r: Revision, history: Iterable[Revision], marks: Marks) -> tuple[datetime | None, bool]:
    """When the live revision ``r`` went live, and whether that is known. Known from the
    marks; else from its ReplicaSet's creation when it is the newest one (a normal rollout);
    unknown when an older ReplicaSet was made live again (a rollback the cockpit did not see)."""
    at = marks.live_since.get(r.template_hash) if r.template_hash else None
    if at is not None:
        return at, True
    newer = [o for o in history if o is not r and o.created is not None and r.created is not None and o.created > r.created]
    if r.created is not None and not newer:
        return r.created, True
    return None, False


__all__ = ["Marks", "from_state", "live_since", "preselect", "with_note"]
