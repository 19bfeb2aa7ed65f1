"""Questions a screen asks before it acts (a keyboard modal: ``y`` goes on, ``n``/esc goes
back). The screen pushes the question itself and posts its message only when the answer is
yes, so the app's routes stay as they are."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from screens import render


class Question(ModalScreen[bool]):
    """A titled yes/no question over a body of facts; dismissed with True (``y``) or False."""

    BINDINGS = [Binding("y", "yes", "Yes", id="question_yes"),
                Binding("n,escape", "no", "No", id="question_no")]
    quit_question = False
    """Asked before quitting: a second quit (ctrl+c) while it is shown quits."""

    def __init__(self, title: str, body: Content, *, yes: str, no: str = "go back", danger: bool = True) -> None:
        super().__init__()
        self.title_text, self.body, self.yes, self.no, self.danger = title, body, yes, no, danger

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog danger" if self.danger else "dialog"):
            yield Static(render.text(self.title_text, 120, "bold"), classes="title")
            yield Static(self.body, id="question-body")
            yield Static(Content.assemble(("y", "bold reverse"), (f" {self.yes}    ", ""), ("n", "bold reverse"),
                                          (f" / esc  {self.no}", "")), classes="keys")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)


def ask(title: str, body: str, yes: str, no: str, *, quit_question: bool = False) -> Question:
    """A question over plain outside text (each line sanitised on its own, never markup);
    ``quit_question``: a second quit (ctrl+c) while it is shown quits."""
    lines = [render.text(line, 2000) if line else Content(" ") for line in body.split("\n")]
    q = Question(title, Content("\n").join(lines), yes=yes, no=no, danger=False)
    q.quit_question = quit_question
    return q


def resolve_question(open_rows: list, total: int, ascii: bool = False) -> Question:
    """``R`` with checks open: names how many and which; ``y`` resolves anyway."""
    n = len(open_rows)
    return Question(f"Resolve with {n} check{'s' if n != 1 else ''} open?", render.resolve_question(open_rows, total, ascii),
                    yes="resolve anyway", no="go back and verify")
