"""The rollback screen's traffic line (pure): a shift's split as it moves, each version's share
as a bar with its latest error rate beside it, from :func:`cockpit.traffic_view.shift_view`.

    traffic shop-route  step 2/5 · running  holding on old
      old  ██████████████░░░░░░  70%   0.4% errors (812 req)
      new  ██████░░░░░░░░░░░░░░  30%   6.1% errors (340 req)
      moving to old 90% · new 10%…

Names come from the journal (written by the port from the route): sanitised, never markup.
"""
from __future__ import annotations

from textual.content import Content

from cockpit.traffic_view import ShiftView
from screens import render

BAR = 20
STATUS_STYLE = {"running": "$accent", "done": "$success", "stopped": "$success", "paused": "$warning",
                "aborted": "$warning", "restored": "$warning", "failed": "$error bold"}


def bar(pct: int, ascii: bool = False, width: int = BAR) -> str:
    full = max(0, min(width, round(width * pct / 100)))
    on, off = ("#", ".") if ascii else ("█", "░")
    return on * full + off * (width - full)


def _pct(split: dict[str, int]) -> dict[str, int]:
    total = sum(split.values())
    return {k: (round(100 * v / total) if total else 0) for k, v in split.items()}


def split_lines(view: ShiftView | None, ascii: bool = False) -> Content:
    """The lines for ``view``; empty when there is no shift in the incident."""
    if view is None:
        return Content("")
    dot = "-" if ascii else "·"
    head = [("traffic ", "bold"), render.text(view.route, 120, "bold")]
    if view.steps:
        head.append((f"  step {view.step}/{view.steps} {dot} ", "$text-muted"))
    else:
        head.append((f"  step {view.step} {dot} ", "$text-muted"))
    head.append((view.status, STATUS_STYLE.get(view.status, "")))
    if view.to:
        head.extend([("  keeping traffic: ", "$text-muted"), render.text(view.to, 120)])
    lines = [Content.assemble(*head)]
    names = list(view.split) or list(view.moving_to or {})
    names += [n for n in view.rates if n not in names]
    pct = _pct(view.split)
    width = max((len(n) for n in names), default=0)
    width = min(width, 40)
    for name in names:
        share = pct.get(name)
        rate = view.rates.get(name)
        if rate is None:
            err = Content.styled("error rate not measured", "$text-muted")
        else:
            style = "$error" if rate.rate >= 0.05 else "$warning" if rate.rate >= 0.01 else "$success"
            when = f", step {rate.step}" if rate.step else ""
            err = Content.assemble((f"{100 * rate.rate:.1f}% errors", style),
                                   (f" ({rate.requests} req{when})", "$text-muted"))
        share_text = f"{share:>3d}%" if share is not None else "   ?"
        lines.append(Content.assemble("  ", render.text(name, 40).pad_right(width - min(len(name), 40)),
                                      "  ", (bar(share or 0, ascii), "$accent"), f"  {share_text}   ", err))
    if view.moving_to is not None:
        target = _pct(view.moving_to)
        lines.append(Content.assemble(("  moving to ", "$warning"),
                                      render.text(f" {dot} ".join(f"{k} {v}%" for k, v in target.items()), 300),
                                      ("…" if not ascii else "...", "$warning")))
    if view.failed:
        lines.append(Content.assemble(("  last weight change failed: ", "$error"), render.text(view.failed, 300)))
    return Content("\n").join(lines)
