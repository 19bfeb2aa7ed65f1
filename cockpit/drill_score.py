"""A drill's score card: how the rehearsal went, against the runbooks and the scenario's goal.

Pure functions of the incident journal's records and the scenario's goal (no clock, no
I/O but :func:`load_goal` reading a scenario file); the app journals the card as a
``drill_scored`` event (:class:`cockpit.events.DrillScored`) when the drill's incident is
resolved, shows it, and ``cockpit drill scores`` lists the cards of past drills.

What is scored (100 points when everything was measured; parts that could not be measured
leave the maximum, so a card says ``61/90`` rather than pretending):

==============  ======  ===================================================================
part            points  how
==============  ======  ===================================================================
declare         10      first frame → incident declared (opened), budget 2 min
identify        10      declared → revision chosen (or the rollback started), budget 3 min
execute         10      chosen → rolled out (the ``verify`` phase), budget 5 min
verify          10      rolled out → every automatic check passed (``monitor``), budget 5 min
revision        25      the revision rolled back to is the goal's — by its images, never by
                        its number (numbers change when a rollback renumbers the history)
checks          15      share of the checklist verified (ticked ok) when resolved
comms           10      share of due messages sent on time (:func:`cockpit.comms.timeliness`)
keystrokes      10      keys from the first frame to the confirmed rollback: ≤ 5 full, ≤ 15 half
==============  ======  ===================================================================

A phase within its budget earns its 10 points, within twice its budget 5, later or never 0.
The budgets are the runbooks' (:data:`cockpit.state.PHASE_BUDGETS`).

Keystrokes: the app counts the keys it receives from the drill's first frame with their
times (:class:`cockpit.controllers.drill.DrillScorer`); those pressed before the journal's
first ``revision_chosen`` (written right after the confirm) count. A resumed drill's
keys were not seen by this process: ``None``, left out of the maximum.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cockpit import events as ev
from cockpit.state import PHASE_BUDGETS, IncidentState, replay

SCORED_PHASES = ("declare", "identify", "execute", "verify")
PHASE_POINTS = 10
REVISION_POINTS = 25
CHECKS_POINTS = 15
COMMS_POINTS = 10
KEYS_POINTS = 10
KEYS_PAR = 5
"""Keys for full marks: ``h``, ``enter``, ``y`` is the path from a drill's dashboard."""
KEYS_HALF = 15
SCENARIOS_DIR = Path(__file__).parent / "world" / "scenarios"


# --------------------------------------------------------------------------- the goal


@dataclass(frozen=True)
class Goal:
    """What a scenario asks for (its ``goal`` section, read with plain YAML)."""

    scenario: str
    action: str = "rollback"
    namespace: str = "default"
    deployment: str | None = None
    to_revision: int | None = None
    to_image: str | None = None
    within_seconds: float | None = None
    description: str = ""

    @property
    def target(self) -> str:
        return f"{self.namespace}/{self.deployment}" if self.deployment else ""


def scenario_path(scenario: str) -> Path:
    """The YAML file of ``scenario``: a path to one, else a built-in scenario's name."""
    path = Path(scenario)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    return SCENARIOS_DIR / f"{Path(scenario).name}.yaml"


