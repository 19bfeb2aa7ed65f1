"""Modal screens: the one confirm dialog for a rollback, titled errors, help, the resume
prompt, the drill scenario picker and the note input."""
from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from cockpit.keymap import DEFAULTS, display_key
from cockpit.model import Revision, Target
from cockpit.text import sanitize
from screens import render
from screens.keys import bindings


class ConfirmRollback(ModalScreen[bool]):
    """Names the deployment, from → to revision and the images. ``y`` confirms, ``n``/esc not."""

    BINDINGS = bindings("confirm")

    def __init__(self, target: Target, live: Revision | None, chosen: Revision, ascii: bool = False) -> None:
        super().__init__()
        self.target, self.live, self.chosen = target, live, chosen

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog danger"):
            yield Static(Content("Confirm rollback").stylize("bold"), classes="title")
            yield Static(render.confirm_text(self.target, self.live, self.chosen), id="confirm-body")
            yield Static(Content.assemble(("y", "bold reverse"), (" roll back    ", ""), ("n", "bold reverse"), (" / esc  cancel", "")),
                         classes="keys")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class ErrorModal(ModalScreen[None]):
    """A titled error (a CockpitError's title and message); any of enter/esc/space closes."""

    BINDINGS = [Binding("escape,enter,space,q", "close", "Close", id="error_close")]

    def __init__(self, title: str, message: str, hint: str | None = None) -> None:
        super().__init__()
        self.title_text, self.message, self.hint = title, message, hint

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog danger"):
            yield Static(render.text(self.title_text, 120, "$error bold"), classes="title")
            yield Static(render.text(self.message, 2000), id="error-body")
            if self.hint:
                yield Static(render.text("hint: " + self.hint, 500, "$text-muted"))
            yield Static(Content("enter/esc: close").stylize("$text-muted"), classes="keys")

    def action_close(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", id="help_close")]

    def __init__(self, readonly: bool = False, specs: tuple = DEFAULTS) -> None:
        super().__init__()
        self.readonly, self.specs = readonly, specs

    def compose(self) -> ComposeResult:
        lines = [Content("Keys").stylize("bold")]
        scope = None
        for s in self.specs:
            if self.readonly and s.mutating:
                continue
            if s.scope != scope:
                scope = s.scope
                lines.append(Content(f"\n{scope}").stylize("$accent bold"))
            lines.append(Content.assemble((f"  {display_key(s.key):<12}", "bold"), (s.description, ""),
                                          (f"  [{s.id}]", "$text-muted")))
        lines.append(Content("\nRebind in the config file (keys: {id: key}). ctrl+p: command palette.").stylize("$text-muted"))
        if self.readonly:
            lines.append(Content("Readonly: actions that change the world are not available.").stylize("$warning"))
        with Vertical(id="dialog", classes="dialog help"):
            yield Static(Content("\n").join(lines))

    def action_close(self) -> None:
        self.dismiss(None)


class ResumePrompt(ModalScreen[bool]):
    BINDINGS = [Binding("y", "yes", "Resume", id="resume_yes"), Binding("n,escape", "no", "New session", id="resume_no")]

    def __init__(self, description: str, path: str) -> None:
        super().__init__()
        self.description, self.path = description, path

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Content("An incident is still open").stylize("bold"), classes="title")
            yield Static(Content.assemble(render.text(self.description, 400), ("\njournal: ", "$text-muted"),
                                          render.text(self.path, 400, "$text-muted")))
            yield Static(Content.assemble(("y", "bold reverse"), (" resume where it was    ", ""),
                                          ("n", "bold reverse"), (" start without it", "")), classes="keys")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)


class ScenarioPicker(ModalScreen[str]):
    """Choose a drill scenario (``--drill`` without ``--scenario``)."""

    BINDINGS = [Binding("escape,q", "quit_app", "Quit", id="scenario_quit")]

    def __init__(self, scenarios: list[tuple[str, str]]) -> None:
        super().__init__()
        self.scenarios = scenarios

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Content("Drill: pick a scenario (enter)").stylize("bold"), classes="title")
            yield OptionList(*[Option(Content.assemble((sanitize(n, max_len=60), "bold"), ("  " + sanitize(d, max_len=200), "$text-muted")), id=n)
                               for n, d in self.scenarios], id="scenarios")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_quit_app(self) -> None:
        self.app.exit(0)


