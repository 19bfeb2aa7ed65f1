"""Atlassian Statuspage: create and update an incident (API v1).

- ``POST  {base}/v1/pages/{page_id}/incidents``               create
- ``PATCH {base}/v1/pages/{page_id}/incidents/{incident_id}`` update

with ``Authorization: OAuth <api key>`` and a body ``{"incident": {...}}``: ``name``,
``status`` (``investigating``, ``identified``, ``monitoring``, ``resolved``), ``body`` (the
update text), ``component_ids`` and ``components`` (``{component_id: status}``, status one
of ``operational``, ``under_maintenance``, ``degraded_performance``, ``partial_outage``,
``major_outage``), ``deliver_notifications``. The answer's ``id`` is kept (journaled as
``incident_id``) so later updates PATCH the same incident. On ``resolved`` the affected
components go back to ``operational``.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from backends.notify.base import Delivery, HttpSender
from cockpit.errors import ConfigError
from cockpit.templates import Message

STATUSES = ("investigating", "identified", "monitoring", "resolved")
COMPONENT_STATUSES = ("operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage")


def incident_body(
    message: Message, status: str, *, components: list[str], component_status: str, create: bool,
    deliver_notifications: bool = True,
) -> dict[str, Any]:
    if status not in STATUSES:
        raise ConfigError(f"statuspage status {status!r}: expected one of {', '.join(STATUSES)}")
    if component_status not in COMPONENT_STATUSES:
        raise ConfigError(f"statuspage component status {component_status!r}: expected one of {', '.join(COMPONENT_STATUSES)}")
    comp_status = "operational" if status == "resolved" else component_status
    incident: dict[str, Any] = {"status": status, "body": message.body or message.title}
    if create:
        incident["name"] = message.title
    if components:
        incident["component_ids"] = list(components)
        incident["components"] = {c: comp_status for c in components}
    incident["deliver_notifications"] = deliver_notifications
    return {"incident": incident}


def send(
    sender: HttpSender, *, base_url: str, page_id: str, api_key: SecretStr, message: Message, status: str,
    incident_id: str | None, components: list[str], component_status: str = "partial_outage",
) -> Delivery:
    base = base_url.rstrip("/")
    create = not incident_id
    path = f"/v1/pages/{quote(page_id, safe='')}/incidents" + ("" if create else f"/{quote(incident_id or '', safe='')}")
    body = incident_body(message, status, components=components, component_status=component_status, create=create)
    d = sender.request(
        "statuspage", "Statuspage", "POST" if create else "PATCH", base + path, json=body,
        headers={"Authorization": f"OAuth {api_key.get_secret_value()}"}, secrets=[api_key],
    )
    d.data["status"] = status
    if d.ok:
        try:
            doc = d.response.json()
        except ValueError:
            doc = {}
        new_id = doc.get("id") if isinstance(doc, dict) else None
        d.data["incident_id"] = str(new_id or incident_id or "")
        d.detail = f"{'created' if create else 'updated'} incident {d.data['incident_id']} ({status})"
    elif incident_id:
        d.data["incident_id"] = incident_id
    return d
