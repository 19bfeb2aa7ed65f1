"""The Notifier: render a template from the journal, send it, journal the delivery.

.. code-block:: python

    n = Notifier(load_notify_settings(), journal=journal, readonly=args.readonly)
    msg = n.preview("slack", "started", journal.read())   # for "edit before sending"
    d = n.send("slack", "started", journal.read())         # or text=edited_text
    for due in plan(journal.read(), settings.policy()).due_now(now):
        n.send_due(due, journal.read())

Each send journals one ``notification`` record: ``channel``, ``ok``, ``detail``, ``purpose``
(the template: started / progress / completed / failed / escalation / statuspage), ``level``
(escalations), ``attempts``, ``status_code``, ``title``, ``edited``, ``item`` (the comms
item it answers), and for Statuspage ``incident_id`` / ``statuspage_status``. Readonly
refuses before anything is rendered or sent; an unconfigured channel is a CockpitError;
an HTTP or network failure is a journaled ``ok: false`` delivery (never an exception).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import httpx

from backends.notify import pagerduty, slack, statuspage, webhook
from backends.notify.base import Delivery, HttpSender, require, scrub
from cockpit.comms import PAGE_ACTIONS, PAGERDUTY, Due, NotifySettings, PagerDutySettings, incident_dedup_key, pagerduty_owed
from cockpit.errors import ConfigError, ReadonlyError
from cockpit.templates import Message, context, render, statuspage_status

CHANNELS = ("slack", "statuspage", "webhook", "pagerduty")


def statuspage_incident_id(records: list[dict]) -> str | None:
    """The Statuspage incident this journal created (the latest delivered one)."""
    found = None
    for r in records:
        if r.get("type") == "notification" and r.get("channel") == "statuspage" and r.get("ok") and r.get("incident_id"):
            found = str(r["incident_id"])
    return found


class Notifier:
    def __init__(
        self, settings: NotifySettings, *, readonly: bool = False, journal: Any = None,
        transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep,
        pagerduty: PagerDutySettings | None = None,
    ) -> None:
        self.settings = settings
        self.pagerduty: PagerDutySettings = (pagerduty if pagerduty is not None
                                             else getattr(settings, "pagerduty", None) or PagerDutySettings())
        """PagerDuty's settings: the argument, else ``settings.pagerduty`` once the notify
        settings carry it."""
        self.readonly = readonly
        self.journal = journal
        self.sender = HttpSender(timeout=settings.timeout_s, attempts=settings.attempts, backoff=settings.backoff_s,
                                 readonly=readonly, transport=transport, sleep=sleep)

    # ---- queries

    @property
    def channels(self) -> list[str]:
        """Configured channels (``slack``, ``statuspage``, ``webhook``, ``pagerduty``)."""
        chans = self.settings.configured_channels()
        if self.pagerduty.routing_key is not None and PAGERDUTY not in chans:
            chans.append(PAGERDUTY)
        return chans

    def _secrets(self) -> list:
        s = self.settings
        return [s.slack_webhook_url, s.webhook_url, s.statuspage_api_key, *s.webhook_headers.values(),
                self.pagerduty.routing_key]

    def default_template(self, channel: str, records: list[dict], status: str | None = None) -> str:
        if channel == "statuspage":
            return f"statuspage_{status or statuspage_status(records)}"
        return "progress"

    def preview(
        self, channel: str, template: str | None, records: list[dict], *, now: datetime | None = None,
        extra: Mapping[str, Any] | None = None, status: str | None = None,
    ) -> Message:
        """The message that :meth:`send` would send (for the operator to read or edit)."""
        name = template or self.default_template(channel, records, status)
        ctx = context(records, now=now, update_every_min=self.settings.update_every_min, extra=extra)
        return render(name, ctx, directory=self.settings.templates_dir, escape=slack.escape if channel == "slack" else None)

    # ---- sending

    def send(
        self, channel: str, template: str | None = None, records: list[dict] | None = None, *,
        text: str | None = None, purpose: str | None = None, level: int | None = None, status: str | None = None,
        now: datetime | None = None, extra: Mapping[str, Any] | None = None, item: str | None = None,
    ) -> Delivery:
        """Render and send one message on ``channel``; journal the delivery.

        ``text``: the operator's edited text (first line title, rest body; it replaces the
        template and is journaled as ``edited: true``). ``status`` (Statuspage): default from
        the incident's progress.
        """
        if self.readonly:
            raise ReadonlyError(f"readonly: not notifying {channel} (nothing was sent)")
        if channel not in CHANNELS:
            raise ConfigError(f"unknown notification channel {channel!r}; expected one of {', '.join(CHANNELS)}")
        records = records if records is not None else (self.journal.read() if self.journal is not None else [])
        s = self.settings
        if channel == "statuspage":
            status = status or statuspage_status(records)
        name = template or self.default_template(channel, records, status)
        ctx = context(records, now=now, update_every_min=s.update_every_min, extra=extra)
        msg = render(name, ctx, directory=s.templates_dir, escape=slack.escape if channel == "slack" else None, text=text)
        purpose = purpose or ("statuspage" if name.startswith("statuspage_") else name)
        where = f"journal {self.journal.path.name}" if self.journal is not None else ""
        extra_data: dict[str, Any] = {}
        if channel == PAGERDUTY:
            action = purpose if purpose in PAGE_ACTIONS else "trigger"  # an escalation pages (a trigger)
            purpose = purpose if purpose in (*PAGE_ACTIONS, "escalation", "test") else action
            d = self._page(action, records, msg if purpose == "escalation" or text is not None else None, ctx)
            d.detail = scrub(d.detail, self._secrets())
            self._journal(d, purpose=purpose, level=level, title=msg.title if action == "trigger" else "",
                          edited=text is not None, item=item, dedup_key=d.data.get("dedup_key"))
            return d
        if channel == "slack":
            url = require(s.slack_webhook_url, "the Slack webhook URL", "COCKPIT_NOTIFY__SLACK_WEBHOOK_URL")
            d = slack.send(self.sender, url, msg, context=f"Rollback Cockpit · {ctx['service']} · {where}".rstrip(" ·"))
        elif channel == "webhook":
            url = require(s.webhook_url, "the webhook URL", "COCKPIT_NOTIFY__WEBHOOK_URL")
            d = webhook.send(self.sender, url, msg, event=purpose, context=ctx, level=level, headers=s.webhook_headers)
        else:
            key = require(s.statuspage_api_key, "the Statuspage API key", "COCKPIT_NOTIFY__STATUSPAGE_API_KEY")
            page = require(s.statuspage_page_id, "the Statuspage page id", "COCKPIT_NOTIFY__STATUSPAGE_PAGE_ID")
            d = statuspage.send(self.sender, base_url=s.statuspage_url, page_id=page, api_key=key, message=msg,
                                status=status or "investigating", incident_id=statuspage_incident_id(records),
                                components=s.statuspage_components, component_status=s.statuspage_component_status)
        d.detail = scrub(d.detail, self._secrets())
        self._journal(d, purpose=purpose, level=level, title=msg.title, edited=text is not None, item=item)
        return d

    def _page(self, action: str, records: list[dict], msg: Message | None, ctx: Mapping[str, str]) -> Delivery:
        pd = self.pagerduty
        key = require(pd.routing_key, "the PagerDuty routing key", "COCKPIT_NOTIFY__PAGERDUTY__ROUTING_KEY")
        dedup = incident_dedup_key(records)
        if dedup is None:
            raise ConfigError("no incident in the journal to page about", hint="declare the incident first")
        details = {k: ctx[k] for k in ("target", "reason", "from_version", "to_version", "phase", "who", "opened_utc")
                   if ctx.get(k) not in (None, "", "—", "?")}
        if self.journal is not None:
            details["journal"] = self.journal.path.name
        reason = ctx.get("reason") if ctx.get("reason") not in (None, "", "—") else ""
        summary = (msg.title if msg is not None and msg.title else
                   f"Rollback incident declared on {ctx.get('service') or 'the service'}" + (f": {reason}" if reason else ""))
        return pagerduty.send(self.sender, url=pd.url, action=action, routing_key=key, dedup_key=dedup,
                              summary=summary, source=pd.source or ctx.get("target") or "cockpit",
                              severity=pd.severity, details=details)

    def page(self, records: list[dict] | None = None, *, now: datetime | None = None) -> list[Delivery]:
        """Send what PagerDuty is owed for the current incident (:func:`cockpit.comms.pagerduty_owed`):
        the trigger on declare, the acknowledge once the rollback started, the resolve once
        resolved — each journaled, stopping at the first that is not delivered (it stays owed,
        and a resend carries the same ``dedup_key``). Nothing owed or no routing key: []."""
        if self.readonly:
            raise ReadonlyError("readonly: not paging (nothing was sent)")
        if self.pagerduty.routing_key is None:
            return []
        records = records if records is not None else (self.journal.read() if self.journal is not None else [])
        out: list[Delivery] = []
        for action in pagerduty_owed(records):
            d = self.send(PAGERDUTY, "progress", records, purpose=action, now=now)
            out.append(d)
            if not d.ok:
                break
            if self.journal is not None:
                records = self.journal.read()
        return out

    def send_due(self, due: Due, records: list[dict] | None = None, *, text: str | None = None,
                 now: datetime | None = None) -> list[Delivery]:
        """Send a comms item (periodic update or escalation) on its channels."""
        if self.readonly:
            raise ReadonlyError("readonly: not notifying (nothing was sent)")
        chans = list(due.channels) if due.kind == "escalation" else [c for c in ("slack", "webhook") if c in self.channels]
        chans = [c for c in chans if c in self.channels]
        if not chans:
            raise ConfigError(f"no configured channel for {due.key}", hint="set COCKPIT_NOTIFY__SLACK_WEBHOOK_URL or a webhook")
        extra = {"level": due.level or "", "mentions": " ".join(due.targets)} if due.kind == "escalation" else None
        return [self.send(c, due.template, records, text=text, purpose=due.template, level=due.level, now=now,
                          extra=extra, item=due.key) for c in chans]

    def test(self, channel: str) -> Delivery:
        """Send a harmless test message (journaled only when a journal is attached)."""
        records = [{"seq": 1, "ts": "1970-01-01T00:00:00.000Z", "type": "incident_opened", "target": "cockpit-test",
                    "reason": "notification test", "who": "cockpit"}]
        if channel == "statuspage":  # never open a public incident to test: read the page instead
            if self.readonly:
                raise ReadonlyError("readonly: not contacting Statuspage (nothing was sent)")
            s = self.settings
            key = require(s.statuspage_api_key, "the Statuspage API key", "COCKPIT_NOTIFY__STATUSPAGE_API_KEY")
            page = require(s.statuspage_page_id, "the Statuspage page id", "COCKPIT_NOTIFY__STATUSPAGE_PAGE_ID")
            d = self.sender.request("statuspage", "Statuspage", "GET", f"{s.statuspage_url.rstrip('/')}/v1/pages/{page}",
                                    json=None, headers={"Authorization": f"OAuth {key.get_secret_value()}"}, secrets=[key])
            d.detail = scrub(d.detail, self._secrets())
            self._journal(d, purpose="test")
            return d
        text = "Rollback Cockpit: test notification\nThis is a test of the cockpit's notification channel. No action needed."
        return self.send(channel, None, records, text=text, purpose="test")

    def _journal(self, d: Delivery, **data: Any) -> None:
        if self.journal is None:
            return
        extra = {k: v for k, v in data.items() if v not in (None, "", False)}
        if d.data.get("incident_id"):
            extra["incident_id"] = d.data["incident_id"]
        if d.data.get("status") and d.channel == "statuspage":
            extra["statuspage_status"] = d.data["status"]
        self.journal.append("notification", channel=d.channel, ok=d.ok, detail=d.detail, attempts=d.attempts,
                            status_code=d.status, **extra)
