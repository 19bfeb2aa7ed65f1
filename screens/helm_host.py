"""Helm's messages and their routes, mixed into the app (``class CockpitApp(DrillScoreHost,
FleetHost, HelmHost, App)``) so ``app.py`` stays a router of one line per concern.

- :class:`HelmReleaseWanted` (the history screen shows a target) → ``self.helm.check``;
- :class:`HelmHistoryWanted` (``m`` on the history screen) → ``self.helm.load`` and the
  release's revisions (:class:`screens.helm_history.HelmHistoryScreen`);
- :class:`screens.helm_history.HelmRollbackConfirmed` (``enter`` then ``y`` there) → the
  rollback screen, and ``self.helm.roll_back`` (``helm.rollback`` through the executor, in
  the incident).

The controller (:class:`cockpit.controllers.helm.HelmController`) is ``self.helm``, built by
``compose.wire_controllers``. Its refusals (readonly) are shown, never raised.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.message import Message

from cockpit.model import Target


@dataclass
class HelmReleaseWanted(Message):
    """Does ``target`` belong to a Helm release?"""

    target: Target


@dataclass
class HelmHistoryWanted(Message):
    """Show the revisions of the release ``target`` belongs to."""

    target: Target


class HelmHost:
    def _helm(self, fn: Callable[[Any], Any]) -> Any:
        from cockpit.errors import CockpitError, ReadonlyError

        helm = getattr(self, "helm", None)
        if helm is None:
            return None
        try:
            return fn(helm)
        except ReadonlyError as exc:
            self.notify(exc.message, severity="warning")  # type: ignore[attr-defined]
        except CockpitError as exc:
            self.show_error(exc)  # type: ignore[attr-defined]
        return None

    def on_helm_release_wanted(self, m: HelmReleaseWanted) -> None:
        self._helm(lambda h: h.check(m.target))

    def on_helm_history_wanted(self, m: HelmHistoryWanted) -> None:
        from screens.helm_history import HelmHistoryScreen

        if self._helm(lambda h: h.load(m.target)) is not None:
            self.push_screen(HelmHistoryScreen(self.data, m.target))  # type: ignore[attr-defined]

    def on_helm_rollback_confirmed(self, m: Any) -> None:
        if getattr(self, "helm", None) is None:
            return
        self.goto("rollback")  # type: ignore[attr-defined]
        self._helm(lambda h: h.roll_back(m.target, m.release, m.release_ns, m.revision))
