"""Slack incoming webhooks: ``POST <webhook URL>`` with ``{"text": ..., "blocks": [...]}``.

``text`` is the notification fallback; ``blocks`` carry a ``header`` (plain_text, ≤150
chars), a ``section`` (mrkdwn, ≤3000 chars) and a ``context`` line — the Block Kit shapes
Slack documents for incoming webhooks. Values filled into templates are escaped with
:func:`escape` (``&``, ``<``, ``>``), so outside text cannot mention ``<!channel>`` or forge
links; the team's own template text may.
"""
from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from backends.notify.base import Delivery, HttpSender
from cockpit.templates import Message

HEADER_MAX = 150
SECTION_MAX = 3000


def escape(text: str) -> str:
    """Slack's mrkdwn control characters: ``&`` ``<`` ``>``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def payload(message: Message, *, context: str = "") -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(message.title or "Rollback Cockpit", HEADER_MAX), "emoji": True}},
    ]
    if message.body.strip():
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(message.body, SECTION_MAX)}})
    if context:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(context, 300)}]})
    return {"text": _cut(message.title + ("\n" + message.body if message.body else ""), 4000), "blocks": blocks}


def send(sender: HttpSender, url: SecretStr, message: Message, *, context: str = "") -> Delivery:
    return sender.request("slack", "Slack webhook", "POST", url, json=payload(message, context=context))
