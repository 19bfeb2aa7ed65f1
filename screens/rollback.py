"""Rollback: the runbook's steps, replica progress, elapsed against budget, the streaming log
(plain ``Text`` lines from the journal, never markup) and failures with the next action."""
from __future__ import annotations

from datetime import datetime, timezone

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import RichLog

from cockpit.text import sanitize
from screens import render
from screens.base import CockpitScreen
from screens.keys import bindings
from screens.messages import CancelRun
from screens.widgets import Line


class RollbackScreen(CockpitScreen):
    BINDINGS = bindings("rollback")
    parts = ("steps", "progress", "log")

    def compose(self) -> ComposeResult:
        yield from self.compose_bar()
        with Vertical(id="run"):
            yield Line(id="steps", markup=False)
            yield Line(id="progress", markup=False)
            yield Line(id="failure", markup=False)
            yield RichLog(id="log", markup=False, highlight=False, wrap=True, max_lines=2000, auto_scroll=True)
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self._shown = 0
        self.set_interval(1.0, self._tick_clock)

    def _tick_clock(self) -> None:
        # the elapsed clock of a running step moves every second (only while visible)
        if self.is_current and any(s.status == "running" for s in self.data.state.steps.values()):
            self.show_steps()

    def show_steps(self) -> None:
        st = self.data.state
        self.query_one("#steps", Line).set(render.step_lines(st, datetime.fromtimestamp(self.data.now, timezone.utc) if self.data.now else datetime.now(timezone.utc), self.data.ascii))
        self.query_one("#failure", Line).set(render.failure_text(st))
        self.show("bar")

    def show_progress(self) -> None:
        self.query_one("#progress", Line).set(render.progress_text(self.data.progress))

    def show_log(self) -> None:
        """Append the journal's log lines not shown yet (the state keeps a bounded tail)."""
        st = self.data.state
        log = self.query_one("#log", RichLog)
        total = st.log_count
        if total < self._shown:  # another journal (resume / observer switched): start over
            log.clear()
            self._shown = 0
        new = total - self._shown
        if new <= 0:
            return
        tail = list(st.log)[-min(new, len(st.log)):]
        if new > len(tail):
            log.write(Text(f"… {new - len(tail)} earlier lines are in the journal"))
        for line in tail:
            prefix = f"{render.clock(line.at)} "
            log.write(Text(prefix + sanitize(line.line, max_len=2000)))
        self._shown = total

    def action_cancel_run(self) -> None:
        self.post_message(CancelRun())
