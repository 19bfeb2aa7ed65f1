"""The one automatic-rollback policy, shared by ``cockpit watch`` and the full-screen cockpit.

- **Which revision**: the newest revision older than the live one whose pod template was seen
  healthy — by this session (an ``OK`` verdict while it ran) or by anyone, as the incident
  journal records (``verdict`` events with the template hash) — matched by template hash,
  because a rollback renumbers revisions; else the previous one. :func:`plan`.
- **Once per incident**, read from the journal (so it survives a restart): an automatic
  trigger that was not aborted means the automatic rollback was used. :func:`already_used`.
- **The same check interval, stabilization window and countdown** for both, from the one
  policy (:class:`cockpit.decision.Policy`, ``watch.*``); the countdown is a
  :class:`Countdown` the operator can abort.
- **Never undoing the cockpit's own rollback**: when the live template is the one the cockpit
  rolled back *to* (its note on the deployment, ``cockpit.io/last-rollback``, read by every
  replica and bastion) and the revision chosen is the one it rolled back *from*, the plan is
  refused (:func:`undoes`) — a watcher restarted without its journal, or a new leader, would
  otherwise bring the bad release back when the rolled-back-to revision is bad too. A
  person decides.
- **Never on missing data**: triggers come from the decision engine, which never fires on
  inconclusive readings (the Kubernetes API and the metrics both unreachable is
  INCONCLUSIVE). A manual rollback stays possible.

The rollback itself is :class:`cockpit.rollback.RollbackRun` — the same path as every other.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cockpit import events as ev
from cockpit.errors import ConflictError, RolloutFailed
from cockpit.model import Revision, Target
from cockpit.state import IncidentState


@dataclass(frozen=True)
class AutoPlan:
    """Where an automatic rollback goes and why."""

    to_revision: int
    why: str
    images: tuple[str, ...] = ()
    from_revision: int | None = None


def choose_revision(history: Sequence[Revision], healthy: set[str]) -> tuple[int, str]:
    """The last stable revision: newest non-live revision whose template was seen healthy,
    else the one before the live one. Returns (number, why)."""
    live = next((r for r in history if r.live), history[-1] if history else None)
    older = [r for r in history if live is None or (r.number < live.number and r.template_hash != live.template_hash)]
    for r in sorted(older, key=lambda r: -r.number):
        if r.template_hash and r.template_hash in healthy:
            return r.number, f"revision {r.number} was last seen healthy"
    if not older:
        raise RolloutFailed("no earlier revision to roll back to", hint="the deployment has a single revision")
    prev = max(older, key=lambda r: r.number)
    return prev.number, f"revision {prev.number} is the previous one (no revision was seen healthy)"


def healthy_in_journal(state: IncidentState | None, target: Target | str) -> set[str]:
    """Template hashes the journal saw ``OK`` for ``target``."""
    if state is None:
        return set()
    out = set()
    for entry in state.timeline:
        e = entry.event
        if isinstance(e, ev.VerdictChanged) and e.value == "OK" and e.template_hash and e.target in ("", str(target)):
            out.add(e.template_hash)
    return out


def already_used(state: IncidentState | None, target: Target | str) -> bool:
    """Whether this incident already had its automatic rollback (a fired, armed, not aborted
    trigger for ``target``): at most one per incident, across restarts."""
    if state is None:
        return False
    fired = 0
    for entry in state.timeline:
        e = entry.event
        if isinstance(e, ev.Trigger) and e.auto and not e.readonly and e.target == str(target):
            fired += 1
        elif isinstance(e, ev.TriggerAborted) and fired and e.target in ("", str(target)):
            fired -= 1
    return fired > 0


def undoes(note: Mapping[str, Any] | None, live_hash: str, to_hash: str) -> bool:
    """Would going from the live template ``live_hash`` to ``to_hash`` undo the cockpit's last
    rollback (``note``: its note on the deployment)? True when the live template is the one it
    rolled back to and ``to_hash`` the one it rolled back from."""
    return bool(note and note.get("from_template_hash") and note.get("from_template_hash") == to_hash
                and note.get("to_template_hash") == live_hash)


def plan(history: Sequence[Revision], seen_healthy: set[str], state: IncidentState | None,
         target: Target | str, note: Mapping[str, Any] | None = None) -> AutoPlan:
    """Which revision an automatic rollback of ``target`` goes to, and why. ``note``: the
    cockpit's note of its last rollback on the deployment; ConflictError ("Already rolled
    back") when the plan would undo that rollback (see :func:`undoes`)."""
    number, why = choose_revision(history, set(seen_healthy) | healthy_in_journal(state, target))
    chosen = next((r for r in history if r.number == number), None)
    live = next((r for r in history if r.live), None)
    if note and live is not None and chosen is not None and undoes(note, live.template_hash, chosen.template_hash):
        where = f"{target.name} -n {target.namespace}" if isinstance(target, Target) else str(target)
        raise ConflictError(
            f"the live revision {live.number} is what {note.get('by') or 'the cockpit'} rolled back to at "
            f"{note.get('at') or '?'} (from revision {note.get('from_revision', '?')}); an automatic rollback to "
            f"revision {number} would bring back the release rolled back from",
            title="Already rolled back",
            hint=f"a person decides: `cockpit history {where}` shows the revisions; "
                 f"`cockpit rollback {where} --to-revision N` goes to one on purpose")
    return AutoPlan(number, why, tuple(chosen.images) if chosen else (), live.number if live else None)


def refused_events(target: Target | str, trigger: object, refusal: ConflictError) -> tuple[ev.Event, ...]:
    """What both front ends journal when an armed trigger's plan is refused (:func:`plan`):
    the armed trigger, then its abort with why — the record shows it was armed and not sent."""
    fired = trigger_event(target, trigger, None, armed=True, readonly=False, countdown_s=None)
    return (fired, ev.TriggerAborted(target=str(target), reason=f"not sent: {refusal.message}"))


def trigger_event(target: Target | str, trigger: object, auto: AutoPlan | None, *, armed: bool, readonly: bool,
                  countdown_s: float | None) -> ev.Trigger:
    """The ``trigger`` event both front ends journal when the engine's trigger fires."""
    reason = getattr(trigger, "reason", None)
    return ev.Trigger(
        target=str(target), name=str(getattr(trigger, "name", "")),
        reason=str(getattr(reason, "text", reason) or ""), count=getattr(trigger, "count", None),
        auto=armed, to_revision=auto.to_revision if auto else None, why=auto.why if auto else "",
        readonly=readonly, countdown_s=countdown_s if armed else None)


@dataclass
class Countdown:
    """Armed/disarmed automatic rollback with a countdown an operator can abort. Pure: the
    front end calls :meth:`fire` when a trigger fires, shows :meth:`remaining`, calls
    :meth:`abort` on the abort key, and rolls back when :meth:`due` says so (once)."""

    armed: bool = False
    countdown_s: float = 10.0
    deadline: float | None = None
    reason: str = ""
    aborted: bool = False
    done: bool = False

    def fire(self, now: float, reason: str) -> bool:
        """Start the countdown (only when armed, idle and not yet done). True if it started."""
        if not self.armed or self.deadline is not None or self.done:
            return False
        self.deadline, self.reason, self.aborted = now + self.countdown_s, reason, False
        return True

    def remaining(self, now: float) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - now)

    def abort(self) -> bool:
        if self.deadline is None:
            return False
        self.deadline, self.aborted = None, True
        return True

    def due(self, now: float) -> bool:
        if self.deadline is not None and now >= self.deadline and not self.done:
            self.done, self.deadline = True, None
            return True
        return False
