"""Team communication during an incident: what is due next, and when. Pure.

The runbooks say: post when the rollback starts and ends, *update every 5 minutes* while the
incident is open, and escalate (team lead, then CTO) when it drags on. This module decides
what is due from the journal alone — no clock reads, no I/O — so the cockpit, observers and
tests all agree:

- :func:`plan` ``(records, policy) -> CommsPlan``: the next periodic update and every
  escalation level with its due time and status; :attr:`CommsPlan.next` is the earliest
  item still to do (the TUI shows it with a countdown).
- :func:`next_due` is the shortcut for ``plan(...).next``.
- :func:`timeliness` ``(records, policy)``: every item that fell due while the incident was
  open and what became of it (sent on time, late, skipped, missed) — the drill score's
  "comms sent on time".
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
- "Rollback started" (item ``started``, template ``started``): due the moment the rollback
  starts (the first ``phase`` record ``execute``); done once a delivered notification with
  ``purpose: started`` or a ``comms`` skip of ``started`` is journaled; still pending when
  the rollback is verified, it is ``cancelled`` (the periodic update tells the news then).

:func:`communication_tick` is the ``check`` event that ticks the "Communication sent" item
of a checklist once a Slack notification was delivered (journaled ``notification`` with
``channel: slack, ok: true``; in a drill, a message posted to the drill's ``outbox``).

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
    channels: list[Literal["slack", "webhook", "pagerduty"]] = Field(default_factory=lambda: ["slack"])


def _default_escalations() -> list[EscalationLevel]:
    return [EscalationLevel(after_min=5), EscalationLevel(after_min=15)]


class PagerDutySettings(BaseModel):
    """PagerDuty as a comms channel (Events API v2): trigger on declare, acknowledge when the
    rollback starts, resolve when the incident resolves, one ``dedup_key`` per incident.

    ``NotifySettings.pagerduty`` (``COCKPIT_NOTIFY__PAGERDUTY__ROUTING_KEY``); the full-screen
    cockpit's comms controller sends what is owed on its 5 s tick.
    """

    model_config = ConfigDict(extra="forbid")

    routing_key: SecretStr | None = Field(None, description="Events API v2 integration key of the service to page (a secret)")
    url: str = Field("https://events.pagerduty.com", description="Events API base URL (events go to <url>/v2/enqueue)")
    severity: Literal["critical", "error", "warning", "info"] = Field("critical", description="payload.severity of the page")
    source: str = Field("", description="payload.source (default: the incident's target)")


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
    pagerduty: PagerDutySettings = Field(default_factory=lambda: PagerDutySettings(),
                                         description="PagerDuty Events API v2: trigger on declare, acknowledge when the "
                                                     "rollback starts, resolve when resolved")
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

    kind: Literal["update", "escalation", "started"]
    due_at: datetime
    level: int | None = None
    targets: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    status: Literal["pending", "sent", "skipped", "cancelled"] = "pending"
    done_at: datetime | None = None

    @property
    def key(self) -> str:
        """Stable id of the item: ``update``, ``started`` or ``escalation:<level>``."""
        return f"escalation:{self.level}" if self.kind == "escalation" else self.kind

    @property
    def template(self) -> str:
        return {"update": "progress", "started": "started"}.get(self.kind, "escalation")

    @property
    def label(self) -> str:
        """What the item is, for people: ``periodic update``, ``rollback started``, ``escalation 2``."""
        return {"update": "periodic update", "started": "rollback started"}.get(self.kind, f"escalation {self.level}")

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
    started: Due | None = None
    """The "rollback started" message (None: no rollback has started)."""

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
    started_done: tuple[str, datetime | None] | None = None
    verified: datetime | None = None
    rollback_started: datetime | None = None
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
        elif t == "phase" and r.get("phase") == "execute" and opened is not None and rollback_started is None:
            rollback_started = at or opened
        elif t == "notification":
            if not r.get("ok"):
                failed += 1
                continue
            if r.get("channel") == PAGERDUTY and r.get("purpose") != "escalation":
                continue  # a page's trigger / acknowledge / resolve is not a team update
            last_sent = at
            if r.get("purpose") == "started" and started_done is None:
                started_done = ("sent", at)
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
            elif item == "started" and started_done is None:
                started_done = ("skipped", at)
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
    started = None
    if rollback_started is not None:
        if started_done is not None:
            started = Due("started", rollback_started, status=started_done[0], done_at=started_done[1])  # type: ignore[arg-type]
        elif verified is not None:
            started = Due("started", rollback_started, status="cancelled", done_at=verified)
        elif is_open:
            started = Due("started", rollback_started)
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
    items = tuple(([started] if started else []) + ([update] if update else []) + escalations)  # announce first
    return CommsPlan(is_open, update, tuple(escalations), last_sent, failed, items, started)


def next_due(records: list[dict], policy: CommsPolicy | None = None) -> Due | None:
    """The earliest pending communication item, or None (closed / nothing configured)."""
    return plan(records, policy).next


COMMUNICATION_ITEM = "communication_sent"
"""The id of the "Communication sent" item (:data:`cockpit.runbook.DEFAULT_CHECKLIST`)."""
OUTBOX = "outbox"
"""The drill's local channel (:mod:`backends.notify.outbox`): messages are journaled, never sent.
In a drill's incident a message posted there ticks "Communication sent" as Slack would."""


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
    drill = bool(getattr(state, "drill", False))
    sent = next((n for n in state.notifications if n.ok and (n.channel == "slack" or (drill and n.channel == OUTBOX))), None)
    if sent is None:
        return None
    what = f"{sent.purpose} message" if sent.purpose else "message"
    when = f" at {sent.at.astimezone(timezone.utc).strftime('%H:%M:%S')} UTC" if sent.at else ""
    if sent.channel == OUTBOX:
        return {"id": item.id, "ok": True, "who": "cockpit", "evidence": f"drill outbox: {what} posted{when}"}
    return {"id": item.id, "ok": True, "who": "cockpit", "evidence": f"Slack {what} delivered{when}"}


