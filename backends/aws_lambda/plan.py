"""Which version an alias rolls back to, and what the journal already says about it.

``choose_target``: ``--to-version`` when given (it must be a published version); else the
version the cockpit last put live on this alias (the last ``lambda.rollback``/``lambda.shift``
outcome for it in the journal) when the alias has moved since — or "nothing to do" when the
alias still points there; else the highest published version below the alias's version.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backends.aws_lambda.client import Alias, LambdaBackend, Version
from cockpit.errors import NotFoundError
from cockpit.text import sanitize

ROLLBACK = "lambda.rollback"
SHIFT = "lambda.shift"
KINDS = (ROLLBACK, SHIFT)


@dataclass(frozen=True)
class Choice:
    to_version: str
    why: str
    already: bool = False
    """The alias already points (wholly) at ``to_version`` as the journal's last outcome left it."""


def _mine(rec: dict, function: str, alias: str) -> bool:
    return rec.get("function") == function and (rec.get("alias") or rec.get("route")) == alias


def last_outcome(records: Sequence[dict], function: str, alias: str) -> tuple[dict, dict] | None:
    """(intent, outcome) of the last successful lambda action on this alias, or None."""
    intents = {r.get("id"): r for r in records if r.get("type") == "intent" and r.get("action") in KINDS}
    for r in reversed(records):
        if r.get("type") == "outcome" and r.get("ok") and r.get("id") in intents:
            it = intents[r["id"]]
            if _mine(it, function, alias):
                return it, r
    return None


def pending(records: Sequence[dict], function: str, alias: str, action: str) -> dict | None:
    """The latest ``action`` intent on this alias without an outcome (interrupted), or None."""
    done = {r.get("id") for r in records if r.get("type") == "outcome"}
    for r in reversed(records):
        if r.get("type") == "intent" and r.get("action") == action and _mine(r, function, alias):
            return None if r.get("id") in done else r
    return None


def choose_target(backend: LambdaBackend, function: str, alias: Alias, versions: Sequence[Version],
                  records: Sequence[dict], to_version: str | None = None) -> Choice:
    known = [v.version for v in versions]
    if to_version is not None:
        to_version = str(to_version).strip()
        if to_version not in known:
            raise NotFoundError(f"function {sanitize(function)} has no published version {sanitize(to_version)!r}; "
                                f"its published versions: {', '.join(known) or 'none'}")
        return Choice(to_version, f"version {to_version} as asked (--to-version)")
    last = last_outcome(records, function, alias.name)
    if last is not None:
        intent, outcome = last
        target = str(intent.get("to_version") or intent.get("to") or "")
        when = str(outcome.get("ts", ""))[11:19]
        if target and alias.version == target and alias.plain:
            return Choice(target, f"already rolled back at {when} to version {target}", already=True)
        if target in known:
            return Choice(target, f"version {target}, which the journal's last rollback at {when} put live "
                                  f"(the alias has moved to {alias.version} since)")
    if alias.version.isdigit():
        below = [v for v in known if v.isdigit() and int(v) < int(alias.version)]
        if below:
            prev = max(below, key=int)
            return Choice(prev, f"version {prev}, the published version before {alias.version}")
    raise NotFoundError(f"alias {sanitize(alias.name)} of {sanitize(function)} points at version {alias.version}, "
                        f"and no published version comes before it; its published versions: {', '.join(known) or 'none'}",
                        hint="pass --to-version N")


def intent_data(function: str, alias: Alias, choice: Choice) -> dict[str, Any]:
    return {"function": function, "alias": alias.name, "from_version": alias.version,
            "from_weights": alias.split(), "to_version": choice.to_version, "why": choice.why}


def took_effect(backend: LambdaBackend, intent: dict) -> dict[str, Any] | None:
    """The alias already points wholly at the intent's version: the write took effect."""
    function, name, target = str(intent.get("function")), str(intent.get("alias")), str(intent.get("to_version"))
    now = backend.alias(function, name)
    if now.version == target and now.plain:
        return {"function": function, "alias": name, "from_version": intent.get("from_version"),
                "to_version": target, "reconciled": True}
    return None
