"""PagerDuty Events API v2: ``POST <url>/v2/enqueue``.

A trigger carries the alert (PagerDuty's documented shape)::

    {"routing_key": "<integration key>", "event_action": "trigger", "dedup_key": "cockpit-…",
     "payload": {"summary": "...", "source": "shop/checkout", "severity": "critical",
                 "component": "shop/checkout", "group": "cockpit", "class": "rollback",
                 "custom_details": {...}},
     "client": "Rollback Cockpit"}

``acknowledge`` and ``resolve`` carry only ``routing_key``, ``event_action`` and the same
``dedup_key``. PagerDuty answers 202 ``{"status": "success", "dedup_key": ...}``; 429 and 5xx
are retried by :class:`~backends.notify.base.HttpSender`. The routing key is a ``SecretStr``:
it is in the body only, and scrubbed from every detail the notifier journals.
"""
from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from backends.notify.base import Delivery, HttpSender
from cockpit.text import sanitize

SUMMARY_MAX = 1024
CLIENT = "Rollback Cockpit"


def payload(action: str, *, routing_key: SecretStr, dedup_key: str, summary: str = "", source: str = "",
            severity: str = "critical", details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"routing_key": routing_key.get_secret_value(), "event_action": action, "dedup_key": dedup_key}
    if action == "trigger":
        summary = sanitize(summary or "Rollback Cockpit incident", max_len=SUMMARY_MAX)
        source = sanitize(source or "cockpit", max_len=255)
        body["payload"] = {"summary": summary, "source": source, "severity": severity, "component": source,
                           "group": "cockpit", "class": "rollback", "custom_details": dict(details or {})}
        body["client"] = CLIENT
    return body


def send(sender: HttpSender, *, url: str, action: str, routing_key: SecretStr, dedup_key: str, summary: str = "",
         source: str = "", severity: str = "critical", details: dict[str, Any] | None = None) -> Delivery:
    body = payload(action, routing_key=routing_key, dedup_key=dedup_key, summary=summary, source=source,
                   severity=severity, details=details)
    d = sender.request("pagerduty", f"PagerDuty ({action})", "POST", f"{url.rstrip('/')}/v2/enqueue", json=body,
                       secrets=[routing_key])
    d.data["dedup_key"] = dedup_key
    return d


def settings_for(notify: Any, env: Any = None) -> Any:
    """PagerDuty's settings: ``notify.pagerduty`` when the notify settings carry it (and it has
    a routing key), else ``$PAGERDUTY_ROUTING_KEY`` / ``$PAGERDUTY_EVENTS_URL``."""
    import os

    from cockpit.comms import PagerDutySettings

    found = getattr(notify, "pagerduty", None)
    if isinstance(found, PagerDutySettings) and found.routing_key is not None:
        return found
    env = os.environ if env is None else env
    if env.get("PAGERDUTY_ROUTING_KEY"):
        return PagerDutySettings(routing_key=SecretStr(env["PAGERDUTY_ROUTING_KEY"]),
                                 **({"url": env["PAGERDUTY_EVENTS_URL"]} if env.get("PAGERDUTY_EVENTS_URL") else {}))
    return found if isinstance(found, PagerDutySettings) else PagerDutySettings()