# --------------------------------------------------------------------------- PagerDuty

PAGERDUTY = "pagerduty"
PAGE_ACTIONS = ("trigger", "acknowledge", "resolve")


def current_incident(records: list[dict]) -> list[dict]:
    """The records of the journal's current incident: from its latest ``incident_opened``."""
    start = max((i for i, r in enumerate(records) if r.get("type") == "incident_opened"), default=None)
    return [] if start is None else records[start:]


def incident_dedup_key(records: list[dict]) -> str | None:
    """The PagerDuty ``dedup_key`` of the journal's current incident, derived from its
    ``incident_opened`` record (who, when, seq, target): the same for every send and resend
    about this incident, from any process reading the journal, so PagerDuty never opens a
    second alert for it. None when no incident is open in ``records``."""
    inc = current_incident(records)
    if not inc:
        return None
    o = inc[0]
    import hashlib

    ident = "\x1f".join(str(o.get(k, "")) for k in ("actor", "ts", "seq", "target"))
    return "cockpit-" + hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def pagerduty_owed(records: list[dict]) -> list[str]:
    """The PagerDuty event actions the current incident owes, in order (pure).

    ``trigger`` once the incident is declared (a drill pages no one); ``acknowledge`` once the
    rollback starts (the first ``phase`` ``execute``) while unresolved; ``resolve`` once the
    incident is resolved or closed, if a page went out. Each is done once a delivered
    ``notification`` on channel ``pagerduty`` with that ``purpose`` is journaled (a delivered
    escalation page counts as the trigger); a failed delivery leaves it owed, and resending
    carries the same :func:`incident_dedup_key`. Resolved before any page went out: nothing.
    """
    inc = current_incident(records)
    if not inc or inc[0].get("drill"):
        return []
    done: set[str] = set()
    started = resolved = False
    for r in inc:
        t = r.get("type")
        if t == "phase" and r.get("phase") == "execute":
            started = True
        elif t in ("incident_resolved", "incident_closed"):
            resolved = True
        elif t == "notification" and r.get("channel") == PAGERDUTY and r.get("ok"):
            purpose = r.get("purpose")
            done.add("trigger" if purpose == "escalation" else str(purpose))
    owed = []
    if resolved:
        if "trigger" in done and "resolve" not in done:
            owed.append("resolve")
        return owed
    if "trigger" not in done:
        owed.append("trigger")
    if started and "acknowledge" not in done:
        owed.append("acknowledge")
    return owed


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


