"""Step kinds ``notify.slack``, ``notify.statuspage``, ``notify.webhook``, ``notify.pagerduty``.

.. code-block:: yaml

    - kind: notify.slack
      params: {template: started}            # or text: "Title\\nbody"
    - kind: notify.statuspage
      params: {status: identified}           # default: from the incident's progress
    - kind: notify.webhook
      params: {template: completed}
    - kind: notify.pagerduty
      params: {action: auto}                 # what the incident owes: trigger / acknowledge / resolve

Channels come from the ``notify`` settings (``ctx.backends["notify"]`` when the composition
root built a :class:`~backends.notify.notifier.Notifier`, else one built from
``COCKPIT_NOTIFY__*``), never from the runbook: secrets stay out of runbooks and intents.
A failed delivery fails the step (the runbook decides whether that matters, with
``continue_on_error`` where supported). Resume: if a delivery for this step is already in
the journal after the intent, it is not sent twice.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from cockpit.comms import load_notify_settings
from cockpit.errors import CockpitError
from cockpit.steps import Step, StepContext, StepParams, step_kind

Template = Literal["started", "progress", "completed", "failed", "escalation"]


def notifier_for(ctx: StepContext) -> Any:
    n = ctx.backends.get("notify")
    if n is None:
        from backends.notify.notifier import Notifier

        from backends.notify.pagerduty import settings_for

        ns = load_notify_settings()
        n = Notifier(ns, readonly=ctx.readonly, journal=ctx.journal, pagerduty=settings_for(ns))
        ctx.backends["notify"] = n
    elif ctx.journal is not None and getattr(n, "journal", None) is None:
        n.journal = ctx.journal
    return n


class MessageParams(StepParams):
    template: Template | None = None
    text: str | None = None

    @model_validator(mode="after")
    def _one(self) -> MessageParams:
        if self.template is None and self.text is None:
            self.template = "progress"
        return self


class StatuspageParams(StepParams):
    status: Literal["investigating", "identified", "monitoring", "resolved"] | None = None
    text: str | None = None


class _NotifyStep(Step):
    channel = ""
    mutating = True

    def describe(self, params: Any) -> str:
        what = getattr(params, "template", None) or getattr(params, "status", None) or "message"
        return f"notify {self.channel}: {what}"

    def _deliver(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        n = notifier_for(ctx)
        records = ctx.journal.read() if ctx.journal is not None else []
        if self.channel == "statuspage":
            d = n.send("statuspage", None, records, text=params.text, status=params.status, item=f"step:{ctx.step_index}")
        else:
            d = n.send(self.channel, params.template, records, text=params.text, item=f"step:{ctx.step_index}")
        ctx.log(f"{self.channel}: {d.detail}")
        if not d.ok:
            raise CockpitError(d.detail, title="Notification failed")
        return {"channel": self.channel, "detail": d.detail, "attempts": d.attempts, **d.data}

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        return self._deliver(ctx, params)

    def reconcile(self, ctx: StepContext, params: Any, intent: dict[str, Any]) -> dict[str, Any] | None:
        if ctx.journal is None:
            return None
        for r in ctx.journal.read():
            if (r.get("type") == "notification" and r.get("ok") and r.get("channel") == self.channel
                    and r.get("item") == f"step:{ctx.step_index}" and r.get("seq", 0) > intent.get("seq", 0)):
                return {"channel": self.channel, "detail": r.get("detail", ""), "already_sent": True}
        return None


@step_kind
class SlackStep(_NotifyStep):
    kind = "notify.slack"
    channel = "slack"
    Params = MessageParams


@step_kind
class WebhookStep(_NotifyStep):
    kind = "notify.webhook"
    channel = "webhook"
    Params = MessageParams


@step_kind
class StatuspageStep(_NotifyStep):
    kind = "notify.statuspage"
    channel = "statuspage"
    Params = StatuspageParams


class PagerDutyParams(StepParams):
    action: Literal["auto", "trigger", "acknowledge", "resolve"] = "auto"


@step_kind
class PagerDutyStep(_NotifyStep):
    """``auto`` sends what the incident owes PagerDuty (:func:`cockpit.comms.pagerduty_owed`);
    an explicit action sends that event. Every event carries the incident's ``dedup_key``."""

    kind = "notify.pagerduty"
    channel = "pagerduty"
    Params = PagerDutyParams

    def describe(self, params: Any) -> str:
        return f"page PagerDuty: {params.action}"

    def _deliver(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        n = notifier_for(ctx)
        records = ctx.journal.read() if ctx.journal is not None else []
        if "pagerduty" not in n.channels:
            raise CockpitError("PagerDuty is not configured (no routing key)", title="Not configured",
                               hint="set COCKPIT_NOTIFY__PAGERDUTY__ROUTING_KEY")
        if params.action == "auto":
            deliveries = n.page(records)
        else:
            deliveries = [n.send("pagerduty", None, records, purpose=params.action, item=f"step:{ctx.step_index}")]
        for d in deliveries:
            ctx.log(f"pagerduty: {d.detail}")
            if not d.ok:
                raise CockpitError(d.detail, title="Notification failed")
        return {"channel": "pagerduty", "sent": len(deliveries),
                "detail": "; ".join(d.detail for d in deliveries) or "nothing owed"}
