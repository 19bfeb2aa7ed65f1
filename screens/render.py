"""Pure render functions: facts → ``Content`` (never markup). Tested without a terminal.

Every string that came from outside goes through :func:`cockpit.text.sanitize` again here
(belt and braces: models are sanitized at the backend boundary) and into ``Content(...)``,
which never parses markup, so ``[@click=app.quit]`` stays literal. Colours are theme
variables (``$error``, ``$warning``, ``$success``), resolved by the active theme.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from textual.content import Content

from cockpit import events as ev
from cockpit import history_marks as hm
from cockpit.checklist import PhaseRow, Row
from cockpit.durations import format_age, format_timer
from cockpit.matrix import band
from cockpit.model import EventInfo, PodInfo, Revision, TemplateDiff
from cockpit.text import sanitize

UNICODE = {"ok": "✓", "fail": "✗", "pending": "…", "live": "●", "mark": "◆", "arrow": "→", "bar": "█", "dot": "·"}
ASCII = {"ok": "v", "fail": "x", "pending": ".", "live": "*", "mark": "#", "arrow": "->", "bar": "#", "dot": "-"}

LEVEL_STYLE = {"OK": "$success", "MONITOR": "$warning", "CONSIDER": "$warning bold",
               "ROLLBACK_NOW": "$error bold", "INCONCLUSIVE": "$text-muted"}


def g(ascii: bool) -> dict[str, str]:
    return ASCII if ascii else UNICODE


def text(value: Any, max_len: int = 300, style: str = "") -> Content:
    """Outside text made inert: sanitized, capped, never parsed as markup."""
    c = Content(sanitize(value, max_len=max_len))
    return c.stylize(style) if style else c


def clock(ts: float | datetime | None) -> str:
    if ts is None:
        return "--:--:--"
    if isinstance(ts, datetime):
        ts = ts.timestamp()
    return datetime.fromtimestamp(ts, timezone.utc).astimezone().strftime("%H:%M:%S")


def hhmm(ts: float | datetime | None) -> str:
    """A local wall-clock time to the minute (``06:41``); ``--:--`` when unknown."""
    if ts is None:
        return "--:--"
    if isinstance(ts, datetime):
        ts = ts.timestamp()
    return datetime.fromtimestamp(ts, timezone.utc).astimezone().strftime("%H:%M")


def age(when: datetime | None, now: float) -> str:
    """kubectl's age column (``45s``, ``12m``, ``5h``, ``3d``); ``?`` when unknown."""
    return "?" if when is None else format_age(now - when.timestamp())


IMAGE_WIDTH = 40
"""Columns of images (pods, history): wide enough for ``registry/org/name:tag``."""
_IMAGE_REF = re.compile(r"[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9._-]+)+(?::[A-Za-z0-9._-]+)?(?:@[A-Za-z0-9]+:[0-9a-fA-F]+)?")


