"""What the rollback screen shows of a gradual traffic shift, folded from the journal alone.

:mod:`cockpit.traffic` journals every weight change as a ``traffic.weights`` intent (route,
shift id, step index, the weights planned, the weights before) and its outcome (the weights
read back), and after each hold a log line with the verdict of the version that keeps traffic
(``"step 2 old=30% new=70%: OK — old: 0.4% errors over 812 requests"``). :func:`shift_view`
folds the newest shift of an :class:`~cockpit.state.IncidentState` into a :class:`ShiftView`:
the split as it stands (confirmed by its outcome, or *moving* while an intent waits for one),
which step of how many, and each version's latest error rate the journal names. Pure: the
operator's session and an observer folding the same file show the same line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SHIFT = "traffic.shift"
WEIGHTS = "traffic.weights"

_RATE = re.compile(r"(?:^|[—:] )([^\s:=]{1,120}): (\d+(?:\.\d+)?)% errors over (\d+) requests")
_STEP = re.compile(r"^step (\d+)\b")


@dataclass(frozen=True)
class VersionRate:
    rate: float
    """Fraction of requests that failed (0.0–1.0)."""
    requests: int
    step: int | None = None
    """The step (1-based) after whose hold it was read."""


@dataclass(frozen=True)
class ShiftView:
    route: str
    shift: str
    to: str = ""
    """The version that keeps traffic (from the shift's intent; empty when not journaled)."""
    split: dict[str, int] = field(default_factory=dict)
    """The weights as they stand (percent), in the route's order."""
    moving_to: dict[str, int] | None = None
    """The weights being written (an intent without its outcome yet), else None."""
    step: int = 0
    """The last step (1-based) whose weights were confirmed; 0 before the first."""
    steps: int = 0
    """How many steps the shift plans (0 when the plan is not in the journal)."""
    status: str = "running"
    """``running``, ``done``, ``stopped``, ``paused``, ``aborted``, ``failed`` (a weight
    change failed) or ``restored`` (the split was put back)."""
    rates: dict[str, VersionRate] = field(default_factory=dict)
    """Each version's latest error rate the journal names."""
    failed: str = ""
    """The error of the last weight change that failed, if any."""


def _weights(value: Any) -> dict[str, int] | None:
    if not isinstance(value, dict):
        return None
    out: dict[str, int] = {}
    for k, v in value.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        out[str(k)] = int(v)
    return out


def rates_from_lines(lines: list[str]) -> dict[str, VersionRate]:
    """Each version's latest ``NAME: X% errors over N requests`` in the shift's log lines."""
    out: dict[str, VersionRate] = {}
    for line in lines:
        m = _STEP.match(line)
        step = int(m.group(1)) if m else None
        for name, pct, req in _RATE.findall(line):
            seen = out.get(name)
            if step is None and seen is not None and (seen.rate, seen.requests) == (float(pct) / 100.0, int(req)):
                continue  # the step's own echo of the line before (which names the step)
            out[name] = VersionRate(float(pct) / 100.0, int(req), step)
    return out


def shift_view(state: Any) -> ShiftView | None:
    """The newest traffic shift in ``state`` (an :class:`~cockpit.state.IncidentState`), or None."""
    weights = [a for a in getattr(state, "actions", ()) if a.action == WEIGHTS]
    if not weights:
        return None
    last = weights[-1]
    shift = str(last.intent.get("shift") or "")
    route = str(last.intent.get("route") or "")
    mine = [a for a in weights if str(a.intent.get("shift") or "") == shift]
    plan = next((a for a in reversed(getattr(state, "actions", ())) if a.action == SHIFT
                 and (str(a.intent.get("shift") or a.id) == shift or (a.intent.get("route") == route))), None)
    to, steps = "", 0
    if plan is not None:
        to = str(plan.intent.get("to") or "")
        planned = plan.intent.get("steps")
        steps = len(planned) if isinstance(planned, list) else 0
    split: dict[str, int] = {}
    moving: dict[str, int] | None = None
    step, failed, restored = 0, "", False
    for a in mine:
        out = a.outcome
        idx = a.intent.get("index")
        if out is None:
            moving = _weights(a.intent.get("weights"))
            split = split or _weights(a.intent.get("previous")) or {}
            continue
        moving = None
        if out.get("ok"):
            result = out.get("result") if isinstance(out.get("result"), dict) else {}
            split = _weights(result.get("weights")) or _weights(a.intent.get("weights")) or split
            if isinstance(idx, int) and idx >= 0:
                step = max(step, idx + 1)
                failed, restored = "", False
            elif a.intent.get("restore") or idx == -1:
                restored = True
        elif not out.get("superseded"):
            failed = str(out.get("error_message") or out.get("error_title") or "the weight change failed")
            split = split or _weights(a.intent.get("previous")) or {}
    status = "running"
    if plan is not None and plan.outcome is not None:
        result = plan.outcome.get("result") if isinstance(plan.outcome.get("result"), dict) else {}
        if plan.outcome.get("ok"):
            inner = result.get("result") if isinstance(result.get("result"), dict) else result
            status = str(inner.get("status") or "done")
        elif plan.outcome.get("error_title") == "Paused":
            status = "paused"
        else:
            status = "aborted" if restored else "failed"
    elif restored:
        status = "restored"
    elif failed:
        status = "failed"
    lines = [ln.line for ln in getattr(state, "log", ()) if isinstance(getattr(ln, "line", None), str)
             and "errors over" in ln.line]
    return ShiftView(route, shift, to, split, moving, step, steps, status, rates_from_lines(lines), failed)
