"""Which open incident to follow (``cockpit --readonly`` with several open, drills included)."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from cockpit.text import sanitize


class IncidentPicker(ModalScreen[str]):
    """Enter follows the highlighted incident; esc shows the cluster without one."""

    BINDINGS = [Binding("escape", "none", "Cluster only", id="incident_pick_none")]

    def __init__(self, incidents: list[tuple[str, str]]) -> None:
        """``incidents``: ``(journal path, one-line description)``, newest last."""
        super().__init__()
        self.incidents = incidents

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Content(f"{len(self.incidents)} open incidents: follow which? (enter; esc: none)").stylize("bold"),
                         classes="title")
            yield OptionList(*[Option(Content.assemble((sanitize(d, max_len=160), "bold"),
                                                       ("\n  " + sanitize(p, max_len=300), "$text-muted")), id=p)
                               for p, d in reversed(self.incidents)], id="incidents")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_none(self) -> None:
        self.dismiss(None)
