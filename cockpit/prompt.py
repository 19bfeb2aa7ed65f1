"""Asking the person at the terminal, for the headless commands: one place for what every
command that changes something does before it acts without ``--yes``.

- :func:`ask` — a line typed at the terminal, or "" with no terminal (or at end of input): a
  typed confirmation ("type the database name") then never matches, so nothing is changed.
- :func:`confirm` — a y/N question; anything but y/yes, or no terminal to ask on, raises
  :class:`~cockpit.errors.Aborted` (exit 130) and nothing is changed.
"""
from __future__ import annotations

import sys

from cockpit.errors import Aborted


def ask(prompt: str) -> str:
    """The line typed after ``prompt`` (shown on stderr: stdout stays the command's output, as
    ``-o json`` wants); "" when stdin is no terminal or at end of input."""
    if not sys.stdin.isatty():
        return ""
    print(prompt, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().rstrip("\n")


def confirm(question: str, *, no_terminal: str = "not confirmed: no terminal to ask on",
            hint: str = "pass --yes to roll back without asking", declined: str = "not confirmed; nothing was changed",
            suffix: str = " [y/N] ") -> None:
    """Ask ``question``; return on y/yes, else Aborted(``declined``); Aborted(``no_terminal``,
    ``hint``) without asking when stdin is no terminal."""
    if not sys.stdin.isatty():
        raise Aborted(no_terminal, hint=hint)
    if ask(question + suffix).strip().lower() not in ("y", "yes"):
        raise Aborted(declined)
