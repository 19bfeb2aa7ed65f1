"""The drill's score card (a modal shown when a drill's incident is resolved), and the app's
two hooks for it (:class:`DrillScoreHost`: count the keys, show the card).

:func:`card_text` is the pure render (a :class:`cockpit.drill_score.ScoreCard` → ``Content``),
tested without a terminal; outside text (scenario, target, images) goes through
:func:`screens.render.text`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from cockpit.durations import format_duration
from screens.render import clock, g, text

STATUS_WORDS = {"on_time": "on time", "late": "LATE", "skipped": "skipped", "missed": "MISSED"}


def _pts(points: int | None, most: int) -> Content:
    if points is None:
        return Content("  —  ").stylize("$text-muted")
    style = "$success bold" if points == most else ("$warning bold" if points else "$error bold")
    return Content(f"{points:>2}/{most:<2}").stylize(style)


def _mark(ok: bool | None, ascii: bool) -> Content:
    gl = g(ascii)
    if ok is None:
        return Content(" ")
    return Content(gl["ok"]).stylize("$success bold") if ok else Content(gl["fail"]).stylize("$error bold")


def card_text(card: Any, ascii: bool = False) -> Content:
    """The card: the total (and the scenario's own time limit on the rollout), one line per
    phase against its budget, then the revision, the checks, the comms and the keys, each
    with its points. Fits a 76-column dialog at 80x24."""
    from cockpit.drill_score import CHECKS_POINTS, COMMS_POINTS, KEYS_PAR, KEYS_POINTS, REVISION_POINTS

    pct = f"  ({round(100 * card.points / card.max_points)}%)" if card.max_points else ""
    goal = Content("")
    if card.goal_within_s is not None:  # the scenario's own time limit, on the rollout
        took = format_duration(card.rolled_back_s) if card.rolled_back_s is not None else "never"
        ok = card.rolled_back_s is not None and card.rolled_back_s <= card.goal_within_s
        goal = Content.assemble(("    rolled out ", ""), (took if card.rolled_back_s is None else f"after {took}", "bold"),
                                (f" (goal: {format_duration(card.goal_within_s)}) ", "$text-muted"), _mark(ok, ascii))
    lines: list[Content] = [
        Content.assemble(("score ", "bold"), (f"{card.points} / {card.max_points}", "$accent bold"), (pct, "bold"), goal),
        Content.assemble(text(card.target or "?", 200), ("  started ", "$text-muted"), (clock(card.started_at), ""),
                         ("  verified after ", "$text-muted"), (format_duration(card.total_s) if card.total_s is not None
                                                                else "never", "")),
        Content(""),
        Content(f"   {'phase':<10}{'time':>9}{'budget':>10}   points").stylize("bold"),
    ]
    for p in card.phases:
        took = format_duration(p.seconds) if p.seconds is not None else "never"
        lines.append(Content.assemble(_mark(p.within_budget if p.seconds is not None else False, ascii), ("  ", ""),
                                      (f"{p.name:<10}{took:>9}{format_duration(p.budget_s):>10}   ", ""),
                                      _pts(p.points, p.max_points)))
    lines.append(Content(""))
    chosen = ", ".join(card.chosen_images) or "no rollback"
    if card.revision_ok is None:
        what = Content.assemble(text(chosen, 300), (" (the scenario names no revision)", "$text-muted"))
    elif card.revision_ok:
        what = Content.assemble(text(chosen, 300), (" = the goal", "$success"))
    else:
        want = ", ".join(card.goal_images) or (f"revision {card.goal_revision}" if card.goal_revision is not None else "?")
        what = Content.assemble(text(chosen, 300), ("; the goal: ", "$error"), text(want, 300, "bold"))
    lines.append(Content.assemble(_mark(card.revision_ok, ascii), ("  revision  ", "bold"), _pts(card.revision_points, REVISION_POINTS),
                                  ("  ", ""), what))
    checks = f"{card.checks_verified} of {card.checks_total} verified, {card.checks_skipped} not verified"
    checks += f", {card.checks_failed} failed" if card.checks_failed else ""
    lines.append(Content.assemble(_mark(card.checks_skipped == 0 and card.checks_failed == 0, ascii), ("  checks    ", "bold"),
                                  _pts(card.checks_points, CHECKS_POINTS), ("  " + checks, "")))
    if card.comms:
        off = [f"{f.label} {STATUS_WORDS.get(f.status, f.status)}" for f in card.comms if f.status != "on_time"]
        comms = f"{card.comms_on_time} of {card.comms_counted} messages on time" + (": " + ", ".join(off) if off else "")
    else:
        comms = "no message fell due"
    lines.append(Content.assemble(_mark(None if not card.comms else card.comms_on_time == card.comms_counted, ascii),
                                  ("  comms     ", "bold"), _pts(card.comms_points, COMMS_POINTS), ("  ", ""), text(comms, 400)))
    keys = (f"{card.keystrokes} to the confirmed rollback (par {KEYS_PAR})"
            if card.keystrokes is not None else "not counted (a resumed drill, or no rollback confirmed)")
    lines.append(Content.assemble(_mark(None if card.keystrokes is None else card.keystrokes <= KEYS_PAR, ascii),
                                  ("  keys      ", "bold"), _pts(card.keys_points, KEYS_POINTS), ("  " + keys, "")))
    return Content("\n").join(lines)


class ScoreCardScreen(ModalScreen[None]):
    """The drill's score card; enter/esc closes it (then the app offers the report)."""

    BINDINGS = [Binding("escape,enter,space,q", "close", "Close", id="score_close")]

    def __init__(self, card: Any, ascii: bool = False) -> None:
        super().__init__()
        self.card, self.ascii = card, ascii

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog scorecard"):
            yield Static(Content.assemble(("Drill score — ", "bold"), text(self.card.scenario or "drill", 80, "bold")),
                         classes="title")
            with VerticalScroll(id="score-body"):
                yield Static(card_text(self.card, self.ascii), id="score-card")
            yield Static(Content("enter/esc: close (the incident report is offered next)").stylize("$text-muted"),
                         classes="keys")

    DEFAULT_CSS = """
    ScoreCardScreen #score-body { height: auto; max-height: 24; }
    """

    def action_close(self) -> None:
        self.dismiss(None)


class DrillScoreHost:
    """Mixed into the app (``class CockpitApp(DrillScoreHost, App)``): every key the app
    receives is counted for the drill's score (:meth:`cockpit.controllers.drill.DrillScorer.key`,
    on ``self.drill``), and :meth:`show_score` is the scorer's ``show``."""

    async def on_event(self, event: events.Event) -> None:
        scorer = getattr(self, "drill", None)
        if scorer is not None and isinstance(event, events.Key) and not event.is_forwarded:
            scorer.key()
        await super().on_event(event)  # type: ignore[misc]

    def show_score(self, card: Any, then: Callable[[], Any]) -> None:
        data = getattr(self, "data", None)
        self.push_screen(ScoreCardScreen(card, ascii=bool(getattr(data, "ascii", False))),  # type: ignore[attr-defined]
                         lambda _result: then())
