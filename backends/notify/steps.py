"""Step kinds ``notify.slack``, ``notify.statuspage``, ``notify.webhook``.

.. code-block:: yaml

    - kind: notify.slack
      params: {template: started}            # or text: "Title\\nbody"
    - kind: notify.statuspage
      params: {status: identified}           # default: from the incident's progress
    - kind: notify.webhook
      params: {template: completed}

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

        n = Notifier(load_notify_settings(), readonly=ctx.readonly, journal=ctx.journal)
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
