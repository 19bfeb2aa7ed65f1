"""The dashboard: targets (each with its verdict; ``space`` marks several, the rollback key
rolls the marked ones back together), live error-rate and p95 plots, the decision matrix and
verdict (with the decision tree's recommendation; ``i`` answers its questions), pods and
events, stale marks and the automatic rollback's countdown."""
from __future__ import annotations

import time

from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from cockpit.model import Target
from screens import render, render_fleet, render_tree
from screens.base import CockpitScreen
from screens.fleet_host import FleetWanted, TargetToggled
from screens.keys import bindings
from screens.messages import AbortAuto, ArmToggled, TargetPicked
from screens.widgets import KeyedTable, Line, MetricPlot

POD_COLUMNS = [("POD", "name", 26), ("RDY", "ready", 3), ("STATUS", "status", 16), ("RST", "restarts", 3), ("IMAGE", "image", 40)]
EVENT_COLUMNS = [("LAST", "last", 8), ("TYPE", "type", 7), ("REASON", "reason", 17), ("OBJECT", "object", 30), ("MESSAGE", "message", 120)]


class DashboardScreen(CockpitScreen):
    BINDINGS = bindings("dashboard")
    parts = ("targets", "snapshot", "metrics", "auto", "tree")

    def compose(self) -> ComposeResult:
        yield from self.compose_bar()
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Input(placeholder="filter…", id="filter")
                yield OptionList(id="targets", markup=False)
            with Vertical(id="right"):
                with Horizontal(id="plots"):
                    t = self.data.thresholds
                    yield MetricPlot("errors %", scale=100.0, unit="%", ascii=self.data.ascii, id="err",
                                     thresholds=[(t["error_rate"], "red", "roll back"), (t["error_ok"], "green", "monitor")])
                    yield MetricPlot("p95 ms", unit="ms", ascii=self.data.ascii, id="p95",
                                     thresholds=[(t["p95_ms"], "red", "roll back"), (t["p95_ok"], "green", "monitor")])
                with Horizontal(id="decide"):
                    yield Line(id="matrix", markup=False)
                    yield Line(id="verdict", markup=False)
                yield Line(id="auto", markup=False)
                yield Line(id="stale", markup=False)
                yield KeyedTable(POD_COLUMNS, id="pods")
                yield KeyedTable(EVENT_COLUMNS, id="events", cursor_type="none")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#filter").display = False
        self.query_one("#targets", OptionList).focus()

    # ---- rendering

    def show_targets(self) -> None:
        """The list: each target with its mark and verdict (``data.fleet``, when the app has a
        fleet); prompts that changed are replaced by id, the list is rebuilt only when the
        targets shown change."""
        ol = self.query_one("#targets", OptionList)
        needle = self.query_one("#filter", Input).value.strip().lower()
        wanted = [f"{d.namespace}/{d.name}" for d in self.data.targets if needle in f"{d.namespace}/{d.name}".lower()]
        fleet = getattr(self.data, "fleet", None)
        verdicts = getattr(fleet, "verdicts", {})
        selected = set(getattr(fleet, "selected", ()))
        prompts = {w: render_fleet.target_prompt(w, verdicts.get(w), w in selected, self.data.ascii) for w in wanted}
        current = [ol.get_option_at_index(i).id for i in range(ol.option_count)]
        shown = getattr(self, "_prompts", {})
        self._prompts = prompts
        if wanted == current:
            for w in wanted:
                if shown.get(w) != prompts[w]:
                    ol.replace_option_prompt(w, prompts[w])
            return
        highlighted = ol.highlighted_option.id if ol.highlighted_option is not None else None
        ol.clear_options()
        ol.add_options([Option(prompts[w], id=w) for w in wanted])
        chosen = highlighted or (str(self.data.target) if self.data.target else None)
        if chosen in wanted:
            ol.highlighted = wanted.index(chosen)
        elif wanted:
            ol.highlighted = 0

    def show_snapshot(self) -> None:
        snap = self.data.snapshot
        if snap is None or snap.target != self.data.target:
            return
        self.query_one("#pods", KeyedTable).sync([(p.name, render.pod_cells(p, self.data.ascii)) for p in snap.pods])
        self.query_one("#events", KeyedTable).sync([(render.event_key(e), render.event_cells(e)) for e in snap.events])
        self.show("bar")

    def show_metrics(self) -> None:
        now = self.data.now or time.time()
        d = self.data.decision
        er = getattr(getattr(d, "sample", None), "error_rate", None)
        p95 = getattr(getattr(d, "sample", None), "p95_ms", None)
        what, _, how = self.data.metrics_note.partition("; ")  # with no data: what is wrong | what to do
        self.query_one("#err", MetricPlot).show(self.data.error_rate.points, now, f"errors % (now {render.fmt_pct(er)})",
                                                note=what)
        self.query_one("#p95", MetricPlot).show(self.data.p95.points, now, f"p95 ms (now {render.fmt_ms(p95)})",
                                                note=how or what)
        self.query_one("#matrix", Line).set(render.matrix(d, self.data.decision_config, self.data.ascii))
        self.show_tree()
        self.query_one("#stale", Line).set(render.stale_line(self.data.stale, self.data.errors))
        self.show("bar")

    def answers(self) -> tuple:
        """The journal's answers for the target on screen, and those that did not fit."""
        from cockpit.controllers.answers import answers_for

        return answers_for(self.data.state, self.data.target)

    def show_tree(self) -> None:
        """The verdict pane: the decision tree's recommendation (the journaled answers and the
        live error rate), then the verdict and its reasons."""
        d = self.data.decision
        inputs, _problems = self.answers()
        verdict = render.verdict(d, self.data.metrics_note)
        if self.data.observer_of and d is not None:  # an observer: whose reading this is
            whose = (f"the operator's, from the journal ({render.clock(d.at)}); no live reading here"
                     if getattr(d, "source", "") == "journal" else "this observer's own live reading")
            verdict = Content("\n").join([verdict, Content(f"  ({whose})").stylize("$text-muted")])
        self.query_one("#verdict", Line).set(render_tree.verdict_pane(
            verdict, inputs, d, self.data.decision_config, self.data.ascii))

    def show_auto(self) -> None:
        self.query_one("#auto", Line).set(render.auto_line(self.data.auto_armed, self.data.auto_remaining,
                                                           self.data.auto_reason, self.data.readonly, self.data.ascii))

    # ---- input

    @on(OptionList.OptionSelected, "#targets")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        ns, _, name = (event.option.id or "").partition("/")
        self.post_message(TargetPicked(Target(name, ns)))

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.show_targets()

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        ol = self.query_one("#targets", OptionList)
        ol.focus()
        if ol.option_count:
            ol.highlighted = 0
            ol.action_select()

    def action_filter(self) -> None:
        f = self.query_one("#filter", Input)
        f.display = True
        f.focus()

    def action_pick(self) -> None:
        self.query_one("#targets", OptionList).action_select()

    def action_toggle_select(self) -> None:
        """``space``: mark or unmark the highlighted target (the app's fleet keeps the marks)."""
        option = self.query_one("#targets", OptionList).highlighted_option
        if option is not None and option.id:
            self.post_message(TargetToggled(option.id))

    def action_fleet_rollback(self) -> None:
        """The rollback key with targets marked: roll them back together (plan, confirm, run);
        with none marked the key does what it does elsewhere (the rollback screen)."""
        if not getattr(getattr(self.data, "fleet", None), "selected", None):
            raise SkipAction()
        self.post_message(FleetWanted())

    def action_toggle_arm(self) -> None:
        self.post_message(ArmToggled())

    def action_abort_auto(self) -> None:
        self.post_message(AbortAuto())

    def action_answer_tree(self) -> None:
        """The decision tree's form, prefilled with the journaled answers; saved answers go to
        the app (:class:`screens.decision_form.AnswersGiven`), which journals what changed."""
        from cockpit.text import sanitize
        from screens.decision_form import AnswersGiven, DecisionForm

        if self.data.target is None:
            self.app.notify("pick a target first (enter on the list)", severity="warning")
            return
        theirs = self.data.state.target
        if theirs and theirs != str(self.data.target):
            self.app.notify(f"the open incident is on {sanitize(theirs, max_len=120)}: pick it to answer its questions",
                            severity="warning")
            return
        inputs, problems = self.answers()
        er = getattr(getattr(self.data.decision, "sample", None), "error_rate", None)

        def saved(answers: dict | None) -> None:
            if answers is not None:
                self.post_message(AnswersGiven(answers))

        self.app.push_screen(DecisionForm(inputs, error_rate=er, cfg=self.data.decision_config, problems=problems,
                                          ascii=self.data.ascii), saved)

    def back(self) -> bool:
        """esc: close the filter first; False when there was nothing to close."""
        f = self.query_one("#filter", Input)
        if f.display:
            f.value = ""
            f.display = False
            self.query_one("#targets").focus()
            return True
        return False
