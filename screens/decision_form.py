"""The decision tree's small form (runbook 000), keyboard only.

    Data loss?                  yes   no   not known
    Security breach?            yes   no   not known
    Share of users affected %   [30          ]
    User reports (last 5m)      [            ]
    tree: STANDARD ROLLBACK (30% of users affected > 10%)

``y``/``n`` answer a yes/no question (``backspace``: not known; ``space``/arrows change it),
digits fill a number, ``tab``/``shift+tab`` and ``↑``/``↓`` move between the fields, ``enter``
saves, ``esc`` cancels. The current answers (the journal's fold) are prefilled; the line under
the fields previews the recommendation as the answers change. Saving dismisses with every
answer (``{key: value}``: bool, a fraction 0..1, an int, None for not known); the dashboard
posts :class:`AnswersGiven` and the app's answers controller journals what changed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, Static

from cockpit.matrix import OperatorInputs, pct
from screens import render_tree
from screens.keys import bindings


@dataclass
class AnswersGiven(Message):
    """The operator saved the decision tree's form (every answer; the controller journals the changed ones)."""

    answers: dict[str, Any]


class YesNo(Widget, can_focus=True):
    """One yes/no question: ``y``, ``n``, ``backspace`` (not known); ``space``/arrows cycle."""

    BINDINGS = bindings("answer")
    DEFAULT_CSS = """
    YesNo { height: 1; width: auto; }
    YesNo:focus { background: $primary 40%; }
    """
    CHOICES: tuple[bool | None, ...] = (True, False, None)

    value: reactive[bool | None] = reactive(None)

    def __init__(self, value: bool | None, *, id: str) -> None:
        super().__init__(id=id)
        self.set_reactive(YesNo.value, value)

    def render(self) -> Content:
        parts: list[tuple[str, str]] = []
        for choice in self.CHOICES:
            label = render_tree.yes_no(choice)
            parts.append((f" {label} ", "reverse bold" if self.value is choice else "$text-muted"))
            parts.append(("  ", ""))
        return Content.assemble(*parts)

    def action_answer_yes(self) -> None:
        self.value = True

    def action_answer_no(self) -> None:
        self.value = False

    def action_answer_unknown(self) -> None:
        self.value = None

    def action_answer_cycle(self) -> None:
        self.value = self.CHOICES[(self.CHOICES.index(self.value) + 1) % len(self.CHOICES)]

    def watch_value(self, value: bool | None) -> None:
        if isinstance(self.screen, DecisionForm):
            self.screen.changed()


SHARE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*%?\s*")


def parse_share(text: str) -> float | None:
    """The percent field: ``30`` or ``30%`` → 0.30; empty → None (not known). ValueError otherwise."""
    if not text.strip():
        return None
    m = SHARE.fullmatch(text)
    if m is None:
        raise ValueError(f"share of users affected: expected a percentage 0–100, got {text.strip()[:20]!r}")
    value = float(m.group(1))
    if not 0.0 <= value <= 100.0:
        raise ValueError(f"share of users affected: expected a percentage 0–100, got {value:g}")
    return value / 100.0


def parse_count(text: str) -> int | None:
    """The user reports field: a whole number ≥ 0; empty → None (not known)."""
    if not text.strip():
        return None
    if not text.strip().isdigit():
        raise ValueError(f"user reports: expected a whole number, got {text.strip()[:20]!r}")
    return int(text.strip())