def _seconds(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        from cockpit.durations import parse_duration

        try:
            return parse_duration(v)
        except ValueError:
            return None
    return None


def goal_from(data: Any, scenario: str) -> Goal | None:
    """The :class:`Goal` of a scenario document (None: it has none)."""
    goal = data.get("goal") if isinstance(data, dict) else None
    if not isinstance(goal, dict):
        return None
    rev = goal.get("to_revision")
    image = goal.get("to_image")
    return Goal(
        scenario=str(data.get("name") or scenario), action=str(goal.get("action") or "rollback"),
        namespace=str(goal.get("namespace") or "default"),
        deployment=str(goal["deployment"]) if goal.get("deployment") else None,
        to_revision=rev if isinstance(rev, int) and not isinstance(rev, bool) else None,
        to_image=str(image) if image else None, within_seconds=_seconds(goal.get("within_seconds")),
        description=str(goal.get("description") or ""),
    )


def load_goal(scenario: str) -> Goal | None:
    """The goal of ``scenario`` (name or YAML path); None when it cannot be read or has none."""
    import yaml

    try:
        data = yaml.safe_load(scenario_path(scenario).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return goal_from(data, scenario)


def builtin_goals() -> list[Goal]:
    out = []
    for path in sorted(SCENARIOS_DIR.glob("*.yaml")):
        goal = load_goal(str(path))
        if goal is not None:
            out.append(goal)
    return out


def infer_scenario(target: str | None, goals: Iterable[Goal] | None = None) -> str:
    """The built-in scenario whose goal is ``target`` when exactly one is (journals written
    before the score card was journaled name no scenario); else ``""``."""
    if not target:
        return ""
    found = [g.scenario for g in (builtin_goals() if goals is None else goals) if g.target == target]
    return found[0] if len(found) == 1 else ""


# --------------------------------------------------------------------------- the card


@dataclass(frozen=True)
class PhaseScore:
    name: str
    seconds: float | None
    """None: the drill never got there."""
    budget_s: float
    points: int
    max_points: int = PHASE_POINTS

    @property
    def within_budget(self) -> bool:
        return self.seconds is not None and self.seconds <= self.budget_s


@dataclass(frozen=True)
class ScoreCard:
    scenario: str
    target: str
    started_at: datetime | None
    phases: tuple[PhaseScore, ...]
    total_s: float | None
    """First frame → verified (None: never verified)."""
    keystrokes: int | None
    keys_points: int | None
    revision_ok: bool | None
    """The goal's revision (by images)? None: the scenario names no revision to compare."""
    chosen_revision: int | None
    chosen_images: tuple[str, ...]
    goal_revision: int | None
    goal_images: tuple[str, ...]
    revision_points: int | None
    checks_verified: int
    checks_failed: int
    checks_skipped: int
    checks_points: int
    comms: tuple[Any, ...] = ()
    """:class:`cockpit.comms.ItemFate` of every message that counted."""
    comms_on_time: int = 0
    comms_points: int | None = None
    goal_within_s: float | None = None
    rolled_back_s: float | None = None
    """First frame → rolled out (the goal's ``within_seconds`` is measured on it)."""
    points: int = 0
    max_points: int = 0
    resolved_at: datetime | None = None

    @property
    def checks_total(self) -> int:
        return self.checks_verified + self.checks_failed + self.checks_skipped

    @property
    def comms_counted(self) -> int:
        return len(self.comms)

    def to_event(self) -> ev.DrillScored:
        return ev.DrillScored(
            scenario=self.scenario, target=self.target, started_at=_iso(self.started_at) or "",
            keystrokes=self.keystrokes,
            phases=tuple({"name": p.name, "seconds": _round(p.seconds), "budget_s": p.budget_s, "points": p.points,
                          "max_points": p.max_points} for p in self.phases),
            total_s=_round(self.total_s), revision_ok=self.revision_ok,
            revision={"chosen_revision": self.chosen_revision, "chosen_images": list(self.chosen_images),
                      "goal_revision": self.goal_revision, "goal_images": list(self.goal_images),
                      "points": self.revision_points},
            checks_verified=self.checks_verified, checks_failed=self.checks_failed, checks_skipped=self.checks_skipped,
            comms_on_time=self.comms_on_time, comms_counted=self.comms_counted, points=self.points,
            max_points=self.max_points,
        )


def _iso(at: datetime | None) -> str | None:
    if at is None:
        return None
    return at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


def _between(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return max(0.0, (b - a).total_seconds())


def _phase_points(seconds: float | None, budget: float) -> int:
    if seconds is None:
        return 0
    if seconds <= budget:
        return PHASE_POINTS
    return PHASE_POINTS // 2 if seconds <= 2 * budget else 0


def keys_points(keys: int | None) -> int | None:
    if keys is None:
        return None
    return KEYS_POINTS if keys <= KEYS_PAR else (KEYS_POINTS // 2 if keys <= KEYS_HALF else 0)


def milestones(state: IncidentState, started_at: datetime | None = None) -> dict[str, datetime | None]:
    """``start`` (the first frame, else the opening), ``declared``, ``identified``,
    ``executed`` (rolled out: the ``verify`` phase) and ``verified`` (``monitor``)."""
    declared = state.opened_at
    start = started_at if started_at is not None and (declared is None or started_at <= declared) else declared
    chosen_at = next((e.meta.at for e in state.timeline if isinstance(e.event, ev.RevisionChosen)), None)
    identified = min([t for t in (chosen_at, state.phase_started("execute")) if t is not None], default=None)
    executed = state.phase_started("verify")
    if executed is None and state.rolled_back is not None:
        executed = state.rolled_back.at
    verified = state.phase_started("monitor")
    return {"start": start, "declared": declared, "identified": identified, "executed": executed, "verified": verified}


def keys_before(key_times: Sequence[datetime], state: IncidentState) -> int | None:
    """How many of the keys pressed at ``key_times`` came before the rollback's revision was
    chosen (the confirm); None when no rollback was chosen."""
    chosen_at = next((e.meta.at for e in state.timeline if isinstance(e.event, ev.RevisionChosen)), None)
    if chosen_at is None:
        return None
    return sum(1 for t in key_times if t <= chosen_at)


def score(records: list[dict], goal: Goal | None, *, scenario: str = "", started_at: datetime | None = None,
          keystrokes: int | None = None, policy: Any = None) -> ScoreCard:
    """The score card of the drill whose journal is ``records`` (see the module's table).

    ``started_at``: the drill's first frame (a time after the incident's opening is not this
    incident's: the opening is used); ``keystrokes``: keys to the confirmed rollback (None:
    not counted); ``policy``: the comms policy (:class:`cockpit.comms.CommsPolicy`, default
    the runbooks')."""
    from cockpit.comms import timeliness
    from cockpit.report_facts import checks

    state = replay(records)
    if started_at is not None and state.opened_at is not None and started_at > state.opened_at:
        started_at, keystrokes = None, None  # another session's frame: this process did not see the drill start
    m = milestones(state, started_at)
    spans = {"declare": ("start", "declared"), "identify": ("declared", "identified"),
             "execute": ("identified", "executed"), "verify": ("executed", "verified")}
    phases = []
    for name in SCORED_PHASES:
        a, b = spans[name]
        seconds = _between(m[a], m[b])
        budget = PHASE_BUDGETS[name]
        phases.append(PhaseScore(name, seconds, budget, _phase_points(seconds, budget)))

    rb = state.rolled_back
    first = state.chosen[0] if state.chosen else None
    last = state.chosen[-1] if state.chosen else None
    chosen_images = tuple(rb.images) if rb is not None and rb.images else (tuple(last.images) if last else ())
    chosen_revision = first.revision if first is not None else (rb.to_revision if rb is not None else None)
    goal_images = (goal.to_image,) if goal is not None and goal.to_image else ()
    revision_ok: bool | None = None
    if goal is not None and goal.action == "rollback" and (goal_images or goal.to_revision is not None):
        if rb is None:
            revision_ok = False
        elif goal_images:
            revision_ok = bool(chosen_images) and set(goal_images) <= set(chosen_images)
        else:  # a goal with a number only: the number as it was when the operator chose it
            revision_ok = chosen_revision == goal.to_revision
    revision_points = None if revision_ok is None else (REVISION_POINTS if revision_ok else 0)

    rows = checks(state)
    verified = sum(1 for c in rows if c["ok"] is True)
    failed = sum(1 for c in rows if c["ok"] is False)
    skipped = sum(1 for c in rows if c["ok"] is None)
    checks_points = round(CHECKS_POINTS * verified / len(rows)) if rows else 0

    fates = tuple(timeliness(records, policy))
    on_time = sum(1 for f in fates if f.status == "on_time")
    comms_points = round(COMMS_POINTS * on_time / len(fates)) if fates else None

    kp = keys_points(keystrokes)
    parts = [(p.points, p.max_points) for p in phases] + [(checks_points, CHECKS_POINTS)]
    parts += [(v, mx) for v, mx in ((revision_points, REVISION_POINTS), (comms_points, COMMS_POINTS), (kp, KEYS_POINTS))
              if v is not None]
    return ScoreCard(
        scenario=scenario or (goal.scenario if goal is not None else ""), target=state.target or "",
        started_at=m["start"], phases=tuple(phases), total_s=_between(m["start"], m["verified"]),
        keystrokes=keystrokes, keys_points=kp, revision_ok=revision_ok, chosen_revision=chosen_revision,
        chosen_images=chosen_images, goal_revision=goal.to_revision if goal is not None else None,
        goal_images=goal_images, revision_points=revision_points, checks_verified=verified, checks_failed=failed,
        checks_skipped=skipped, checks_points=checks_points, comms=fates, comms_on_time=on_time,
        comms_points=comms_points, goal_within_s=goal.within_seconds if goal is not None else None,
        rolled_back_s=_between(m["start"], m["executed"]), points=sum(v for v, _ in parts),
        max_points=sum(mx for _, mx in parts), resolved_at=state.resolved_at,
    )


def journaled_score(state: IncidentState) -> ev.DrillScored | None:
    """The last ``drill_scored`` event of the incident (None: not scored)."""
    found = None
    for entry in state.timeline:
        if isinstance(entry.event, ev.DrillScored):
            found = entry.event
    return found


# --------------------------------------------------------------------------- past drills


@dataclass(frozen=True)
class DrillSummary:
    """One past drill, for ``cockpit drill scores``: from its journaled card, else scored now."""

    path: str
    opened_at: datetime | None
    scenario: str
    target: str
    status: str
    """``scored`` (the card was journaled), ``resolved`` (resolved, no card: scored now, keys
    unknown), ``abandoned`` (closed unresolved: its cockpit stopped) or ``open`` (scored as far
    as it went)."""
    total_s: float | None
    phases: dict[str, float | None]
    keystrokes: int | None
    revision_ok: bool | None
    checks: str
    comms: str
    points: int
    max_points: int

    def as_json(self) -> dict[str, Any]:
        return {"journal": self.path, "date": _iso(self.opened_at), "scenario": self.scenario, "target": self.target,
                "status": self.status, "total_s": _round(self.total_s),
                "phases": {k: _round(v) for k, v in self.phases.items()}, "keystrokes": self.keystrokes,
                "revision_ok": self.revision_ok, "checks": self.checks, "comms": self.comms,
                "score": self.points, "max_score": self.max_points,
                "percent": round(100 * self.points / self.max_points) if self.max_points else None}


def is_drill(records: list[dict]) -> bool:
    opened = next((r for r in records if r.get("type") == "incident_opened"), None)
    return bool(opened is not None and opened.get("drill") is True)


def summarize(path: str, records: list[dict], goals: Sequence[Goal] | None = None) -> DrillSummary:
    """The summary line of the drill journaled in ``records`` (at ``path``)."""
    from cockpit.text import sanitize

    state = replay(records)
    card = journaled_score(state)
    status = "scored" if card is not None else (
        "resolved" if state.resolved else ("abandoned" if state.closed else "open"))
    if card is None:
        scenario = infer_scenario(state.target, goals)
        goal = next((g for g in (goals if goals is not None else builtin_goals()) if g.scenario == scenario), None) \
            if scenario else None
        card = score(records, goal, scenario=scenario).to_event()
    phases: dict[str, float | None] = {}
    for p in card.phases:
        name = p.get("name") if hasattr(p, "get") else None
        if isinstance(name, str):
            secs = p.get("seconds")
            phases[sanitize(name, max_len=20)] = float(secs) if isinstance(secs, (int, float)) and not isinstance(secs, bool) else None
    total = card.checks_verified + card.checks_failed + card.checks_skipped
    return DrillSummary(
        path=path, opened_at=state.opened_at, scenario=sanitize(card.scenario or "?", max_len=80),
        target=sanitize(card.target or state.target or "?", max_len=200), status=status, total_s=card.total_s,
        phases=phases, keystrokes=card.keystrokes, revision_ok=card.revision_ok,
        checks=f"{card.checks_verified}/{total}" + (f" ({card.checks_skipped} skipped)" if card.checks_skipped else ""),
        comms=f"{card.comms_on_time}/{card.comms_counted}" if card.comms_counted else "—",
        points=card.points, max_points=card.max_points,
    )
