"""Who hears of every journal opened writable in this process (the mirror attaches there).

Kept apart from :mod:`cockpit.journal` so the command line can register a hook without
importing the journal and its events (a headless command that writes no journal pays
nothing). :meth:`cockpit.journal.Journal.open` calls :func:`opened`.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

_hooks: list[Callable[[Any], Any]] = []


def add_open_hook(hook: Callable[[Any], Any]) -> Callable[[], None]:
    """Call ``hook(journal)`` for every journal opened writable from now on (the mirror);
    returns the function that removes it. A hook's exception never fails the open."""
    _hooks.append(hook)

    def remove() -> None:
        with contextlib.suppress(ValueError):
            _hooks.remove(hook)

    return remove


def opened(journal: Any) -> None:
    """``journal`` was just opened writable: tell every hook (what they raise is ignored)."""
    for hook in list(_hooks):
        with contextlib.suppress(Exception):
            hook(journal)