class DecisionForm(ModalScreen[Any]):
    """The decision tree's questions, prefilled with ``inputs`` (the journal's answers);
    ``error_rate`` (the live one, or None) and ``cfg`` (the settings' ``decision``) feed the
    preview of the recommendation; ``problems``: journaled answers that did not fit."""

    BINDINGS = bindings("answers")
    DEFAULT_CSS = """
    DecisionForm .dialog.tree { width: 72; }
    DecisionForm .question { height: 1; margin-top: 1; color: $text-muted; }
    DecisionForm .row { height: 1; }
    DecisionForm .label { width: 28; height: 1; }
    DecisionForm Input { height: 1; width: 14; border: none; padding: 0 1; background: $panel; }
    DecisionForm Input:focus { border: none; background: $primary 40%; }
    DecisionForm #tree-preview { height: auto; margin-top: 1; }
    DecisionForm #tree-error { height: auto; color: $error; }
    """

    def __init__(self, inputs: OperatorInputs | None = None, *, error_rate: float | None = None, cfg: Any = None,
                 problems: list[str] | None = None, ascii: bool = False) -> None:
        super().__init__()
        self.inputs = inputs or OperatorInputs()
        self.error_rate, self.cfg, self.ascii = error_rate, render_tree.tree_cfg(cfg), ascii
        self.problems = list(problems or ())

    def compose(self) -> ComposeResult:
        i, t = self.inputs, self.cfg
        reports = t.matrix.user_reports
        with Vertical(id="dialog", classes="dialog tree"):
            dash = "-" if self.ascii else "—"
            yield Static(Content(f"Decision tree {dash} should we roll back, and how fast?").stylize("bold"), classes="title")
            yield Static(Content(f"Is the issue critical? (data loss, security breach, errors > "
                                 f"{pct(t.tree.critical_error_rate_above)})"), classes="question")
            with Horizontal(classes="row"):
                yield Static("Data loss?", classes="label", markup=False)
                yield YesNo(i.data_loss, id="data_loss")
            with Horizontal(classes="row"):
                yield Static("Security breach?", classes="label", markup=False)
                yield YesNo(i.security_breach, id="security_breach")
            yield Static(Content(f"Is it affecting more than {pct(t.tree.users_affected_above)} of users?"),
                         classes="question")
            with Horizontal(classes="row"):
                yield Static("Share of users affected %", classes="label", markup=False)
                yield Input(render_tree.share_text(i.users_affected), placeholder="not known", id="users_affected",
                            restrict=r"[0-9.%]*", max_length=7, compact=True)
            with Horizontal(classes="row"):
                from cockpit.durations import format_duration

                yield Static(f"User reports (last {format_duration(reports.window_s).replace(' 00s', '')})", classes="label", markup=False)
                yield Input("" if i.user_reports is None else str(i.user_reports), placeholder="not known",
                            id="user_reports", restrict=r"[0-9]*", max_length=7, compact=True)
            yield Static(id="tree-preview")
            yield Static(render_tree.problems_line(self.problems), id="tree-error")
            dot = "-" if self.ascii else "·"
            yield Static(Content.assemble(("y", "bold reverse"), ("/", ""), ("n", "bold reverse"), (" yes/no  ", ""),
                                          ("⌫" if not self.ascii else "bksp", "bold reverse"), (" not known  ", ""),
                                          ("tab", "bold reverse"), (f" {dot} ", ""), ("↑↓" if not self.ascii else "up/down", "bold reverse"),
                                          (" next  ", ""), ("enter", "bold reverse"), (" save  ", ""),
                                          ("esc", "bold reverse"), (" cancel", "")), classes="keys")

    def on_mount(self) -> None:
        self.query_one("#data_loss", YesNo).focus()
        self.changed()

    # ---- reading the fields

    def answers(self) -> dict[str, Any]:
        """Every answer as the journal holds it; ValueError naming the field that does not fit."""
        return {
            "data_loss": self.query_one("#data_loss", YesNo).value,
            "security_breach": self.query_one("#security_breach", YesNo).value,
            "users_affected": parse_share(self.query_one("#users_affected", Input).value),
            "user_reports": parse_count(self.query_one("#user_reports", Input).value),
        }

    def changed(self) -> None:
        """A field changed: preview the recommendation, or say what does not fit."""
        from textual.css.query import NoMatches

        try:
            preview = self.query_one("#tree-preview", Static)
            error = self.query_one("#tree-error", Static)
        except NoMatches:
            return  # not composed yet: on_mount previews
        try:
            a = self.answers()
        except ValueError as exc:
            error.update(render_tree.problems_line([str(exc)]))
            return
        error.update(render_tree.problems_line(self.problems))
        inputs = OperatorInputs(a["data_loss"], a["security_breach"], a["users_affected"], a["user_reports"])
        line = render_tree.recommendation_line(render_tree.recommend(inputs, self.error_rate, self.cfg), self.ascii)
        preview.update(line if line is not None else Content("tree: answer the questions above").stylize("$text-muted"))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.changed()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save_answers()

    # ---- actions

    def action_save_answers(self) -> None:
        try:
            answers = self.answers()
        except ValueError as exc:
            self.query_one("#tree-error", Static).update(render_tree.problems_line([str(exc)]))
            return
        self.dismiss(answers)

    def action_cancel(self) -> None:
        self.dismiss(None)