class NoteInput(ModalScreen[Any]):
    """An optional note for a manual tick (enter: tick with the note; esc: cancel)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="note_cancel")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(render.text(f"Note for: {self.title_text}", 200, "bold"), classes="title")
            yield Input(placeholder="what did you check? (enter to tick)", id="note")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(sanitize(event.value, max_len=500))

    def action_cancel(self) -> None:
        self.dismiss(None)


class EditMessage(ModalScreen[Any]):
    """Edit a notification before it is sent: a TextArea prefilled from the template
    (first line the title, the rest the body). ``ctrl+t`` sends the text, esc cancels."""

    BINDINGS = bindings("edit")

    def __init__(self, label: str, text: str) -> None:
        super().__init__()
        self.label, self.text = label, text

    def compose(self) -> ComposeResult:
        from textual.widgets import Button, TextArea

        with Vertical(id="dialog", classes="dialog edit"):
            yield Static(render.text(f"Edit before sending: {self.label}", 200, "bold"), classes="title")
            yield TextArea(sanitize(self.text, max_len=20000, keep_newlines=True), id="message", soft_wrap=True)
            yield Button("Send", id="send", variant="warning")
            yield Static(Content.assemble(("ctrl+t", "bold reverse"), (" send (or tab, enter)    ", ""),
                                          ("esc", "bold reverse"), (" cancel", "")), classes="keys")

    def on_mount(self) -> None:
        self.query_one("#message").focus()

    def on_button_pressed(self, event: Any) -> None:
        self.action_send()

    def action_send(self) -> None:
        from textual.widgets import TextArea

        self.dismiss(self.query_one("#message", TextArea).text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class InfoModal(ModalScreen[None]):
    """A titled piece of information (the report's path); enter/esc/space closes."""

    BINDINGS = [Binding("escape,enter,space,q", "close", "Close", id="info_close")]

    def __init__(self, title: str, body: Content) -> None:
        super().__init__()
        self.title_text, self.body = title, body

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(render.text(self.title_text, 120, "$success bold"), classes="title")
            yield Static(self.body, id="info-body")
            yield Static(Content("enter/esc: close").stylize("$text-muted"), classes="keys")

    def action_close(self) -> None:
        self.dismiss(None)


class ReportWritten(InfoModal):
    """Where the incident report and the dashboard's screenshot were written."""

    def __init__(self, report: str, screenshot: str) -> None:
        super().__init__("Incident report written", Content.assemble(
            render.text(report, 1000, "bold"), ("\n\nscreenshot: ", "$text-muted"),
            render.text(screenshot, 1000, "$text-muted")))


class ReportPrompt(ModalScreen[bool]):
    """Offered when the incident is resolved: write the incident report now?"""

    BINDINGS = [Binding("y", "yes", "Write the report", id="report_yes"), Binding("n,escape", "no", "Later", id="report_no")]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Content("Incident resolved").stylize("$success bold"), classes="title")
            yield Static(Content("Write the incident report now? It is folded from the journal (timeline, MTTR, "
                                 "actions, checks, notifications) and written next to it, with an SVG screenshot "
                                 "of the dashboard."))
            yield Static(Content.assemble(("y", "bold reverse"), (" write it    ", ""), ("n", "bold reverse"),
                                          (" later (t, then w)", "")), classes="keys")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)


class ConfirmInvalidate(ModalScreen[bool]):
    """The one confirmation of a Redis pattern invalidation: names host, database, pattern
    and the dry run's count. ``y`` confirms, ``n``/esc not."""

    BINDINGS = bindings("invalidate")

    def __init__(self, server: str, db: Any, pattern: str, matched: int | None) -> None:
        super().__init__()
        self.server, self.db, self.pattern, self.matched = server, db, pattern, matched

    def compose(self) -> ComposeResult:
        from screens.render_ops import invalidate_confirm_text

        with Vertical(id="dialog", classes="dialog danger"):
            yield Static(Content("Confirm Redis invalidation").stylize("bold"), classes="title")
            yield Static(invalidate_confirm_text(self.server, self.db, self.pattern, self.matched), id="invalidate-body")
            yield Static(Content.assemble(("y", "bold reverse"), (" delete them    ", ""), ("n", "bold reverse"),
                                          (" / esc  cancel", "")), classes="keys")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
