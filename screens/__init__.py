"""Textual screens and widgets. They render state and post messages; they do no I/O."""
from __future__ import annotations

# name → (module, class). Only the dashboard is imported before the first frame; the other
# screens (and what they pull in: RichLog → rich.pretty, the checklist, the modals) are
# imported and installed the first time they are shown.
SCREENS = {"dashboard": ("screens.dashboard", "DashboardScreen"), "history": ("screens.history", "HistoryScreen"),
           "rollback": ("screens.rollback", "RollbackScreen"), "checklist": ("screens.checklist", "ChecklistScreen"),
           "comms": ("screens.comms", "CommsScreen"), "data": ("screens.data_layer", "DataScreen"),
           "fleet": ("screens.fleet", "FleetScreen")}


def screen_class(name: str) -> type:
    """The screen class ``name`` (its module imported now)."""
    import importlib

    module, cls = SCREENS[name]
    return getattr(importlib.import_module(module), cls)


def command_provider() -> type:
    """The command palette's provider (imported when the palette first opens)."""
    from screens.commands import CockpitCommands

    return CockpitCommands
