"""The verification checklist and the phase clock: which checks pass, given the evidence.

Pure functions over facts (no I/O, no clock reads): the app gathers an :class:`Evidence`
(rollout progress, pods, health probes, ``/version``, metric samples since the rollback) and
asks :func:`evaluate` which *auto* checks it proves, each with a one-line evidence text that
is journaled with the tick. Manual checks are ticked by a person (``check`` events in the
journal); :func:`rows` merges the checklist items, the journaled ticks and the live auto
results into what the checklist screen shows.

The auto checks (ids from :data:`cockpit.runbook.DEFAULT_CHECKLIST`):

==================  =================================================================
``rollout_complete``  the rollout is complete as ``kubectl rollout status`` judges it
``pods_ready``        every pod of the deployment is Running and Ready (and there is one)
``no_restarts``       no container restarted since the rollback finished
``health_3x``         the health check answered OK three times, at least 10 s apart,
                      with no failure since the first of those three
``version_matches``   ``/version`` reports the target (a tag of the rolled-back images)
``error_rate_ok``     error rate < 1 % averaged over the window after the rollback
``latency_ok``        p95 < 500 ms averaged over the same window
==================  =================================================================

A check about metrics needs the window to be *covered*: samples after the rollback spanning
at least ``window_s``; until then it is pending ("collecting 23 s of 60 s"). Missing data is
never a pass.

Phases (:func:`phase_rows`): declare < 2 min, identify < 3, execute < 5, verify < 5,
monitor < 10 (30 in extended monitoring, toggled by a ``monitoring_extended`` event).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cockpit.durations import format_timer
from cockpit.model import PodInfo, RolloutProgress
from cockpit.state import PHASE_BUDGETS, PHASES, IncidentState

ERROR_RATE_OK_BELOW = 0.01
P95_OK_BELOW_MS = 500.0
HEALTH_TIMES = 3
HEALTH_SPACING_S = 10.0
DEFAULT_WINDOW_S = 60.0
EXTENDED_MONITOR_S = 1800.0
AUTO_IDS = (
    "rollout_complete",
    "pods_ready",
    "no_restarts",
    "health_3x",
    "version_matches",
    "error_rate_ok",
    "latency_ok",
)


@dataclass(frozen=True, slots=True)
class Probe:
    """One health check: when (epoch seconds) and whether it answered OK."""

    at: float
    ok: bool


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One metrics sample (epoch seconds; fraction; milliseconds; None = not measured)."""

    at: float
    error_rate: float | None = None
    p95_ms: float | None = None


@dataclass(frozen=True)
class Evidence:
    """What the cockpit has observed about the target since the rollback."""

    now: float
    since: float | None = None
    """When the rollback finished (epoch seconds); None: no rollback yet (nothing is proven)."""
    progress: RolloutProgress | None = None
    pods: Sequence[PodInfo] | None = None
    probes: Sequence[Probe] = ()
    version: str | None = None
    expected: Sequence[str] = ()
    """Versions that count as the target: the chosen revision's images and their tags."""
    samples: Sequence[MetricPoint] = ()
    window_s: float = DEFAULT_WINDOW_S


