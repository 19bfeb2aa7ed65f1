"""The base of the cockpit's screens: a status bar, the footer, and render-from-data."""
from __future__ import annotations

import time
from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from screens import render
from screens.data import UIData
from screens.keys import MUTATING_ACTIONS
from screens.widgets import Line


class CockpitScreen(Screen):
    """Screens render from :class:`UIData` (``self.data``); the app calls :meth:`show` with
    the part that changed, only on the active screen; a resumed screen renders everything."""

    parts: tuple[str, ...] = ()

    def __init__(self, data: UIData, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data = data

    def compose_bar(self) -> ComposeResult:
        yield Line(id="bar", markup=False)

    def compose_footer(self) -> ComposeResult:
        yield Footer(show_command_palette=False)

    def on_screen_resume(self) -> None:
        self.show_all()

    def show_all(self) -> None:
        for part in self.parts + ("bar",):
            self.show(part)

    def show(self, part: str) -> None:
        from textual.css.query import NoMatches

        try:
            if part == "bar":
                self.query_one("#bar", Line).set(render.header(self.data, time.time()))
                return
            fn = getattr(self, f"show_{part}", None)
            if fn is not None and self.is_mounted:
                fn()
        except NoMatches:
            pass  # not composed yet: on_screen_resume renders everything

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.data.readonly and action in MUTATING_ACTIONS:
            return False  # absent in readonly (and refused by the backend regardless)
        return True
