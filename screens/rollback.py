"""Rollback: the runbook's steps, replica progress, elapsed against budget, a traffic shift's
split as it moves with each version's error rate beside it (folded from the journal's
``traffic.weights`` intents/outcomes: :mod:`cockpit.traffic_view`, drawn by
:mod:`screens.render_traffic`), the streaming log (plain ``Text`` lines from the journal, never
markup) and failures with the next action."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import RichLog

from cockpit.text import sanitize
from cockpit.traffic_view import shift_view
from screens import render, render_traffic
from screens.base import CockpitScreen
from screens.keys import bindings
from screens.messages import CancelRun
from screens.widgets import Line


class RollbackScreen(CockpitScreen):
    BINDINGS = bindings("rollback")
    parts = ("steps", "progress", "snapshot", "log")

    def compose(self) -> ComposeResult:
        yield from self.compose_bar()
        with Vertical(id="run"):
            yield Line(id="steps", markup=False)
            yield Line(id="progress", markup=False)
            yield Line(id="traffic", markup=False)
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
        elif self.is_current and self.data.rollback_asked_at is not None:
            self.show_progress()

    def show_steps(self) -> None:
        st = self.data.state
        self.query_one("#steps", Line).set(render.step_lines(st, datetime.fromtimestamp(self.data.now, timezone.utc) if self.data.now else datetime.now(timezone.utc), self.data.ascii))
        self.query_one("#failure", Line).set(render.failure_text(st))
        self.show_traffic()
        self.show_progress()
        self.show("bar")

    def show_progress(self) -> None:
        """The rollout's progress — "starting…" while what was read may predate this rollback
        (no stale "4/4 complete" of the rollout before it)."""
        d = self.data
        starting = render.rollback_starting(d.state, d.snapshot, d.rollback_asked_at, d.now or time.time())
        self.query_one("#progress", Line).set(render.progress_text(d.progress, starting))

    show_snapshot = show_progress

    def show_traffic(self) -> None:
        """The split of the incident's newest traffic shift (hidden when there is none)."""
        view = shift_view(self.data.state)
        line = self.query_one("#traffic", Line)
        line.display = view is not None
        line.set(render_traffic.split_lines(view, self.data.ascii))

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
