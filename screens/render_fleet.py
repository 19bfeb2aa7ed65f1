"""Pure render functions of the fleet: the target list's rows (verdict and selection mark),
the fleet rollback's confirmation and its screen (the plan, each target's progress).

State in, :class:`~textual.content.Content` out — no widgets, no I/O, no clock; tested without
a terminal. Every outside string (names, images, reasons, errors) goes through
:func:`screens.render.text` (sanitised, capped, never markup)."""
from __future__ import annotations

from typing import Any

from textual.content import Content

from screens.render import LEVEL_STYLE, g, short_image, text

VERDICT_WIDTH = 12
"""``ROLLBACK_NOW``: the widest verdict."""


def target_prompt(key: str, verdict: Any = None, selected: bool = False, ascii: bool = False) -> Content:
    """One row of the target list: the selection mark and ``namespace/name``, and under it the
    target's verdict (``…`` until its first reading)."""
    gl = g(ascii)
    mark = Content.assemble((gl["mark"], "$accent bold"), " ") if selected else Content("  ")
    name = text(key, 120, "bold" if selected else "")
    if verdict is None:
        second = Content.assemble("  ", (gl["pending"], "$text-muted"))
    else:
        value = str(getattr(verdict, "value", verdict))
        second = Content.assemble("  ", text(value, 40, LEVEL_STYLE.get(value, "")))
    return Content.assemble(mark, name, "\n", second)


# --------------------------------------------------------------------------- the plan


def revision_text(number: int | None) -> str:
    return "?" if number is None else str(number)


def images_text(images: Any, max_len: int = 1000) -> str:
    return ", ".join(str(i) for i in images or ()) or "?"


def confirm_body(plan: Any, changed: bool = False, ascii: bool = False) -> Content:
    """What the operator confirms: each target to roll back with from → to revision and its
    images *whole*, then the targets skipped with why. ``changed``: the plan was resolved again
    under the locks and differs from the one shown before."""
    gl = g(ascii)
    rollbacks, skipped = plan.rollbacks, plan.skipped
    contexts = ", ".join(plan.scope.contexts) or "?"
    n = len(rollbacks)
    lines: list[Content] = []
    if changed:
        lines.append(Content("The plan changed since it was shown (the cluster moved): check it again.")
                     .stylize("$warning bold"))
        lines.append(Content(""))
    lines.append(Content.assemble(("Roll back ", ""), (f"{n} deployment{'s' if n != 1 else ''}", "bold"),
                                  (" in context ", ""), text(contexts, 200, "bold"),
                                  (f", {len(skipped)} skipped:" if skipped else ":", "")))
    for e in rollbacks:
        lines.append(Content.assemble("  ", text(f"{e.namespace}/{e.name}", 300, "bold")))
        lines.append(Content.assemble(("    from revision ", ""), (revision_text(e.from_revision), "bold"), "  ",
                                      text(images_text(e.from_images), 1000, "$error")))
        lines.append(Content.assemble(("      to revision ", ""), (revision_text(e.to_revision), "bold"), "  ",
                                      text(images_text(e.images), 1000, "$success")))
    if skipped:
        lines.append(Content(""))
        lines.append(Content("skipped (nothing is sent to them):").stylize("$text-muted"))
        for e in skipped:
            lines.append(Content.assemble(("  ", ""), (gl["dot"], "$text-muted"), " ",
                                          text(f"{e.namespace}/{e.name}", 300, "bold"), (": ", ""),
                                          text(e.why or "needs nothing", 500, "$text-muted")))
    return Content("\n").join(lines)


# --------------------------------------------------------------------------- the run


