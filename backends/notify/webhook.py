"""A generic JSON webhook: ``POST <url>`` with a stable, documented body.

.. code-block:: json

    {"source": "cockpit", "version": "0.1.0", "event": "started", "level": null,
     "title": "...", "text": "...", "incident": {"service": "...", "from_version": "...", ...}}

``incident`` holds the template context (see :data:`cockpit.templates.FIELDS`).
"""
from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from backends.notify.base import Delivery, HttpSender
from cockpit import __version__
from cockpit.templates import Message


def payload(message: Message, *, event: str, context: dict[str, str], level: int | None = None) -> dict[str, Any]:
    return {
        "source": "cockpit", "version": __version__, "event": event, "level": level,
        "title": message.title, "text": message.body, "incident": dict(context),
    }


def send(sender: HttpSender, url: SecretStr, message: Message, *, event: str, context: dict[str, str],
         level: int | None = None, headers: dict[str, SecretStr] | None = None) -> Delivery:
    hdrs = {k: v.get_secret_value() for k, v in (headers or {}).items()}
    return sender.request("webhook", "webhook", "POST", url, json=payload(message, event=event, context=context, level=level),
                          headers=hdrs, secrets=list((headers or {}).values()))
