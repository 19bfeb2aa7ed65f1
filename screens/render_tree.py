"""Pure render functions for the decision tree (runbook 000): the operator's answers and the
recommendation they lead to — immediate rollback, standard rollback or a hotfix.

The path is :func:`cockpit.matrix.decision_tree`'s, the function the decision engine runs, on
the same thresholds (the settings' ``decision.tree``), so what the dashboard recommends is what
the engine's verdict says. Facts in, ``Content`` out (never markup); tested without a terminal.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.content import Content

from cockpit.matrix import OperatorInputs, decision_tree, pct
from cockpit.text import sanitize

QUESTIONS = (("data_loss", "data loss"), ("security_breach", "security breach"), ("users_affected", "share of users"))


def tree_cfg(cfg: Any = None) -> Any:
    """The settings' ``decision`` section (None: the defaults, imported only when needed)."""
    if cfg is not None:
        return cfg
    from cockpit.config import DecisionConfig

    return DecisionConfig()


@dataclass(frozen=True)
class Recommendation:
    path: str
    """``immediate``, ``standard``, ``hotfix`` or ``open`` (not critical so far; share of users not known)."""
    headline: str
    why: str
    unanswered: tuple[str, ...] = ()
    """The tree's questions not answered yet (an answer could still change the path)."""

    @property
    def text(self) -> str:
        line = f"{self.headline} ({self.why})" if self.why else self.headline
        if self.unanswered:
            line += " — not answered: " + ", ".join(self.unanswered)
        return line


def recommend(inputs: OperatorInputs | None, error_rate: float | None, cfg: Any = None) -> Recommendation | None:
    """What runbook 000's tree recommends for these answers and the measured error rate.
    None: nothing answered and the errors are not critical (the tree has nothing to say)."""
    i = inputs or OperatorInputs()
    if error_rate is None and i.data_loss is None and i.security_breach is None and i.users_affected is None:
        return None
    c = tree_cfg(cfg)
    path, _reason = decision_tree(i, error_rate, c)
    t = c.tree
    unanswered = tuple(label for key, label in QUESTIONS if getattr(i, key) is None)
    if path == "immediate":
        critical = [label for key, label in QUESTIONS[:2] if getattr(i, key)]
        if not critical and error_rate is not None:
            critical = [f"errors {pct(error_rate)} > {pct(t.critical_error_rate_above)}"]
        return Recommendation("immediate", "IMMEDIATE ROLLBACK", ", ".join(critical))
    if path == "standard":
        return Recommendation("standard", "STANDARD ROLLBACK",
                              f"{pct(i.users_affected or 0.0)} of users affected > {pct(t.users_affected_above)}",
                              tuple(u for u in unanswered if u != "share of users"))
    if path == "hotfix" and i.users_affected is not None:
        return Recommendation("hotfix", "hotfix may be faster",
                              f"not critical, {pct(i.users_affected)} of users affected ≤ {pct(t.users_affected_above)}",
                              unanswered)
    if path == "hotfix":
        return Recommendation("open", "not critical so far", f"affecting more than {pct(t.users_affected_above)} of users?",
                              unanswered)
    return None


STYLE = {"immediate": "$error bold", "standard": "$error bold", "hotfix": "$warning bold", "open": "$text-muted bold"}


def recommendation_line(rec: Recommendation | None, ascii: bool = False) -> Content | None:
    """``tree: IMMEDIATE ROLLBACK (data loss)`` for the verdict pane (None: nothing to say)."""
    if rec is None:
        return None
    why = f" ({rec.why})" if rec.why else ""
    rest = " — not answered: " + ", ".join(rec.unanswered) if rec.unanswered else ""
    if ascii:
        why, rest = _ascii(why), _ascii(rest)
    return Content.assemble(("tree: ", "bold"), (rec.headline, STYLE[rec.path]), (why, ""), (rest, "$text-muted"))


def _ascii(text: str) -> str:
    return text.replace("≤", "<=").replace("—", "-")


def verdict_pane(verdict: Content, inputs: OperatorInputs | None, decision: Any, cfg: Any = None,
                 ascii: bool = False) -> Content:
    """The verdict pane: the tree's recommendation first (when it has one), then the verdict
    as :func:`screens.render.verdict` draws it."""
    er = getattr(getattr(decision, "sample", None), "error_rate", None)
    line = recommendation_line(recommend(inputs, er, cfg), ascii)
    return verdict if line is None else Content("\n").join([line, verdict])


def yes_no(value: bool | None) -> str:
    return "not known" if value is None else ("yes" if value else "no")


def share_text(value: float | None) -> str:
    """A fraction as the form's percent field shows it (``0.3`` → ``30``; None → empty)."""
    if value is None:
        return ""
    return f"{value * 100:.4f}".rstrip("0").rstrip(".")


def problems_line(problems: list[str]) -> Content:
    """Journaled answers that did not fit (shown, sanitised, never parsed as markup)."""
    return Content(sanitize("; ".join(problems), max_len=300)).stylize("$warning") if problems else Content("")
