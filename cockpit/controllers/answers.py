"""The operator's answers to the decision tree (runbook 000): data loss? security breach?
share of users affected? — and the user reports the matrix judges (runbook 003).

The journal is the truth. :meth:`AnswersController.give` journals each *changed* answer as an
``operator_input`` event in the incident of the target on screen — answering opens it,
because the operator acted — and what the screens show and the engine judges is the fold's
(``data.state.inputs``): the operator's session, a resumed one and a readonly observer read
the same answers from the same file and so show the same recommendation. :meth:`sync` (after
each fold) and :meth:`built` (when the live engine is built, possibly after the answers) hand
them to the decision engine, whose tree (:func:`cockpit.matrix.decision_tree`) turns them into
an immediate rollback, a standard rollback or a hotfix.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from cockpit.errors import ReadonlyError
from cockpit.matrix import OperatorInputs, pct
from cockpit.model import Target
from cockpit.text import sanitize

KEYS = OperatorInputs.KEYS
LABELS = {"data_loss": "data loss", "security_breach": "security breach", "users_affected": "users affected",
          "user_reports": "user reports"}


# --------------------------------------------------------------------------- pure


def from_fold(raw: Mapping[str, Any]) -> tuple[OperatorInputs, list[str]]:
    """The fold's ``inputs`` (key → journaled value) as :class:`OperatorInputs`. Keys that are
    not the tree's are ignored; a value that does not fit its question (a journal edited by
    hand, an older writer) counts as *not known* and is named in the second item."""
    inputs = OperatorInputs()
    problems: list[str] = []
    for key in KEYS:
        if key not in raw:
            continue
        try:
            inputs = inputs.with_input(key, raw[key])
        except (TypeError, ValueError, OverflowError):
            problems.append(f"journaled {LABELS[key]} {sanitize(repr(raw[key]), max_len=40)} does not fit: not known")
    return inputs, problems


def answers_for(state: Any, target: Target | None) -> tuple[OperatorInputs, list[str]]:
    """The answers of the incident ``state`` when it is the incident of ``target`` (the target
    on screen); none otherwise (another deployment's answers are not this one's)."""
    if target is None or state is None or state.target != str(target):
        return OperatorInputs(), []
    return from_fold(state.inputs)


def changes(current: OperatorInputs, given: Mapping[str, Any]) -> dict[str, Any]:
    """The answers in ``given`` that differ from ``current``, normalised as the journal holds
    them (yes/no → bool, a share → a fraction 0..1, reports → int, None: not known).

    Raises ValueError naming the question for an unknown key or a value that does not fit."""
    out: dict[str, Any] = {}
    for key, value in given.items():
        if key not in KEYS:
            raise ValueError(f"{sanitize(key, max_len=40)!r} is not a question of the decision tree")
        try:
            norm = getattr(OperatorInputs().with_input(key, value), key)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"{LABELS[key]}: {sanitize(str(exc), max_len=200)}") from None
        if key == "user_reports" and norm is not None and norm < 0:
            raise ValueError(f"{LABELS[key]}: expected a count of 0 or more, got {norm}")
        if norm != getattr(current, key):
            out[key] = norm
    return out


def describe(answers: Mapping[str, Any]) -> str:
    """``data loss: yes, users affected: 30%`` — the answers in words."""
    parts = []
    for key in KEYS:
        if key not in answers:
            continue
        v = answers[key]
        if v is None:
            text = "not known"
        elif key in ("data_loss", "security_breach"):
            text = "yes" if v else "no"
        elif key == "users_affected":
            text = pct(float(v))
        else:
            text = str(v)
        parts.append(f"{LABELS[key]}: {text}")
    return ", ".join(parts)


def apply(engine: Any, inputs: OperatorInputs) -> None:
    """Give the engine exactly ``inputs`` (its ``operator_input`` per answer that differs)."""
    have = getattr(engine, "inputs", None)
    for key in KEYS:
        value = getattr(inputs, key)
        if have is None or getattr(have, key) != value:
            engine.operator_input(key, value)


# --------------------------------------------------------------------------- the controller


class AnswersController:
    """Journals the operator's answers and keeps the live engine's inputs equal to the fold's.

    ``incident``: :class:`cockpit.controllers.incident.Incident`; ``live``: the
    :class:`cockpit.controllers.live.LiveController` whose ``engine`` judges the target on
    screen (None until its first metrics poll builds it)."""

    def __init__(self, host: Any, data: Any, incident: Any, live: Any = None) -> None:
        self.host, self.data, self.incident, self.live = host, data, incident, live
        self._lock = threading.Lock()
        self._incident: tuple[str | None, OperatorInputs] = (None, OperatorInputs())
        """(the incident's target, its answers) as last folded (read by :meth:`built` in the poll's thread)."""
        self._shown: tuple[str | None, str | None, OperatorInputs] | None = None
        self._engine: tuple[str, Any] | None = None
        """(target, engine) that :meth:`built` saw last (the live controller may not have stored it yet)."""

    def current(self) -> OperatorInputs:
        """The answers of the target on screen, as the journal's fold holds them."""
        return answers_for(self.data.state, self.data.target)[0]

    # ---- the operator answers (event loop)

    def give(self, answers: Mapping[str, Any]) -> dict[str, Any]:
        """The form was saved: journal each changed answer (in a thread; the incident of the
        target on screen opens now if it is not open). Returns what will be journaled; a
        refusal is one toast and nothing is written."""
        if self.data.readonly:
            self.host.notify("readonly: observers cannot answer the decision tree", severity="warning")
            return {}
        target = self.data.target
        if target is None:
            self.host.notify("pick a target first (enter on the list)", severity="warning")
            return {}
        theirs = self.data.state.target
        if theirs and theirs != str(target):
            self.host.notify(f"the open incident is on {sanitize(theirs, max_len=120)}; "
                             f"its answers are given on that deployment", severity="warning")
            return {}
        try:
            changed = changes(self.current(), answers)
        except ValueError as exc:
            self.host.notify(f"answer refused — {exc}", severity="error")
            return {}
        if not changed:
            self.host.notify("decision tree: no answer changed", timeout=3)
            return {}
        self.host.run_in_thread(lambda: self.journal(target, changed))
        return changed

    def journal(self, target: Target, changed: Mapping[str, Any]) -> None:
        """*Thread.* Open (or reuse) the incident of ``target`` and journal one
        ``operator_input`` per changed answer (durable: fsynced on append)."""
        from cockpit.events import OperatorInput

        if self.data.readonly:
            raise ReadonlyError("readonly: observers cannot answer the decision tree")
        journal = self.incident.open_for(target, f"operator's answers: {describe(changed)}")
        for key, value in changed.items():
            journal.write(OperatorInput(key=key, value=value))

    # ---- the engine

    def _for(self, target: str | None) -> OperatorInputs:
        incident_target, inputs = self._incident
        return inputs if target is not None and target == incident_target else OperatorInputs()

    def sync(self) -> bool:
        """Event loop, after the journal's records were folded (and at start): hand the fold's
        answers to the live engine; redraw the recommendation (``tree``) when they changed."""
        state = self.data.state
        screen = str(self.data.target) if self.data.target is not None else None
        with self._lock:
            self._incident = (state.target, from_fold(state.inputs)[0] if state.target else OperatorInputs())
            live = getattr(self.live, "engine", None)
            if live is not None:
                apply(live, self._for(screen))
            if self._engine is not None and self._engine[1] is not live:
                apply(self._engine[1], self._for(self._engine[0]))
            shown = (screen, *self._incident)
            changed, self._shown = shown != self._shown, shown
        if changed:
            self.host.mark("tree")
        return changed

    def built(self, target: Target, result: tuple[Any, list, str]) -> tuple[Any, list, str]:
        """*Thread* (the metrics poll, around the composition root's ``build``): the engine
        just built for ``target`` starts with the answers already journaled for it."""
        engine = result[0]
        if engine is not None:
            with self._lock:
                self._engine = (str(target), engine)
                apply(engine, self._for(str(target)))
        return result