def entry_status(entry: Any, state: Any = None, line: str = "", journaled: bool = True) -> tuple[str, str, str]:
    """``(mark, words, style)`` of one target: where the journal says it stands (``mark`` is a
    key of :data:`screens.render.UNICODE`); ``line``: the run's latest line for it."""
    if entry.action == "skip":
        return "dot", f"skipped: {entry.why or 'needs nothing'}", "$text-muted"
    if entry.action == "fail":
        return "fail", f"not planned: {entry.error_title or 'Error'}: {entry.why}", "$error"
    status = state.status(entry.key) if state is not None and journaled else "planned"
    last = state.last.get(entry.key) if state is not None and journaled else None
    if status == "ok":
        already = "already " if getattr(last, "already", False) else ""
        to = getattr(last, "to_revision", None)
        return "ok", f"done: {already}rolled back to revision {revision_text(to)}", "$success"
    if status == "skipped":
        return "dot", f"skipped: {entry.why or 'the template already runs'}", "$text-muted"
    if status == "failed":
        title, message = getattr(last, "error_title", ""), getattr(last, "error_message", "")
        return "fail", f"FAILED: {title or 'Error'}: {message}", "$error"
    if status == "not_started":
        return "dot", "not started (the fleet stopped after a failure)", "$warning"
    if status == "started":
        incident = state.incident(entry.key) if state is not None else None
        rolled = getattr(incident, "rolled_back", None)
        what = "rolled back, following its rollout" if rolled is not None else "rolling back"
        return "pending", f"{what}: {line}" if line else what, "$warning"
    return "pending", "waiting" if journaled else "to roll back", "$text-muted"


def plan_rows(plan: Any, state: Any = None, lines: dict[str, str] | None = None, ascii: bool = False) -> Content:
    """Each target of ``plan``: mark, name, revision from → to, where it stands; then its images."""
    if plan is None:
        return Content("no fleet rollback in this incident: select targets on the dashboard (space), "
                       "then r").stylize("$text-muted")
    gl = g(ascii)
    journaled = state is not None and getattr(state, "plan", None) is not None
    out: list[Content] = []
    for e in plan.entries:
        mark, words, style = entry_status(e, state, (lines or {}).get(e.key, ""), journaled)
        name = f"{e.namespace}/{e.name}" if e.name else f"context {e.context}"
        revs = (f"{revision_text(e.from_revision)} {gl['arrow']} {revision_text(e.to_revision)}"
                if e.action == "rollback" else revision_text(e.from_revision))
        out.append(Content.assemble((gl[mark], style or "bold"), " ", text(name, 120, "bold"), "  ",
                                    (f"rev {revs}", "$text-muted"), "  ", text(words, 300, style)))
        if e.action == "rollback":
            imgs = (f"{', '.join(short_image(i) for i in e.from_images) or '?'} {gl['arrow']} "
                    f"{', '.join(short_image(i) for i in e.images) or '?'}")
        else:
            imgs = ", ".join(short_image(i) for i in e.from_images)
        if imgs:
            out.append(Content.assemble("    ", text(imgs, 400, "$text-muted")))
    return Content("\n").join(out)


def head(plan: Any, busy: str = "") -> Content:
    """The fleet screen's title: what the plan covers and how it splits."""
    if plan is None:
        return Content("Fleet rollback").stylize("bold")
    return Content.assemble(("Fleet rollback ", "bold"), (f"({busy}) " if busy else "", "$warning"),
                            text(f"of {plan.scope.describe()}", 300, ""),
                            (f" — {len(plan.rollbacks)} to roll back, {len(plan.skipped)} skipped, "
                             f"{len(plan.failed)} not planned", "$text-muted"))


def summary(plan: Any, state: Any = None, busy: str = "") -> Content:
    """One line: how many targets stand where (from the journal), and whether it finished."""
    if plan is None:
        return Content("")
    journaled = state is not None and getattr(state, "plan", None) is not None
    counts: dict[str, int] = {}
    for e in plan.entries:
        status = e.action if e.action in ("skip", "fail") else (state.status(e.key) if journaled else "planned")
        counts[status] = counts.get(status, 0) + 1
    done = counts.get("ok", 0)
    parts = [f"{done} rolled back", f"{counts.get('started', 0)} running", f"{counts.get('planned', 0)} waiting",
             f"{counts.get('skip', 0) + counts.get('skipped', 0)} skipped",
             f"{counts.get('failed', 0) + counts.get('fail', 0)} failed", f"{counts.get('not_started', 0)} not started"]
    finished = getattr(state, "finished", None) if journaled else None
    if finished is not None:
        return Content.assemble(("finished: ", "bold"), (", ".join(parts), "$success" if finished.ok else "$error"))
    if not journaled:
        return Content.assemble(("not started yet: ", "bold"), (", ".join(parts), "$text-muted"))
    return Content.assemble(("running: " if busy else "in the journal: ", "bold"), (", ".join(parts), ""))
