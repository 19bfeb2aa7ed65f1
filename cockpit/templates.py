"""Message templates, filled from the incident state. Pure but for reading template files.

Templates are plain text files, one per message: ``started``, ``progress``, ``completed``,
``failed``, ``escalation`` (Slack / webhook), and ``statuspage_<status>`` for the public
status page (``investigating``, ``identified``, ``monitoring``, ``resolved``). The defaults
(in ``cockpit/comms_templates/``) follow the runbooks; a team overrides any of them by
putting a file of the same name (``started.txt``...) in its templates directory
(``notify.templates_dir``, default ``$XDG_CONFIG_HOME/cockpit/templates``).

Format: the first line is the title (Slack fallback text / notification title / status
page incident name), the rest is the body. Placeholders are ``$name`` or ``${name}``
(:class:`string.Template`); unknown placeholders stay as written (and
:func:`check_template` names them). Values are sanitized, and an ``escape`` function (the
Slack backend passes its mrkdwn escape) is applied to every *value* — never to the
template — so text from a cluster cannot ping ``<!channel>`` or forge links.

API: :func:`context(records, now=..., extra=...)` → dict of placeholder values;
:func:`render(name, ctx, ...)` → :class:`Message`; :func:`load_template(name, dir)`.
"""
from __future__ import annotations

import os
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cockpit.errors import ConfigError, NotFoundError
from cockpit.report import build_report, duration, metric_points, ms, pct
from cockpit.state import replay
from cockpit.text import sanitize

DEFAULTS_DIR = Path(__file__).with_name("comms_templates")
NAMES = ("started", "progress", "completed", "failed", "escalation",
         "statuspage_investigating", "statuspage_identified", "statuspage_monitoring", "statuspage_resolved")
FIELDS = (
    "service", "target", "from_version", "to_version", "images", "reason", "verdict", "verdict_reasons",
    "elapsed", "who", "phase", "status", "opened_utc", "now_utc", "error_rate", "p95", "users_affected",
    "next_update_min", "mentions", "level", "failed_step", "error", "actions_summary",
)


@dataclass(frozen=True)
class Message:
    """A filled template: ``title`` (one line) and ``body``."""

    name: str
    title: str
    body: str

    @property
    def text(self) -> str:
        return self.body


def templates_dir(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "cockpit" / "templates"


def load_template(name: str, directory: str | os.PathLike | None = None) -> tuple[str, Path]:
    """The text of template ``name`` and where it came from (override dir, else default)."""
    if name not in NAMES:
        raise NotFoundError(f"unknown template {name!r}; known: {', '.join(NAMES)}")
    for folder in (templates_dir(directory), DEFAULTS_DIR):
        path = folder / f"{name}.txt"
        if path.is_file():
            try:
                return path.read_text(encoding="utf-8"), path
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path}: cannot read template: {exc}") from None
    raise NotFoundError(f"template {name!r} not found in {templates_dir(directory)} or the defaults")


def check_template(text: str) -> list[str]:
    """Placeholders in ``text`` that no context provides (typos)."""
    names = set()
    for m in string.Template.pattern.finditer(text):
        name = m.group("named") or m.group("braced")
        if name:
            names.add(name)
    return sorted(names - set(FIELDS))


def statuspage_status(records: list[dict]) -> str:
    """investigating → identified → monitoring → resolved, from the incident's progress."""
    state = replay(records)
    if state.resolved:
        return "resolved"
    if state.phase in ("verify", "monitor"):
        return "monitoring"
    if state.revision is not None or state.phase == "execute":
        return "identified"
    return "investigating"


def context(
    records: list[dict], *, now: datetime | None = None, update_every_min: float = 5.0,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Placeholder values from the journal ``records``. ``now`` (default: the last record's
    time) measures ``elapsed`` for an open incident; ``extra`` adds or overrides values."""
    state = replay(records)
    rep = build_report(records, now=now)
    as_of = now or (state.resolved_at if state.resolved else None)
    if as_of is None:
        stamps = [r.get("ts") for r in records if isinstance(r.get("ts"), str)]
        as_of = datetime.fromisoformat(stamps[-1].replace("Z", "+00:00")) if stamps else None
    points = metric_points(records)
    er = next((p[1] for p in reversed(points) if p[1] is not None), None)
    p95 = next((p[2] for p in reversed(points) if p[2] is not None), None)
    elapsed = (as_of - state.opened_at).total_seconds() if as_of and state.opened_at else None
    failed = next((s for s in sorted(state.steps.values(), key=lambda s: s.index) if s.status == "failed"), None)
    ok_actions = sum(1 for a in rep.actions if a["status"] == "ok")
    frm, to = rep.revision.get("from"), rep.revision.get("to")
    ctx = {
        "service": state.target or "the service",
        "target": state.target or "",
        "from_version": "?" if frm is None else (f"revision {frm}" if isinstance(frm, int) else str(frm)),
        "to_version": "?" if to is None else (f"revision {to}" if isinstance(to, int) else str(to)),
        "images": ", ".join(str(i) for i in rep.revision.get("images") or []) or "—",
        "reason": rep.reason or "—",  # why the rollback was started (the report's one-line summary)
        "verdict": state.verdict or "—",
        "verdict_reasons": "; ".join(state.verdict_reasons) or "no reasons recorded",
        "elapsed": duration(elapsed),
        "who": state.opened_by or "—",
        "phase": state.phase or "declare",
        "status": statuspage_status(records),
        "opened_utc": _utc(state.opened_at),
        "now_utc": _utc(as_of),
        "error_rate": pct(er),
        "p95": ms(p95),
        "users_affected": "—" if state.inputs.get("users_affected") is None else str(state.inputs["users_affected"]),
        "next_update_min": f"{update_every_min:g}",
        "mentions": "",
        "level": "",
        "failed_step": f"{failed.index + 1} ({failed.kind})" if failed else "—",
        "error": (f"{failed.error_title}: {failed.error_message}" if failed else "—"),
        "actions_summary": f"{ok_actions} of {len(rep.actions)} actions done" if rep.actions else "none yet",
    }
    for k, v in (extra or {}).items():
        ctx[k] = "" if v is None else str(v)
    return {k: sanitize(v, max_len=1000) for k, v in ctx.items()}


def render(
    name: str, ctx: Mapping[str, str], *, directory: str | os.PathLike | None = None,
    escape: Callable[[str], str] | None = None, text: str | None = None,
) -> Message:
    """Fill template ``name`` (or the given ``text``, e.g. edited by the operator)."""
    raw = text if text is not None else load_template(name, directory)[0]
    values = {k: (escape(v) if escape else v) for k, v in ctx.items()}
    filled = string.Template(raw).safe_substitute(values)
    title, _, body = filled.partition("\n")
    return Message(name, sanitize(title, max_len=300).strip(), body.strip("\n"))


def _utc(at: datetime | None) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if at else "—"
