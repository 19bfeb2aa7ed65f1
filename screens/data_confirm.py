"""The data panel's typed confirmations and its action message.

:class:`TypedConfirm` names the host and database and what will happen, and asks the
operator to type the exact name (the database for a restore, ``host:port/db`` for a Redis
FLUSHDB, the pid for cancelling or terminating a session): enter with anything else says so
on one line and stays; esc cancels. It returns what was typed, which the controller checks
again below the UI (and the backend a third time). :class:`DataActionWanted` carries an
action of :meth:`cockpit.controllers.data_layer.DataLayer.act` from the panel.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from screens.keys import bindings
from screens.render_ops import text


@dataclass
class DataActionWanted(Message):
    """Run ``action`` (``cancel_tx``, ``terminate_tx``, ``backup``, ``restore``, ``flush``)
    with ``params`` (pid, path, confirm)."""

    action: str
    params: dict[str, Any] = field(default_factory=dict)


def confirm_body(what: str, where: list[tuple[str, str]], consequence: str, expected: str) -> Content:
    """``what`` on the database/server named by ``where`` (label, value) pairs; the
    consequence in the error colour; then what to type."""
    parts: list[Any] = [text(what, 300, "bold")]
    for label, value in where:
        parts += [(f"\n{label}: ", ""), text(value, 300, "bold")]
    parts += [("\n\n", ""), text(consequence, 600, "$error"), ("\n\ntype ", ""), text(expected, 300, "bold reverse"),
              (" and press enter to go ahead; esc cancels", "")]
    return Content.assemble(*parts)


class TypedConfirm(ModalScreen[str | None]):
    """A destructive data action's confirmation: the operator types ``expected`` exactly."""

    BINDINGS = bindings("typed_confirm")
    DEFAULT_CSS = "TypedConfirm #typed-error { color: $error; }"

    def __init__(self, title: str, body: Content, expected: str) -> None:
        super().__init__()
        self.title_text, self.body, self.expected = title, body, expected

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog danger"):
            yield Static(Content(self.title_text).stylize("bold"), classes="title")
            yield Static(self.body, id="typed-body")
            yield Input(placeholder=f"type {self.expected}", id="typed")
            yield Static("", id="typed-error", markup=False)

    def on_mount(self) -> None:
        self.query_one("#typed", Input).focus()

    @on(Input.Submitted, "#typed")
    def _submitted(self, event: Input.Submitted) -> None:
        typed = event.value.strip()
        if typed != self.expected:
            shown = typed if len(typed) <= 60 else typed[:60] + "…"
            self.query_one("#typed-error", Static).update(
                Content.assemble(("does not match: you typed ", ""), text(shown or "nothing", 80),
                                 (" — type ", ""), text(self.expected, 300, "bold")))
            return
        self.dismiss(typed)

    def action_cancel(self) -> None:
        self.dismiss(None)