@dataclass(frozen=True, slots=True)
class AutoResult:
    """``ok`` True (proven), False (disproven) or None (pending: not enough evidence yet)."""

    id: str
    ok: bool | None
    evidence: str


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the checklist screen."""

    id: str
    title: str
    auto: bool
    ok: bool | None
    evidence: str = ""
    who: str = ""
    at: datetime | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class PhaseRow:
    name: str
    elapsed: float
    budget: float | None
    running: bool
    started: bool

    @property
    def overdue(self) -> bool:
        return self.budget is not None and self.elapsed > self.budget


# --------------------------------------------------------------------------- the auto checks


def expected_versions(images: Iterable[str]) -> tuple[str, ...]:
    """``["reg/shop/checkout:1.4.2"]`` → ``("reg/shop/checkout:1.4.2", "1.4.2")``."""
    out: list[str] = []
    for image in images:
        out.append(image)
        ref = image.rsplit("/", 1)[-1]
        if "@" in ref:
            out.append(ref.split("@", 1)[1])
        elif ":" in ref:
            out.append(ref.split(":", 1)[1])
    return tuple(dict.fromkeys(out))


def _dt(ts: datetime | None) -> float | None:
    return ts.timestamp() if ts is not None else None


def check_rollout(ev: Evidence) -> AutoResult:
    p = ev.progress
    if p is None:
        return AutoResult("rollout_complete", None, "no rollout status yet")
    if p.complete:
        return AutoResult("rollout_complete", True, f"{p.updated}/{p.desired} updated, {p.available} available")
    if p.failed:
        return AutoResult("rollout_complete", False, p.message or "rollout failed")
    return AutoResult("rollout_complete", None, p.message or f"{p.updated}/{p.desired} updated")


def check_pods(ev: Evidence) -> AutoResult:
    if ev.pods is None:
        return AutoResult("pods_ready", None, "no pod list yet")
    if not ev.pods:
        return AutoResult("pods_ready", False, "no pods")
    bad = [p for p in ev.pods if p.phase != "Running" or not p.ready]
    if bad:
        first = bad[0]
        state = first.reason or first.phase or "not ready"
        return AutoResult("pods_ready", False, f"{len(bad)} of {len(ev.pods)} not Running+Ready ({first.name}: {state})")
    return AutoResult("pods_ready", True, f"{len(ev.pods)}/{len(ev.pods)} Running and Ready")


def check_restarts(ev: Evidence) -> AutoResult:
    if ev.since is None or ev.pods is None:
        return AutoResult("no_restarts", None, "waiting for the rollback and the pod list")
    restarted = []
    for p in ev.pods:
        last = _dt(p.last_restart)
        created = _dt(p.created)
        if last is not None and last >= ev.since:
            restarted.append(p.name)
        elif p.restarts and created is not None and created >= ev.since and last is None:
            restarted.append(p.name)  # new since the rollback, restarted, time unknown
    if restarted:
        return AutoResult("no_restarts", False, f"restarted since the rollback: {', '.join(restarted[:3])}")
    if not ev.pods:
        return AutoResult("no_restarts", None, "no pods")
    return AutoResult("no_restarts", True, f"0 restarts in {len(ev.pods)} pods since {_clock(ev.since)}")


def check_health(ev: Evidence) -> AutoResult:
    if ev.since is None:
        return AutoResult("health_3x", None, "waiting for the rollback")
    probes = sorted((p for p in ev.probes if p.at >= ev.since), key=lambda p: p.at)
    # walk back from the newest probe: the OK probes since the last failure
    streak: list[Probe] = []
    for p in reversed(probes):
        if not p.ok:
            break
        streak.append(p)
    streak.reverse()
    chosen: list[Probe] = []
    for p in streak:
        if not chosen or p.at - chosen[-1].at >= HEALTH_SPACING_S:
            chosen.append(p)
    if len(chosen) >= HEALTH_TIMES:
        times = ", ".join(_clock(p.at) for p in chosen[-HEALTH_TIMES:])
        return AutoResult("health_3x", True, f"OK at {times}")
    if probes and not probes[-1].ok:
        return AutoResult("health_3x", None, f"failed at {_clock(probes[-1].at)}; waiting for 3 OK 10 s apart")
    return AutoResult("health_3x", None, f"{len(chosen)} of {HEALTH_TIMES} OK (10 s apart)")


def check_version(ev: Evidence) -> AutoResult:
    if not ev.expected:
        return AutoResult("version_matches", None, "no target revision chosen")
    if ev.version is None:
        return AutoResult("version_matches", None, "no /version answer yet")
    if ev.version.strip() in ev.expected:
        return AutoResult("version_matches", True, f"/version = {ev.version.strip()}")
    return AutoResult("version_matches", False, f"/version = {ev.version.strip()}, expected {ev.expected[-1]}")


def _window(ev: Evidence) -> tuple[list[MetricPoint], float]:
    if ev.since is None:
        return [], 0.0
    pts = sorted((s for s in ev.samples if s.at >= ev.since), key=lambda s: s.at)
    covered = (pts[-1].at - ev.since) if pts else 0.0
    start = ev.now - ev.window_s
    return [s for s in pts if s.at >= start], covered


def _metric_check(ev: Evidence, ident: str, attr: str, bound: float, fmt: Any, label: str) -> AutoResult:
    if ev.since is None:
        return AutoResult(ident, None, "waiting for the rollback")
    pts, covered = _window(ev)
    values = [getattr(s, attr) for s in pts if getattr(s, attr) is not None]
    if covered < ev.window_s:
        return AutoResult(ident, None, f"collecting: {covered:.0f} s of {ev.window_s:.0f} s")
    if not values:
        return AutoResult(ident, None, f"no {label} measured in the last {ev.window_s:.0f} s")
    mean = sum(values) / len(values)
    text = f"{label} {fmt(mean)} avg over {ev.window_s:.0f} s (max {fmt(max(values))}, {len(values)} samples)"
    return AutoResult(ident, mean < bound, text)


def check_error_rate(ev: Evidence) -> AutoResult:
    return _metric_check(ev, "error_rate_ok", "error_rate", ERROR_RATE_OK_BELOW, lambda v: f"{v * 100:.2f}%", "error rate")


def check_latency(ev: Evidence) -> AutoResult:
    return _metric_check(ev, "latency_ok", "p95_ms", P95_OK_BELOW_MS, lambda v: f"{v:.0f} ms", "p95")


CHECKS = {
    "rollout_complete": check_rollout,
    "pods_ready": check_pods,
    "no_restarts": check_restarts,
    "health_3x": check_health,
    "version_matches": check_version,
    "error_rate_ok": check_error_rate,
    "latency_ok": check_latency,
}


def evaluate(ev: Evidence) -> dict[str, AutoResult]:
    """Every auto check against ``ev``, by id."""
    return {ident: fn(ev) for ident, fn in CHECKS.items()}


# --------------------------------------------------------------------------- rows


def rows(items: Iterable[Any], state: IncidentState, auto: dict[str, AutoResult] | None = None) -> list[Row]:
    """Checklist lines: each item (``id``, ``title``, ``auto``) with its tick.

    A journaled tick (``state.checks``) wins for display of who/when; for an auto item that
    has no journaled tick yet the live result is shown (pending or failing, with evidence).
    """
    auto = auto or {}
    out = []
    for item in items:
        tick = state.checks.get(item.id)
        live = auto.get(item.auto) if item.auto else None
        if tick is not None:
            evidence = tick.evidence if isinstance(tick.evidence, str) else ("" if tick.evidence is None else str(tick.evidence))
            out.append(Row(item.id, item.title, bool(item.auto), tick.ok, evidence, tick.who, tick.at, tick.note))
        elif live is not None:
            out.append(Row(item.id, item.title, True, live.ok if live.ok is not True else None, live.evidence))
        else:
            out.append(Row(item.id, item.title, bool(item.auto), None))
    return out


def ticks_to_journal(items: Iterable[Any], state: IncidentState, auto: dict[str, AutoResult]) -> list[dict]:
    """The ``check`` events to write now: auto checks newly proven (or newly failing after a
    pass), and "Communication sent" once a Slack message was delivered. Each is ``{"id", "ok",
    "who": "cockpit", "evidence"}``."""
    items = list(items)
    out = []
    for item in items:
        if not item.auto or item.auto not in auto:
            continue
        res = auto[item.auto]
        tick = state.checks.get(item.id)
        if res.ok is True and (tick is None or not tick.ok):
            out.append({"id": item.id, "ok": True, "who": "cockpit", "evidence": res.evidence})
        elif res.ok is False and tick is not None and tick.ok and tick.who == "cockpit":
            out.append({"id": item.id, "ok": False, "who": "cockpit", "evidence": res.evidence})
    from cockpit.comms import communication_tick

    sent = communication_tick(items, state)
    if sent is not None and all(t["id"] != sent["id"] for t in out):
        out.append(sent)  # a delivered Slack message, journaled, ticks "Communication sent"
    return out


def open_rows(items: Iterable[Any], state: IncidentState, auto: dict[str, AutoResult] | None = None) -> list[Row]:
    """The items the journal does not hold ticked ok — not ticked, failed, or an automatic
    check still collecting (or proven but not journaled yet) — as checklist rows with their
    evidence: what resolving now would leave open."""
    return [r for r in rows(items, state, auto) if not ((c := state.checks.get(r.id)) is not None and c.ok)]


def all_done(items: Iterable[Any], state: IncidentState) -> bool:
    """Every item ticked ok in the journal."""
    return all((c := state.checks.get(i.id)) is not None and c.ok for i in items)


# --------------------------------------------------------------------------- phases


def extended(state: IncidentState) -> bool:
    """Whether extended (30-minute) monitoring was switched on (last event wins)."""
    return state.monitoring_extended


def phase_rows(state: IncidentState, now: datetime | None = None) -> list[PhaseRow]:
    """One row per phase of the runbook (declare … monitor): elapsed against budget."""
    now = now or datetime.now(timezone.utc)
    budgets = dict(PHASE_BUDGETS)
    if extended(state):
        budgets["monitor"] = EXTENDED_MONITOR_S
    spent: dict[str, float] = {}
    running: str | None = None
    for span in state.phases:
        spent[span.name] = spent.get(span.name, 0.0) + span.elapsed(now)
        running = span.name if span.ended is None else running
    if state.phases and state.phases[-1].ended is None:
        running = state.phases[-1].name
    return [
        PhaseRow(name, spent.get(name, 0.0), budgets.get(name), running == name, name in spent)
        for name in PHASES
        if name != "resolved"
    ]


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).astimezone().strftime("%H:%M:%S")


fmt_elapsed = format_timer
"""``75`` → ``1:15`` (:func:`cockpit.durations.format_timer`)."""


__all__ = [
    "AUTO_IDS", "AutoResult", "Evidence", "MetricPoint", "PhaseRow", "Probe", "Row",
    "all_done", "evaluate", "open_rows", "expected_versions", "extended", "fmt_elapsed", "phase_rows", "rows",
    "ticks_to_journal",
]
