"""The cockpit's key bindings as data: ids, default keys, what they do, whether they mutate.

Screens turn these into Textual ``Binding`` s (with ``id`` so a user keymap can rebind them);
the help screen and the footer list them. Keys follow k9s habits (``/`` filter, ``?`` help,
``q`` quit, ``esc`` back) and give one-letter actions on the core path. Only keys that
terminals send over SSH: letters, digits, ``/``, ``?``, ``enter``, ``esc``, ``space``, arrows,
``tab`` and plain ``ctrl+letter`` (no ``ctrl+enter``, no ``ctrl+shift+...``).

Mutating bindings (``mutating=True``) are not offered at all in readonly (the backend refuses
them anyway). Rebinding: ``{"history": "H", "quit": "q,ctrl+q"}`` from the config
(:func:`apply_overrides`), an unknown id or a key terminals cannot send is a ConfigError.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from cockpit.errors import ConfigError


@dataclass(frozen=True, slots=True)
class KeySpec:
    id: str
    key: str
    """Textual key names, comma-separated for alternatives (``"h"``, ``"escape,backspace"``)."""
    action: str
    description: str
    scope: str = "app"
    """``app``, ``dashboard``, ``history``, ``confirm`` (a rollback's, one target's or a
    fleet's), ``rollback``, ``fleet`` (the fleet rollback's screen), ``checklist``, ``comms``,
    ``edit`` (the message editor), ``data``, ``invalidate`` (its confirmation), ``typed_confirm``
    (the data panel's typed confirmations), ``answers`` (the
    decision tree's form), ``answer`` (a yes/no question in it)."""
    show: bool = True
    mutating: bool = False
    priority: bool = False


DEFAULTS: tuple[KeySpec, ...] = (
    KeySpec("quit", "q", "quit", "Quit", "app", priority=False),
    KeySpec("help", "question_mark", "help", "Help", "app"),
    KeySpec("palette", "ctrl+p", "command_palette", "Commands", "app", show=False),
    KeySpec("back", "escape", "back", "Back", "app"),
    KeySpec("dashboard", "1", "goto('dashboard')", "Dashboard", "app", show=False),
    KeySpec("history", "h", "goto('history')", "History", "app"),
    KeySpec("rollback_screen", "r", "goto('rollback')", "Rollback", "app"),
    KeySpec("checklist", "c", "goto('checklist')", "Checklist", "app"),
    KeySpec("comms", "t", "goto('comms')", "Comms", "app"),
    KeySpec("data", "D", "goto('data')", "Data", "app"),
    KeySpec("fleet_screen", "f", "goto('fleet')", "Fleet rollback", "app", show=False),
    KeySpec("filter", "slash", "filter", "Filter", "dashboard"),
    KeySpec("pick", "enter", "pick", "Select", "dashboard", show=False),
    KeySpec("select", "space", "toggle_select", "Mark", "dashboard", show=False, mutating=True),
    KeySpec("fleet_rollback", "r", "fleet_rollback", "Rollback", "dashboard", mutating=True),
    KeySpec("arm", "a", "toggle_arm", "Arm auto", "dashboard", mutating=True),
    KeySpec("answer_tree", "i", "answer_tree", "Tree", "dashboard", mutating=True),
    KeySpec("abort", "x", "abort_auto", "Abort auto", "app", mutating=True),
    KeySpec("choose", "enter", "choose", "Roll back to…", "history", mutating=True),
    KeySpec("diff", "d", "toggle_diff", "Diff", "history"),
    KeySpec("confirm_yes", "y", "confirm", "Yes, roll back", "confirm", mutating=True),
    KeySpec("confirm_no", "n,escape", "cancel", "No", "confirm"),
    KeySpec("cancel_run", "ctrl+x", "cancel_run", "Cancel run", "rollback", mutating=True),
    KeySpec("tick", "space", "tick", "Tick", "checklist", mutating=True),
    KeySpec("note", "e", "note", "Tick + note", "checklist", mutating=True),
    KeySpec("extend", "m", "extend", "30-min monitor", "checklist", mutating=True),
    KeySpec("resolve", "R", "resolve", "Resolve", "checklist", mutating=True),
    KeySpec("comms_send", "s", "send", "Send now", "comms", mutating=True),
    KeySpec("comms_edit", "e", "edit", "Edit + send", "comms", mutating=True),
    KeySpec("comms_skip", "k", "skip", "Skip", "comms", mutating=True),
    KeySpec("report", "w", "report", "Write report", "comms", mutating=True),
    KeySpec("edit_send", "ctrl+t", "send", "Send", "edit", mutating=True),
    KeySpec("edit_cancel", "escape", "cancel", "Cancel", "edit"),
    KeySpec("data_pattern", "slash", "pattern", "Pattern", "data"),
    KeySpec("invalidate", "i", "invalidate", "Invalidate…", "data", mutating=True),
    KeySpec("cancel_invalidate", "ctrl+x", "cancel_invalidate", "Cancel", "data", mutating=True),
    KeySpec("tx_cancel", "k", "cancel_tx", "Cancel query…", "data", mutating=True),
    KeySpec("tx_terminate", "T", "terminate_tx", "Terminate…", "data", mutating=True),
    KeySpec("backup_now", "b", "backup", "Backup now", "data", mutating=True),
    KeySpec("restore", "R", "restore", "Restore…", "data", mutating=True),
    KeySpec("redis_flush", "F", "flush", "Flush Redis…", "data", mutating=True),
    KeySpec("typed_cancel", "escape", "cancel", "Cancel", "typed_confirm"),
    KeySpec("invalidate_yes", "y", "confirm", "Yes, delete", "invalidate", mutating=True),
    KeySpec("invalidate_no", "n,escape", "cancel", "No", "invalidate"),
    KeySpec("answers_save", "enter", "save_answers", "Save", "answers", mutating=True),
    KeySpec("answers_cancel", "escape", "cancel", "Cancel", "answers"),
    KeySpec("answers_next", "down", "app.focus_next", "Next field", "answers", show=False),
    KeySpec("answers_previous", "up", "app.focus_previous", "Previous field", "answers", show=False),
    KeySpec("answer_yes", "y", "answer_yes", "Yes", "answer"),
    KeySpec("answer_no", "n", "answer_no", "No", "answer"),
    KeySpec("answer_unknown", "backspace,delete", "answer_unknown", "Not known", "answer"),
    KeySpec("answer_cycle", "space,left,right", "answer_cycle", "Change", "answer", show=False),
)

# Keys that need modifiers terminals do not send reliably over SSH.
_UNSENDABLE = re.compile(r"(ctrl\+(enter|return|shift|alt|tab|space|[0-9])|shift\+(enter|space)|super\+|meta\+|hyper\+)")


def sendable(key: str) -> bool:
    return not _UNSENDABLE.search(key.lower())


def apply_overrides(specs: tuple[KeySpec, ...], overrides: Mapping[str, str] | None,
                    source: str = "config keys") -> tuple[KeySpec, ...]:
    """``specs`` with keys rebound by id. Raises ConfigError naming the id and what is wrong."""
    if not overrides:
        return specs
    known = {s.id for s in specs}
    for ident, key in overrides.items():
        if ident not in known:
            raise ConfigError(f"{source}.{ident}: unknown key binding id; expected one of {', '.join(sorted(known))}")
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(f"{source}.{ident}: expected a key name such as 'h' or 'ctrl+r', got {key!r}")
        for k in key.split(","):
            if not sendable(k.strip()):
                raise ConfigError(f"{source}.{ident}: {k.strip()!r} is not sent by terminals over SSH; choose another key")
    return tuple(replace(s, key=overrides[s.id].replace(" ", "")) if s.id in overrides else s for s in specs)


def for_scope(specs: tuple[KeySpec, ...], scope: str, *, readonly: bool = False) -> list[KeySpec]:
    """The bindings of ``scope``, without mutating ones in readonly."""
    return [s for s in specs if s.scope == scope and not (readonly and s.mutating)]


def display_key(key: str) -> str:
    names = {"question_mark": "?", "slash": "/", "escape": "esc", "space": "space", "enter": "enter"}
    return "/".join(names.get(k, k) for k in key.split(","))
