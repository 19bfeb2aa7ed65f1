"""The cockpit's commands in Textual's command palette (ctrl+p): history, rollback, checklist,
arm/disarm automatic rollback, theme switch. Mutating commands are not offered in readonly.

Pure routing: each command calls an app action (the same ones the keys call), so the palette
can do nothing the keys cannot."""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

THEMES = ("dark", "light", "high-contrast", "mono")


def cockpit_commands(app: object, readonly: bool) -> list[tuple[str, str, Callable[[], object]]]:
    """``(name, help, callback)`` for the palette; plain strings, never markup."""
    run = getattr(app, "run_action")
    out: list[tuple[str, str, Callable[[], object]]] = [
        ("Cockpit: history", "revisions of the target, diff, roll back to one", partial(run, "goto('history')")),
        ("Cockpit: rollback", "the running rollback: steps, log, progress", partial(run, "goto('rollback')")),
        ("Cockpit: checklist", "verification checklist and phase budgets", partial(run, "goto('checklist')")),
        ("Cockpit: dashboard", "targets, metrics, verdict, pods", partial(run, "goto('dashboard')")),
    ]
    if not readonly:
        out.append(("Cockpit: arm/disarm automatic rollback", "toggle the automatic rollback", partial(run, "toggle_arm")))
        out.append(("Cockpit: abort automatic rollback", "stop a running countdown", partial(run, "abort_auto")))
    for name in THEMES:
        out.append((f"Cockpit: theme {name}", f"switch to the {name} theme", partial(run, f"set_cockpit_theme('{name}')")))
    return out


class CockpitCommands(Provider):
    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        data = getattr(self.app, "data", None)
        return cockpit_commands(self.app, bool(getattr(data, "readonly", False)))

    async def discover(self) -> Hits:
        for name, help, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help)
