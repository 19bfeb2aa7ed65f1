"""A yes/no question that names what is at stake (y: yes, n or esc: no)."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from screens import render


class YesNo(ModalScreen[bool]):
    BINDINGS = [Binding("y", "yes", "Yes", id="question_yes"), Binding("n,escape", "no", "No", id="question_no")]

    def __init__(self, title: str, body: str, yes: str, no: str) -> None:
        super().__init__()
        self.title_text, self.body, self.yes, self.no = title, body, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Content(self.title_text).stylize("bold"), classes="title")
            for line in self.body.split("\n"):  # each line sanitised on its own (controls never pass)
                yield Static(render.text(line, 2000) if line else " ")
            yield Static(Content.assemble(("y", "bold reverse"), (f" {self.yes}    ", ""),
                                          ("n", "bold reverse"), (f" {self.no}", "")), classes="keys")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)