def short_image(image: str, width: int = IMAGE_WIDTH) -> str:
    """An image for a table cell: the registry and repository are kept, and when it is longer
    than ``width`` it is shortened in the middle, never at the front — so
    ``registry.example/h:kubectl rollout undo deploy/api`` never reads as ``api`` and an image
    from another registry never looks like ours. A well-formed reference drops its middle
    path first (``registry.example/…/checkout:1.4.2``); anything else keeps its head (up to
    the registry) and its tail. The confirm modal shows images whole."""
    s = sanitize(image, max_len=1000)
    if len(s) <= width:
        return s
    parts = s.split("/")
    if _IMAGE_REF.fullmatch(s) and len(parts) > 2:
        short = f"{parts[0]}/…/{parts[-1]}"
        if len(short) <= width:
            return short
    keep = max(1, width - 1)
    front = max(-(-keep * 3 // 5), min(s.find("/") + 1, keep - 6)) if "/" in s else -(-keep * 3 // 5)
    back = keep - front
    return s[:front] + "…" + (s[-back:] if back > 0 else "")


def images_cell(images: tuple[str, ...] | list[str], width: int = IMAGE_WIDTH) -> str:
    """Several images in one cell, each shortened to its share of ``width``."""
    if not images:
        return ""
    each = max(16, (width - 2 * (len(images) - 1)) // len(images))
    return ", ".join(short_image(i, each) for i in images)


# --------------------------------------------------------------------------- dashboard


def pod_cells(p: PodInfo, ascii: bool = False) -> tuple[Content, ...]:
    gl = g(ascii)
    ready = Content(gl["ok"] if p.ready else gl["fail"]).stylize("$success" if p.ready else "$error")
    status = p.reason or p.phase
    return (
        text(p.name, 80),
        ready,
        text(status, 40, "" if status == "Running" else "$warning"),
        Content(str(p.restarts)).stylize("$error" if p.restarts else ""),
        text(short_image(p.image), 60),
    )


def event_key(e: EventInfo) -> str:
    return f"{e.object}|{e.reason}|{e.message}"[:500]


def event_cells(e: EventInfo) -> tuple[Content, ...]:
    return (
        Content(clock(e.last_seen)),
        text(e.type, 12, "$warning" if e.type != "Normal" else ""),
        text(e.reason, 40),
        text(e.object, 80),
        text(e.message, 400),
    )


def fmt_pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v * 100:.1f}%"


def fmt_ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0f}ms"


def plot_thresholds(cfg: Any = None) -> dict[str, float]:
    """The plots' threshold lines from the settings' ``decision`` section (None: the defaults):
    the roll-back bound (red) and where "monitor" starts (green) of the matrix rows."""
    m = _matrix_cfg(cfg)
    return {"error_rate": m.error_rate.rollback_above, "error_ok": m.error_rate.monitor_from,
            "p95_ms": m.p95_ms.rollback_above, "p95_ok": m.p95_ms.monitor_from}


def _matrix_cfg(cfg: Any) -> Any:
    if cfg is None:  # no configuration: the defaults, without the settings machinery on the first frame
        from cockpit.matrix import default_matrix

        return default_matrix()
    return cfg.matrix


MATRIX_LEVELS = ("OK", "MONITOR", "CONSIDER", "ROLLBACK_NOW")


def matrix_rows(sample: Any, cfg: Any = None) -> list[tuple[str, str, str | None, tuple[str, str, str, str]]]:
    """The matrix as data: ``(metric, value, level or None, band labels OK…ROLLBACK_NOW)`` per
    row. Levels come from :func:`cockpit.matrix.band` — the engine's own rule — and the bands
    from the settings, so what the screen shows is what the engine decides."""
    m = _matrix_cfg(cfg)
    e, lt, c = m.error_rate, m.p95_ms, m.crashes
    er = getattr(sample, "error_rate", None)
    p95 = getattr(sample, "p95_ms", None)
    crashes = getattr(sample, "crashes", None)

    def level(value: float | None, rb: float, consider: float | None, monitor: float | None) -> str | None:
        return None if value is None else band(value, rb, consider, monitor).value

    def p(x: float) -> str:
        return f"{x * 100:g}"

    return [
        ("errors", fmt_pct(er), level(er, e.rollback_above, e.consider_from, e.monitor_from),
         (f"<{p(e.monitor_from)}%", f"{p(e.monitor_from)}-{p(e.consider_from)}%",
          f"{p(e.consider_from)}-{p(e.rollback_above)}%", f">{p(e.rollback_above)}%")),
        ("p95", fmt_ms(p95), level(p95, lt.rollback_above, lt.consider_from, lt.monitor_from),
         (f"<{lt.monitor_from:g}", f"{lt.monitor_from:g}-{lt.consider_from:g}",
          f"{lt.consider_from / 1000:g}-{lt.rollback_above / 1000:g}s", f">{lt.rollback_above / 1000:g}s")),
        ("restarts", "n/a" if crashes is None else str(int(crashes)), level(crashes, c.rollback_above, None, c.monitor_from),
         ("0" if c.monitor_from == 1 else f"<{c.monitor_from}", f"{c.monitor_from}-{c.rollback_above}", "",
          f">{c.rollback_above}")),
    ]


def matrix(decision: Any, cfg: Any = None, ascii: bool = False) -> Content:
    """The runbook's decision matrix with the current values placed in their cells.

    ``cfg``: the settings' ``decision`` section (None: the defaults)."""
    gl = g(ascii)
    out = [Content.assemble(("metric  ", "bold"), ("OK       ", "$success bold"), ("MONITOR  ", "$warning bold"),
                            ("CONSIDER ", "$warning bold"), ("ROLLBACK", "$error bold"))]
    for name, value, here, labels in matrix_rows(getattr(decision, "sample", None), cfg):
        parts: list[Any] = [(f"{name:<8}", "")]
        for level, label in zip(MATRIX_LEVELS, labels):
            if level == here:
                parts.append((f"{gl['live']}{value:<8}"[:9], LEVEL_STYLE[level] + " reverse"))
            else:
                parts.append((f"{label:<9}", "$text-muted"))
        out.append(Content.assemble(*parts))
    return Content("\n").join(out)


def verdict(decision: Any, note: str = "") -> Content:
    if decision is None:
        return Content.assemble(("verdict: ", "bold"), ("INCONCLUSIVE", LEVEL_STYLE["INCONCLUSIVE"]), ("  " + note, "$text-muted"))
    v = str(getattr(decision.verdict, "value", decision.verdict))
    lines = [Content.assemble(("verdict: ", "bold"), (v, LEVEL_STYLE.get(v, "bold")))]
    for r in list(decision.reasons)[:4]:
        lines.append(text("  " + r.text, 200, "$text-muted" if r.level.value in ("OK", "INCONCLUSIVE") else ""))
    return Content("\n").join(lines)


def stale_line(stale: dict[str, float], errors: dict[str, str]) -> Content:
    if not stale:
        return Content("")
    parts = [f"{name} stale since {clock(since)}" + (f" ({sanitize(errors[name], max_len=60)})" if errors.get(name) else "")
             for name, since in sorted(stale.items())]
    return Content("; ".join(parts)).stylize("$warning bold")


def auto_line(armed: bool, remaining: float | None, reason: str, readonly: bool, ascii: bool = False) -> Content:
    if remaining is not None:
        return Content.assemble(("AUTO-ROLLBACK in ", "$error bold"), (f"{remaining:.0f}s", "$error bold reverse"),
                                (f" {'-' if ascii else '—'} press x to abort  ", "bold"), text(reason, 120))
    if armed:
        return Content.assemble(("auto-rollback: ", "bold"), ("ARMED", "$warning bold"),
                                ("" if readonly else " (a: disarm)", "$text-muted"))
    return Content.assemble(("auto-rollback: ", "bold"), ("disarmed", "$text-muted"),
                            ("" if readonly else " (a: arm)", "$text-muted"))


# --------------------------------------------------------------------------- history


def revision_cells(r: Revision, now: float, ascii: bool = False, marks: Any = None,
                   history: Any = ()) -> tuple[Content, ...]:
    """One history row. With ``marks`` (:class:`cockpit.history_marks.Marks`): the revision
    rolled back from is marked bad ("rolled back from at 06:41"), the live one says since when
    it is live and its AGE counts from then (never the age of a re-used ReplicaSet: "?" when
    unknown), and a template seen healthy says so."""
    gl = g(ascii)
    marks = marks if marks is not None else hm.Marks()
    bad_at, bad, live_at, healthy = marks.of(r)
    when = r.created
    known = True
    if r.live:
        when, known = hm.live_since(r, history or (r,), marks)
    note: list[Any] = []
    if bad:
        note.append((f"{gl['fail']} rolled back from" + (f" at {hhmm(bad_at)}" if bad_at else ""), "$error bold"))
    elif r.live and live_at is not None:
        note.append((f"live since {hhmm(live_at)}", "$success"))
    elif healthy:
        note.append((f"{gl['ok']} seen healthy", "$success"))
    if note:
        note.append((f" {gl['dot']} ", "$text-muted"))
    cause = text(r.change_cause or "<none>", 200, "" if r.change_cause else "$text-muted")
    return (
        Content.assemble((gl["live"] if r.live else " ", "$success bold"), (f" {r.number}", "bold" if r.live else "")),
        Content(age(when, now) if known else "?"),
        text(images_cell(r.images), 120, "$error" if bad else ""),
        Content.assemble(*note, cause) if note else cause,
    )


def diff_lines(d: TemplateDiff | None) -> list[Content]:
    if d is None:
        return [Content("loading the diff…").stylize("$text-muted")]
    if d.empty:
        return [Content(f"no difference between {d.left} and {d.right} (ignoring pod-template-hash)").stylize("$text-muted")]
    out = []
    for line in d.lines:
        s = sanitize(line, max_len=500)
        style = "$success" if s.startswith("+") and not s.startswith("+++") else (
            "$error" if s.startswith("-") and not s.startswith("---") else ("$accent" if s.startswith("@@") else ""))
        out.append(Content(s).stylize(style) if style else Content(s))
    return out


def confirm_text(target: Any, live: Revision | None, chosen: Revision) -> Content:
    """What the operator confirms: the target, both revisions and their images *whole*."""
    live_imgs = ", ".join(sanitize(i, max_len=300) for i in (live.images if live else ())) or "?"
    return Content.assemble(
        ("Roll back deployment ", ""), text(str(target), 200, "bold"), ("\n\nfrom revision ", ""),
        (str(live.number) if live else "?", "bold"), ("  ", ""), text(live_imgs, 1000, "$error"),
        ("\n  to revision ", ""), (str(chosen.number), "bold"), ("  ", ""),
        text(", ".join(sanitize(i, max_len=300) for i in chosen.images), 1000, "$success"),
        ("\n\nchange-cause: ", "$text-muted"), text(chosen.change_cause or "<none>", 200, "$text-muted"),
    )


# --------------------------------------------------------------------------- rollback


def step_lines(state: Any, now: datetime, ascii: bool = False) -> Content:
    gl = g(ascii)
    if not state.steps:
        return Content("no step has started yet").stylize("$text-muted")
    lines = []
    for i in sorted(state.steps):
        s = state.steps[i]
        mark = {"ok": gl["ok"], "failed": gl["fail"], "cancelled": gl["fail"]}.get(s.status, gl["pending"])
        style = {"ok": "$success", "failed": "$error bold", "cancelled": "$warning"}.get(s.status, "$accent")
        elapsed = s.elapsed if s.elapsed is not None else (
            (now - s.started).total_seconds() if s.started else 0.0)
        budget = f" / {format_timer(s.budget)}" if s.budget else ""
        over = s.over_budget or (s.budget is not None and elapsed > s.budget)
        lines.append(Content.assemble((f"{mark} ", style), text(f"{i + 1}. {step_title(state, i)}", 120),
                                      (f"  {format_timer(elapsed)}{budget}", "$error bold" if over else "$text-muted"),
                                      (" OVER BUDGET" if over else "", "$error bold"),
                                      (" (resumed)" if s.resumed else "", "$text-muted")))
    return Content("\n").join(lines)


def current_run(state: Any) -> list[Any]:
    """The timeline since the current run started (its first ``run_started``; a resume's
    ``run_started`` continues the same run). The whole timeline when no run is recorded."""
    timeline = list(getattr(state, "timeline", ()))
    for i in range(len(timeline) - 1, -1, -1):
        e = timeline[i].event
        if isinstance(e, ev.RunStarted) and not e.resume:
            return timeline[i:]
    return timeline


def chosen_for_step(state: Any, index: int) -> Any:
    """The revision the current run's step ``index`` resolved (its ``revision_chosen``), or None."""
    for entry in reversed(current_run(state)):
        e = entry.event
        if isinstance(e, ev.RevisionChosen) and e.step == index:
            return e
    return None


_VAGUE = re.compile(r"\b(?:the previous revision|revision 0)\b")


def step_title(state: Any, index: int) -> str:
    """A step's title, naming the revision its ``prepare`` resolved: a runbook step asked for
    "the previous revision" (``to_revision: 0``) reads "… to revision 2" once the choice is
    journaled; a title that names another revision keeps its words and gets the resolved one."""
    s = state.steps[index]
    name = s.name or s.kind
    chosen = chosen_for_step(state, index)
    number = getattr(chosen, "revision", None)
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        return name
    resolved = f"revision {number}"
    if _VAGUE.search(name):
        return _VAGUE.sub(resolved, name, count=1)
    if re.search(rf"\b{resolved}\b", name):
        return name
    return f"{name} ({resolved})"


def failure_text(state: Any) -> Content:
    failed = [s for s in state.steps.values() if s.status in ("failed", "cancelled")]
    if not failed:
        return Content("")
    s = failed[-1]
    nxt = ("press h to pick another revision, or c to record what you checked"
           if s.status == "failed" else "the run was cancelled; press h to choose again")
    return Content.assemble((s.error_title or "Failed", "$error bold"), (": ", ""), text(s.error_message, 400),
                            ("\nnext: ", "bold"), (nxt, ""))


STARTING_GRACE_S = 10.0
"""How long after a rollback was asked for the progress waits for its run to appear in the
journal (a rollback refused before it starts writes no run: then the deployment's progress)."""


def progress_text(p: Any, starting: bool = False) -> Content:
    """The rollout's progress; ``starting``: what was read may predate the rollback (see
    :func:`rollback_starting`), so none is shown."""
    if starting:
        return Content("progress: starting… (waiting for the rollout this rollback starts)").stylize("$text-muted")
    if p is None:
        return Content("progress: waiting for the first observation").stylize("$text-muted")
    state = "complete" if p.complete else ("FAILED" if p.failed else "in progress")
    return Content.assemble(("replicas: ", "bold"), (f"updated {p.updated}/{p.desired}  available {p.available}  "
                                                    f"ready {p.ready}  total {p.total}  ", ""),
                            (state, "$success bold" if p.complete else ("$error bold" if p.failed else "$warning")))


def rollback_starting(state: Any, snapshot: Any, asked_at: float | None, now: float) -> bool:
    """Whether the progress read with ``snapshot`` may be older than the rollback shown, so
    that "4/4 complete" would be the *previous* rollout's (pure).

    ``snapshot.at`` is when its reads began (epoch seconds); ``asked_at`` when the operator
    (or the automatic rollback) asked for this rollback, None when not known. Stale: read
    before it was asked for; or its run is not in the journal yet (for up to
    :data:`STARTING_GRACE_S`); or the run is resolving the revision (nothing is sent yet);
    or what was read is not the chosen template yet (its images differ, or it was read before
    the patch's intent)."""
    at = getattr(snapshot, "at", None)
    run = current_run(state)
    if asked_at is not None:
        if at is None or at < asked_at:
            return True
        began = [e.meta.at for e in run if isinstance(e.event, ev.RunStarted) and e.meta.at is not None]
        if not (began and began[0].timestamp() >= asked_at - 1.0) and now - asked_at < STARTING_GRACE_S:
            return True
    if getattr(state, "run_status", None) != "running":
        return False
    chosen = next((e for e in reversed(run) if isinstance(e.event, ev.RevisionChosen)), None)
    if chosen is None:
        return True
    images = getattr(getattr(snapshot, "deployment", None), "images", None)
    if images is not None and tuple(images) != tuple(chosen.event.images):
        return True
    intents = [e.meta.at for e in run if isinstance(e.event, ev.Intent) and "rollback" in e.event.action]
    return bool(intents) and intents[-1] is not None and (at is None or at < intents[-1].timestamp())


# --------------------------------------------------------------------------- checklist


def check_cells(r: Row, ascii: bool = False) -> tuple[Content, ...]:
    gl = g(ascii)
    mark, style = (gl["ok"], "$success bold") if r.ok else ((gl["fail"], "$error bold") if r.ok is False else (gl["pending"], "$text-muted"))
    who = f"{sanitize(r.who, max_len=40)} {clock(r.at)}" if r.at else ""
    evidence = r.evidence + (f" {'-' if ascii else '—'} note: {r.note}" if r.note else "")
    return (
        Content(mark).stylize(style),
        text(r.title, 80),
        Content("auto" if r.auto else "manual").stylize("$text-muted"),
        text(evidence, 300),
        text(who, 80, "$text-muted"),
    )


def phase_line(rows: list[PhaseRow], ascii: bool = False) -> Content:
    parts: list[Any] = []
    for r in rows:
        budget = format_timer(r.budget) if r.budget else "-"
        label = f"{r.name} {format_timer(r.elapsed)}/{budget}"
        if r.overdue:
            style = "$error bold reverse"
            label += " OVERDUE"
        elif r.running:
            style = "$accent bold"
        elif r.started:
            style = "$success"
        else:
            style = "$text-muted"
        parts.append((f" {label} ", style))
        parts.append((g(ascii)["dot"], "$text-muted"))
    return Content.assemble(*parts[:-1]) if parts else Content("")


def header(data: Any, now: float) -> Content:
    """The one-line status bar: where we are, what we follow, the verdict and the phase."""
    st = data.state
    parts: list[Any] = [(" cockpit ", "bold reverse")]
    if data.drill:
        parts.append((f" DRILL {sanitize(data.drill, max_len=40)} ", "$warning bold"))
    if data.readonly:
        parts.append((" READONLY ", "$error bold reverse"))
    if data.observer_of:
        parts.append((" observing ", "$text-muted"))
    tgt = data.target or (st.target if st.target else None)
    parts.append((f" {sanitize(str(tgt) if tgt else 'no target', max_len=80)} ", "bold"))
    if data.decision is not None:
        v = str(data.decision.verdict.value)
        parts.append((f" {v} ", LEVEL_STYLE.get(v, "") + " reverse"))
    if st.phase:
        parts.append((f" phase {st.phase} ", "$accent"))
    if st.resolved:
        parts.append((" RESOLVED ", "$success bold reverse"))
    if data.mirror_line:
        line = data.mirror_line
        parts.append((f" {sanitize(line, max_len=90)} ", "$text-muted" if line.startswith("following") else "$warning bold"))
    return Content.assemble(*parts)


RESOLVE_LISTED = 9
"""How many open checks the resolve question names one per line (the rest are counted)."""
RESOLVE_WIDTH = 66
"""Columns of one named check (title and where it stands), so each stays on one line."""


def resolve_question(open_rows: list[Row], total: int, ascii: bool = False) -> Content:
    """The body of the question ``R`` asks while checks are open: how many, which (titles and
    where each stands), and what resolving anyway records."""
    gl = g(ascii)
    n = len(open_rows)
    lines = [Content.assemble((f"{n} of {total} check{'s' if total != 1 else ''} ", "bold"),
                              ("are not verified yet:" if n != 1 else "is not verified yet:", ""))]
    for r in open_rows[:RESOLVE_LISTED]:
        mark, style = (gl["fail"], "$error bold") if r.ok is False else (gl["pending"], "$warning")
        title = sanitize(r.title, max_len=40)
        where = sanitize(r.evidence or ("collecting" if r.auto else "not ticked"), max_len=200)
        room = max(8, RESOLVE_WIDTH - 4 - len(title) - 2)
        if len(where) > room:
            where = where[: room - 3] + "..." if ascii else where[: room - 1] + "…"
        lines.append(Content.assemble((f"  {mark} ", style), (title, "bold"), ("  ", ""), (where, "$text-muted")))
    if n > RESOLVE_LISTED:
        lines.append(Content(f"  {'...' if ascii else '…'} and {n - RESOLVE_LISTED} more").stylize("$text-muted"))
    lines.append(Content("Resolving anyway is journaled; the report marks them not verified."))
    return Content("\n").join(lines)
