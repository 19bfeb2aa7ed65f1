"""Team communication during an incident: what is due next, and when. Pure.

The runbooks say: post when the rollback starts and ends, *update every 5 minutes* while the
incident is open, and escalate (team lead, then CTO) when it drags on. This module decides
what is due from the journal alone — no clock reads, no I/O — so the cockpit, observers and
tests all agree:

- :func:`plan` ``(records, policy) -> CommsPlan``: the next periodic update and every
  escalation level with its due time and status; :attr:`CommsPlan.next` is the earliest
  item still to do (the TUI shows it with a countdown).
- :func:`next_due` is the shortcut for ``plan(...).next``.
- :func:`skip_event` / :func:`edit_event` build the ``comms`` journal records for "skip this
  one" and "edited before sending"; sends are journaled by the notify backend as
  ``notification`` records carrying ``purpose`` (``started``, ``progress``, ``completed``,
  ``failed``, ``escalation``) and, for escalations, ``level``.

Rules (from the journal):

- The incident is *open* from ``incident_opened`` until ``incident_resolved`` /
  ``incident_closed``; nothing is due before or after.
- Periodic update: due ``update_every_s`` after the latest of: the incident opening, any
  *delivered* non-escalation notification, or a ``comms`` skip of an update. A failed
  delivery does not reset the timer (the update is still owed).
- Escalation level *i*: due ``after_s`` after the opening; done once a delivered
  notification with ``purpose: escalation, level: i`` or a ``comms`` skip of that level is
  journaled. Resolving before the time means it is never due. Once the rollback is verified
  (the incident enters the ``monitor`` phase: a ``phase`` record ``monitor``) every escalation
  not yet sent or skipped is ``cancelled`` (no one is paged about an incident under control).

:func:`communication_tick` is the ``check`` event that ticks the "Communication sent" item
of a checklist once a Slack notification was delivered (journaled ``notification`` with
``channel: slack, ok: true``).

The settings model :class:`NotifySettings` lives here too (core, no I/O, pydantic) so that
``cockpit/config.py`` can adopt it as its ``notify`` section with one line.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

# --------------------------------------------------------------------------- settings


class EscalationLevel(BaseModel):
    """One escalation: after ``after_min`` minutes unresolved, notify ``targets``."""

    model_config = ConfigDict(extra="forbid")

    after_min: float = Field(gt=0, description="minutes after the incident was declared")
    targets: list[str] = Field(default_factory=list, description="who to page, e.g. '@platform-lead' or '<!subteam^S0123>'")
    channels: list[Literal["slack", "webhook"]] = Field(default_factory=lambda: ["slack"])


def _default_escalations() -> list[EscalationLevel]:
    return [EscalationLevel(after_min=5), EscalationLevel(after_min=15)]


class NotifySettings(BaseModel):
    """The ``notify`` section: channels (secrets as ``SecretStr``), cadence, escalation.

    Environment: ``COCKPIT_NOTIFY__SLACK_WEBHOOK_URL``, ``COCKPIT_NOTIFY__WEBHOOK_URL``,
    ``COCKPIT_NOTIFY__STATUSPAGE_API_KEY``, ``COCKPIT_NOTIFY__STATUSPAGE_PAGE_ID``,
    ``COCKPIT_NOTIFY__UPDATE_EVERY_MIN``, ``COCKPIT_NOTIFY__ESCALATION`` (JSON list)...
    """

    model_config = ConfigDict(extra="forbid")

    slack_webhook_url: SecretStr | None = Field(None, description="Slack incoming-webhook URL (a secret)")
    webhook_url: SecretStr | None = Field(None, description="generic JSON webhook URL (a secret)")
    webhook_headers: dict[str, SecretStr] = Field(default_factory=dict, description="extra headers for the generic webhook (secrets)")
    statuspage_api_key: SecretStr | None = Field(None, description="Statuspage API key (sent as 'Authorization: OAuth <key>')")
    statuspage_page_id: str = Field("", description="Statuspage page id")
    statuspage_url: str = Field("https://api.statuspage.io", description="Statuspage API base URL")
    statuspage_components: list[str] = Field(default_factory=list, description="affected component ids")
    statuspage_component_status: Literal["operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage"] = "partial_outage"
    update_every_min: float = Field(5.0, gt=0, description="periodic update cadence while open (runbook: 5)")
    escalation: list[EscalationLevel] = Field(default_factory=_default_escalations)
    templates_dir: Path | None = Field(None, description="directory of template overrides (default: $XDG_CONFIG_HOME/cockpit/templates)")
    timeout_s: float = Field(10.0, gt=0, description="per-request timeout")
    attempts: int = Field(4, ge=1, le=10, description="tries per send (retries on 5xx / network errors)")
    backoff_s: float = Field(1.0, ge=0, description="first back-off (doubles per retry, capped at 30 s)")

    def policy(self) -> CommsPolicy:
        return CommsPolicy(
            update_every_s=self.update_every_min * 60.0,
            escalations=tuple(
                EscalationRule(level=i + 1, after_s=e.after_min * 60.0, targets=tuple(e.targets), channels=tuple(e.channels))
                for i, e in enumerate(sorted(self.escalation, key=lambda e: e.after_min))
            ),
        )

    def configured_channels(self) -> list[str]:
        out = []
        if self.slack_webhook_url is not None:
            out.append("slack")
        if self.statuspage_api_key is not None and self.statuspage_page_id:
            out.append("statuspage")
        if self.webhook_url is not None:
            out.append("webhook")
        return out


def load_notify_settings(env: dict[str, str] | None = None) -> NotifySettings:
    """The ``notify`` section of the settings (defaults ← config file ← ``COCKPIT_NOTIFY__*``).

    Raises ConfigError naming the file or variable on a bad value.
    """
    from cockpit.config import load_settings  # config imports this module: import here

    return load_settings(env=env).notify


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class EscalationRule:
    level: int
    after_s: float
    targets: tuple[str, ...] = ()
    channels: tuple[str, ...] = ("slack",)


@dataclass(frozen=True)
class CommsPolicy:
    update_every_s: float = 300.0
    escalations: tuple[EscalationRule, ...] = (EscalationRule(1, 300.0), EscalationRule(2, 900.0))


@dataclass(frozen=True)
class Due:
    """One communication item: a periodic update or an escalation level."""

    kind: Literal["update", "escalation"]
    due_at: datetime
    level: int | None = None
    targets: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    status: Literal["pending", "sent", "skipped", "cancelled"] = "pending"
    done_at: datetime | None = None

    @property
    def key(self) -> str:
        """Stable id of the item: ``update`` or ``escalation:<level>``."""
        return "update" if self.kind == "update" else f"escalation:{self.level}"

    @property
    def template(self) -> str:
        return "progress" if self.kind == "update" else "escalation"

    def seconds_until(self, now: datetime) -> float:
        """Negative when overdue."""
        return (self.due_at - now).total_seconds()

    def overdue(self, now: datetime) -> bool:
        return self.status == "pending" and self.due_at <= now


@dataclass(frozen=True)
class CommsPlan:
    open: bool
    update: Due | None
    escalations: tuple[Due, ...] = ()
    last_sent_at: datetime | None = None
    failed_sends: int = 0
    items: tuple[Due, ...] = field(default=())

    @property
    def next(self) -> Due | None:
        """The earliest pending item (what the cockpit shows with a countdown)."""
        pending = [d for d in self.items if d.status == "pending"]
        return min(pending, key=lambda d: (d.due_at, d.kind != "escalation")) if pending else None

    def due_now(self, now: datetime) -> list[Due]:
        """Pending items whose time has come, escalations first."""
        return sorted((d for d in self.items if d.overdue(now)), key=lambda d: (d.kind != "escalation", d.due_at))


def _ts(record: dict) -> datetime | None:
    ts = record.get("ts")
    if not isinstance(ts, str):
        return None
    try:
        v = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return v if v.tzinfo else v.replace(tzinfo=timezone.utc)


def plan(records: list[dict], policy: CommsPolicy | None = None) -> CommsPlan:
    """What communication is owed for the incident these ``records`` describe: a pure
    function of the records and the policy (no clock: ask the items ``overdue(now)``)."""
    policy = policy or CommsPolicy()
    opened: datetime | None = None
    closed = False
    last_update: datetime | None = None
    last_sent: datetime | None = None
    failed = 0
    esc_done: dict[int, tuple[str, datetime | None]] = {}
    verified: datetime | None = None
    for r in records:
        t = r.get("type")
        at = _ts(r)
        if t == "incident_opened" and opened is None:
            opened = at
            last_update = at
        elif t in ("incident_resolved", "incident_closed"):
            closed = True
        elif t == "phase" and r.get("phase") == "monitor" and opened is not None and verified is None:
            verified = at or opened
        elif t == "notification":
            if not r.get("ok"):
                failed += 1
                continue
            last_sent = at
            if r.get("purpose") == "escalation":
                lvl = r.get("level")
                if isinstance(lvl, int):
                    esc_done.setdefault(lvl, ("sent", at))
            elif at is not None:
                last_update = at if last_update is None else max(last_update, at)
        elif t == "comms" and r.get("action") == "skip":
            item = str(r.get("item", ""))
            if item == "update" and at is not None:
                last_update = at if last_update is None else max(last_update, at)
            elif item.startswith("escalation:"):
                try:
                    esc_done.setdefault(int(item.split(":", 1)[1]), ("skipped", at))
                except ValueError:
                    pass
    if opened is None:
        return CommsPlan(open=False, update=None, last_sent_at=last_sent, failed_sends=failed)
    is_open = not closed
    update = None
    if is_open and last_update is not None:
        update = Due("update", last_update + timedelta(seconds=policy.update_every_s))
    escalations = []
    for rule in policy.escalations:
        due_at = opened + timedelta(seconds=rule.after_s)
        done = esc_done.get(rule.level)
        if done is not None:
            escalations.append(Due("escalation", due_at, rule.level, rule.targets, rule.channels, done[0], done[1]))  # type: ignore[arg-type]
        elif verified is not None:
            escalations.append(Due("escalation", due_at, rule.level, rule.targets, rule.channels, "cancelled", verified))
        elif is_open:
            escalations.append(Due("escalation", due_at, rule.level, rule.targets, rule.channels))
    items = tuple(([update] if update else []) + escalations)
    return CommsPlan(is_open, update, tuple(escalations), last_sent, failed, items)


def next_due(records: list[dict], policy: CommsPolicy | None = None) -> Due | None:
    """The earliest pending communication item, or None (closed / nothing configured)."""
    return plan(records, policy).next


COMMUNICATION_ITEM = "communication_sent"
"""The id of the "Communication sent" item (:data:`cockpit.runbook.DEFAULT_CHECKLIST`)."""


def communication_tick(items: Iterable[Any], state: Any) -> dict | None:
    """The ``check`` event to journal now for the "Communication sent" item, or None.

    ``items``: the checklist (objects with ``id`` and ``title``); the item is the one with id
    ``communication_sent`` or titled "Communication sent". ``state``: the incident's
    :class:`cockpit.state.IncidentState`. Due when the first delivered Slack notification is
    journaled and the item has no ok tick yet; the evidence names the message and its time.
    """
    item = next((i for i in items if getattr(i, "id", None) == COMMUNICATION_ITEM
                 or str(getattr(i, "title", "")).strip().lower() == "communication sent"), None)
    if item is None:
        return None
    tick = state.checks.get(item.id)
    if tick is not None and tick.ok:
        return None
    sent = next((n for n in state.notifications if n.ok and n.channel == "slack"), None)
    if sent is None:
        return None
    what = f"{sent.purpose} message" if sent.purpose else "message"
    when = f" at {sent.at.astimezone(timezone.utc).strftime('%H:%M:%S')} UTC" if sent.at else ""
    return {"id": item.id, "ok": True, "who": "cockpit", "evidence": f"Slack {what} delivered{when}"}


def skip_event(due: Due, *, note: str = "") -> dict:
    """``journal.append("comms", **skip_event(due))``: the operator skipped this item."""
    return {"action": "skip", "item": due.key, "due_at": _iso(due.due_at), "note": note}


def edit_event(due_or_purpose: Due | str, *, template: str, chars: int) -> dict:
    """``journal.append("comms", **edit_event(...))``: the operator edited the text before
    sending (the text itself goes out in the ``notification`` record's ``text``)."""
    item = due_or_purpose.key if isinstance(due_or_purpose, Due) else str(due_or_purpose)
    return {"action": "edit", "item": item, "template": template, "chars": chars}


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