# --------------------------------------------------------------------------- on time?

ON_TIME_GRACE_S = 120.0
"""A message counts as on time when it went out at most this long after it fell due (the
runbooks' "Update Status (< 2 minutes)")."""

_PLAN_TYPES = frozenset({"incident_opened", "incident_resolved", "incident_closed", "phase", "notification", "comms"})


@dataclass(frozen=True)
class ItemFate:
    """What became of one comms item that fell due while the incident was open."""

    key: str
    label: str
    due_at: datetime
    status: Literal["on_time", "late", "skipped", "missed"]
    done_at: datetime | None = None


def timeliness(records: list[dict], policy: CommsPolicy | None = None, *,
               grace_s: float = ON_TIME_GRACE_S) -> list[ItemFate]:
    """Every comms item of the incident and whether it went out on time, from the journal alone.

    An item counts once it was sent or skipped, or once it was overdue by more than
    ``grace_s`` while the incident was open (then it is *missed*). Sent within ``grace_s``
    of its due time (or before it) is *on time*, later is *late*. An escalation cancelled by
    the verification, or an update still inside its grace when the incident was resolved,
    does not count; the "rollback started" message always does (never sent: *missed*).
    Pure: replays :func:`plan` over the journal's comms-relevant records.
    """
    relevant = [r for r in records if r.get("type") in _PLAN_TYPES]
    fates: dict[tuple[str, datetime], ItemFate | None] = {}
    labels: dict[tuple[str, datetime], str] = {}
    open_until: datetime | None = None

    def settle(k: tuple[str, datetime], status: str, at: datetime | None) -> None:
        key, due_at = k
        if status in ("sent", "skipped"):
            late = status == "sent" and at is not None and (at - due_at).total_seconds() > grace_s
            fates[k] = ItemFate(key, labels[k], due_at, "skipped" if status == "skipped" else ("late" if late else "on_time"), at)
        elif key == "started" or (at is not None and (at - due_at).total_seconds() > grace_s):
            fates[k] = ItemFate(key, labels[k], due_at, "missed", None)  # a rollback always owes its announcement
        else:
            fates.pop(k, None)  # never really due: not counted

    for i in range(1, len(relevant) + 1):
        p = plan(relevant[:i], policy)
        rec, at = relevant[i - 1], _ts(relevant[i - 1])
        if rec.get("type") in ("incident_resolved", "incident_closed") and open_until is None:
            open_until = at
        now = {(d.key, d.due_at): d for d in p.items}
        for k, d in now.items():
            if k not in fates:
                labels[k] = d.label
                fates[k] = None
                if d.status != "pending":
                    settle(k, d.status, d.done_at)
            elif fates[k] is None and d.status != "pending":
                settle(k, d.status, d.done_at)
        for k in [k for k, f in fates.items() if f is None and k not in now]:
            # gone from the plan: the update was rescheduled by this record, or the incident closed
            if at is not None and at < k[1]:
                fates.pop(k)  # an update not due yet, superseded by an earlier message: not counted
            elif rec.get("type") == "notification" and rec.get("ok"):
                settle(k, "sent", at)
            elif rec.get("type") == "comms" and rec.get("action") == "skip":
                settle(k, "skipped", at)
            else:
                settle(k, "closed", at)
    end = open_until or next((_ts(r) for r in reversed(relevant) if _ts(r) is not None), None)
    for k in [k for k, f in fates.items() if f is None]:
        settle(k, "open", end)
    return sorted((f for f in fates.values() if f is not None), key=lambda f: (f.due_at, f.key))
