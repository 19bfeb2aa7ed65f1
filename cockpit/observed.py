"""What an observer shows from the journal alone (no cluster, no metrics of its own).

``cockpit --readonly --follow JOURNAL`` may run where nothing but the journal can be read: the
verdict and its reasons, the matrix's values and the panes are then the operator's, as they
journaled them (verdict changes, thinned metric samples). :func:`journal_decision` gives the
screens a decision-shaped view of that (``verdict``, ``reasons``, ``sample``) marked
``source="journal"`` with the time it was recorded, so it is never mistaken for a live
reading; :func:`journal_points` gives the panes' points.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cockpit.matrix import Reason, Sample, Verdict
from cockpit.state import IncidentState


@dataclass(frozen=True)
class JournalDecision:
    """The operator's last journaled verdict and readings, shaped like a live decision."""

    verdict: Verdict
    reasons: tuple[Reason, ...]
    sample: Sample
    at: datetime | None
    source: str = "journal"
    trigger: Any = None
    tree: str | None = None
    stabilizing: bool = False
    alerts: tuple[str, ...] = field(default_factory=tuple)


def _verdict(value: str | None) -> Verdict:
    try:
        return Verdict(value)
    except ValueError:
        return Verdict.INCONCLUSIVE


def _reason(text: str, detail: dict | None) -> Reason:
    d = detail if isinstance(detail, dict) else {}
    value, threshold = d.get("value"), d.get("threshold")
    return Reason(metric=str(d.get("metric") or "journal"), level=_verdict(d.get("level")), text=text,
                  value=value if isinstance(value, (int, float)) and not isinstance(value, bool) else None,
                  threshold=threshold if isinstance(threshold, (int, float)) and not isinstance(threshold, bool) else None)


def journal_decision(state: IncidentState) -> JournalDecision | None:
    """The last journaled verdict with the last journaled readings (None: nothing journaled)."""
    if state.verdict is None and not state.samples:
        return None
    er = next((x[1] for x in reversed(state.samples) if x[1] is not None), None)
    p95 = next((x[2] for x in reversed(state.samples) if x[2] is not None), None)
    last = state.samples[-1][0] if state.samples else None
    at = max((t for t in (state.verdict_at, last) if t is not None), default=None)
    details = list(getattr(state, "verdict_details", []) or [])
    reasons = tuple(_reason(t, details[i] if i < len(details) else None) for i, t in enumerate(state.verdict_reasons))
    return JournalDecision(verdict=_verdict(state.verdict), reasons=reasons, at=at,
                           sample=Sample(at=at.timestamp() if at else 0.0, error_rate=er, p95_ms=p95))


def journal_points(state: IncidentState) -> tuple[list[tuple[float, float | None]], list[tuple[float, float | None]]]:
    """The panes' points from the journal: ``(error_rate points, p95 points)``, oldest first."""
    er: list[tuple[float, float | None]] = []
    p95: list[tuple[float, float | None]] = []
    for at, e, p in sorted((x for x in state.samples if x[0] is not None), key=lambda x: x[0]):
        if at is None:
            continue
        t = at.timestamp()
        if e is not None:
            er.append((t, e))
        if p is not None:
            p95.append((t, p))
    return er, p95
