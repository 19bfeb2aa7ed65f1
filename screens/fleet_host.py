"""The fleet's messages and their routes, mixed into the app (``class CockpitApp(DrillScoreHost,
FleetHost, App)``) so ``app.py`` stays a router of one line per concern.

- :class:`TargetToggled` (``space`` on the dashboard's list) → ``self.fleet.toggle``;
- :class:`FleetWanted` (the rollback key with targets selected) → ``self.fleet.want``;
- :meth:`ask_fleet` / :meth:`show_fleet` are the controller's ``ask`` and ``show``;
- after each burst of the incident's journal (the app's own ``on_incident_arrived`` drains it
  first: Textual calls the handlers of every class in the MRO) the fleet folds it;
- on mount the verdict poll is started (it reads only once a cluster and targets are there);
  on unmount its sources are closed.

The controller (:class:`cockpit.controllers.fleet.FleetController`) is ``self.fleet``, built by
``compose.wire_controllers``. Its refusals (readonly, nothing selected) are shown, never raised.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class TargetToggled(Message):
    """Select or deselect the target ``namespace/name``."""

    key: str


@dataclass
class FleetWanted(Message):
    """Roll back the selected targets (plan, then ask)."""


class FleetHost:
    def _fleet(self, fn: Callable[[Any], Any]) -> None:
        from cockpit.errors import CockpitError, ReadonlyError

        fleet = getattr(self, "fleet", None)
        if fleet is None:
            return
        try:
            fn(fleet)
        except ReadonlyError as exc:
            self.notify(exc.message, severity="warning")  # type: ignore[attr-defined]
        except CockpitError as exc:
            self.show_error(exc)  # type: ignore[attr-defined]

    def on_mount(self) -> None:
        self._fleet(lambda f: f.start())

    def on_unmount(self) -> None:
        self._fleet(lambda f: f.close())

    def on_target_toggled(self, m: TargetToggled) -> None:
        self._fleet(lambda f: f.toggle(m.key))

    def on_fleet_wanted(self, m: FleetWanted) -> None:
        self._fleet(lambda f: f.want())

    def on_incident_arrived(self, m: Any) -> None:
        self._fleet(lambda f: f.folded())

    def ask_fleet(self, plan: Any, changed: bool, then: Callable[[bool], Any]) -> None:
        """Show the plan in the one fleet confirmation; ``then(yes)`` on its answer."""
        from screens.fleet import FleetConfirm

        data = getattr(self, "data", None)
        self.push_screen(FleetConfirm(plan, changed=changed, ascii=bool(getattr(data, "ascii", False))),  # type: ignore[attr-defined]
                         lambda yes: self._fleet(lambda f: then(bool(yes))))

    def show_fleet(self) -> None:
        """The fleet screen (its progress)."""
        self.goto("fleet")  # type: ignore[attr-defined]
