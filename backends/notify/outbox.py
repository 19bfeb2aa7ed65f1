"""The drill's outbox: a local notification channel, so comms can be rehearsed without a Slack.

In a drill the comms panel's every message — the "rollback started" message, periodic
updates, escalations, edited or not — goes to the ``outbox`` channel: rendered from the same
templates as Slack's (with Slack's escaping, so it reads as the real message would), never
sent anywhere, and journaled as a delivered ``notification`` record with its ``title`` and
``text``. The comms screen shows the outbox's messages; the comms plan, the report, the
"Communication sent" tick and the drill's score read them like any delivery. Real channels
configured for the team are never used in a drill: a rehearsal pages no one.

:func:`make_notifier` is what the composition root calls: the outbox in a drill, else the
real :class:`~backends.notify.notifier.Notifier`. Readonly refuses before rendering, as the
real notifier does.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from backends.notify import slack
from backends.notify.base import Delivery
from backends.notify.notifier import Notifier
from cockpit.comms import OUTBOX, Due, NotifySettings
from cockpit.errors import ReadonlyError
from cockpit.templates import Message, context, render

DETAIL = "drill outbox: kept in the journal, nothing left this machine"


class DrillOutbox(Notifier):
    """A :class:`Notifier` whose only channel is the local ``outbox``."""

    @property
    def channels(self) -> list[str]:
        return [OUTBOX]

    def preview(
        self, channel: str, template: str | None, records: list[dict], *, now: datetime | None = None,
        extra: Mapping[str, Any] | None = None, status: str | None = None,
    ) -> Message:
        """The message the outbox would keep (``channel`` is ignored: there is one)."""
        ctx = context(records, now=now, update_every_min=self.settings.update_every_min, extra=extra)
        return render(template or "progress", ctx, directory=self.settings.templates_dir, escape=slack.escape)

    def send(
        self, channel: str = OUTBOX, template: str | None = None, records: list[dict] | None = None, *,
        text: str | None = None, purpose: str | None = None, level: int | None = None, status: str | None = None,
        now: datetime | None = None, extra: Mapping[str, Any] | None = None, item: str | None = None,
    ) -> Delivery:
        """Render the message and journal it as posted to the outbox (``text``: the
        operator's edit, journaled as ``edited``). Nothing is sent."""
        if self.readonly:
            raise ReadonlyError("readonly: not posting to the drill outbox (nothing was journaled)")
        records = records if records is not None else (self.journal.read() if self.journal is not None else [])
        name = template or "progress"
        ctx = context(records, now=now, update_every_min=self.settings.update_every_min, extra=extra)
        msg = render(name, ctx, directory=self.settings.templates_dir, escape=slack.escape, text=text)
        d = Delivery(OUTBOX, True, None, 1, DETAIL)
        self._journal(d, purpose=purpose or name, level=level, title=msg.title, text=msg.body,
                      edited=text is not None, item=item)
        return d

    def send_due(self, due: Due, records: list[dict] | None = None, *, text: str | None = None,
                 now: datetime | None = None) -> list[Delivery]:
        """A comms item (update, rollback started, escalation) to the outbox, whatever channels
        the team configured for it."""
        if self.readonly:
            raise ReadonlyError("readonly: not posting to the drill outbox (nothing was journaled)")
        extra = {"level": due.level or "", "mentions": " ".join(due.targets)} if due.kind == "escalation" else None
        return [self.send(OUTBOX, due.template, records, text=text, purpose=due.template, level=due.level, now=now,
                          extra=extra, item=due.key)]

    def page(self, records: list[dict] | None = None, *, now: datetime | None = None) -> list[Delivery]:
        """A rehearsal pages no one: nothing is sent or journaled."""
        if self.readonly:
            raise ReadonlyError("readonly: not paging (nothing was sent)")
        return []

    def test(self, channel: str = OUTBOX) -> Delivery:
        text = "Rollback Cockpit: test notification\nThis is a test of the drill outbox. No action needed."
        return self.send(OUTBOX, None, [], text=text, purpose="test")


def make_notifier(settings: NotifySettings, *, journal: Any = None, readonly: bool = False,
                  drill: bool = False) -> Notifier:
    """The notifier of a session: the drill's outbox in a drill, else the team's channels."""
    if drill:
        return DrillOutbox(settings, journal=journal, readonly=readonly)
    from backends.notify.pagerduty import settings_for

    return Notifier(settings, journal=journal, readonly=readonly, pagerduty=settings_for(settings))


def outbox_messages(records: list[dict]) -> list[dict]:
    """The outbox's messages in a journal's records, oldest first."""
    return [r for r in records if r.get("type") == "notification" and r.get("channel") == OUTBOX]
