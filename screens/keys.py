"""Textual ``Binding`` s built from :mod:`cockpit.keymap` (ids, so a user keymap can rebind)."""
from __future__ import annotations

from textual.binding import Binding

from cockpit.keymap import DEFAULTS, KeySpec, display_key

MUTATING_ACTIONS = frozenset(s.action.split("(")[0] for s in DEFAULTS if s.mutating)


def bindings(scope: str, specs: tuple[KeySpec, ...] = DEFAULTS) -> list[Binding]:
    out = []
    for s in specs:
        if s.scope != scope:
            continue
        out.append(Binding(s.key, s.action, s.description, show=s.show, key_display=display_key(s.key),
                           priority=s.priority, tooltip=s.description + (" (changes the world)" if s.mutating else ""),
                           id=s.id))
    return out
