"""The fleet rollback: its confirmation (each target from → to revision and images, skipped
ones with why) and its screen (the plan and each target's progress, from the journal's fold).

Both render from data only (:mod:`screens.render_fleet`); the fleet's logic is
:class:`cockpit.controllers.fleet.FleetController`, which fills ``data.fleet``."""
from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from screens import render_fleet
from screens.base import CockpitScreen
from screens.keys import bindings
from screens.widgets import Line


class FleetConfirm(ModalScreen[bool]):
    """The one confirmation of a fleet rollback. ``y`` confirms, ``n``/esc not."""

    BINDINGS = bindings("confirm")
    DEFAULT_CSS = """
    FleetConfirm #fleet-plan { height: auto; max-height: 50vh; }
    """

    def __init__(self, plan: Any, *, changed: bool = False, ascii: bool = False) -> None:
        super().__init__()
        self.plan, self.changed, self.ascii = plan, changed, ascii

    def compose(self) -> ComposeResult:
        n = len(self.plan.rollbacks)
        with Vertical(id="dialog", classes="dialog danger"):
            yield Static(Content("Confirm fleet rollback").stylize("bold"), classes="title")
            with VerticalScroll(id="fleet-plan"):
                yield Static(render_fleet.confirm_body(self.plan, self.changed, self.ascii), id="fleet-confirm-body")
            yield Static(self.keys(n, scrolls=False), classes="keys", id="fleet-keys")

    @staticmethod
    def keys(n: int, scrolls: bool) -> Content:
        return Content.assemble(("y", "bold reverse"), (f" roll back {n}    ", ""), ("n", "bold reverse"),
                                (" / esc  cancel", ""), ("    up/down: the rest of the plan" if scrolls else "", "$text-muted"))

    def on_mount(self) -> None:
        self.call_after_refresh(self._scrolls)

    def _scrolls(self) -> None:
        """A plan longer than the dialog scrolls: say so next to the keys."""
        if self.query_one("#fleet-plan", VerticalScroll).max_scroll_y > 0:
            self.query_one("#fleet-keys", Static).update(self.keys(len(self.plan.rollbacks), scrolls=True))

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class FleetScreen(CockpitScreen):
    """The plan and each target's progress (``data.fleet``; the fold of the incident's journal)."""

    BINDINGS = bindings("fleet")
    parts = ("fleet",)
    DEFAULT_CSS = """
    FleetScreen #fleet-head { height: auto; padding: 0 1; }
    FleetScreen #fleet-scroll { height: 1fr; padding: 0 1; }
    FleetScreen #fleet-summary { height: auto; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield from self.compose_bar()
        yield Line(id="fleet-head", markup=False)
        with VerticalScroll(id="fleet-scroll"):
            yield Line(id="fleet-rows", markup=False)
        yield Line(id="fleet-summary", markup=False)
        yield from self.compose_footer()

    def show_fleet(self) -> None:
        view = getattr(self.data, "fleet", None)
        plan = view.shown_plan() if view is not None else None
        state = getattr(view, "state", None)
        busy = getattr(view, "busy", "")
        self.query_one("#fleet-head", Line).set(render_fleet.head(plan, busy))
        self.query_one("#fleet-rows", Line).set(render_fleet.plan_rows(plan, state, getattr(view, "lines", {}),
                                                                     self.data.ascii))
        self.query_one("#fleet-summary", Line).set(render_fleet.summary(plan, state, busy))
        self.show("bar")
