"""Deliveries in the format of Meta's WhatsApp Cloud API webhook, signed as Meta signs them.

Used by the console's WhatsApp simulator and by the tests, to play Meta without a phone."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from typing import Any

# What Meta sends when the sender uses a WhatsApp username and hides the number (2026).
HIDDEN_SENDER_USER_ID = "ID.1502576394655843"


def text_message(
    body: str,
    sender: str | None,
    *,
    message_id: str | None = None,
    forwarded: bool = False,
    sent_at: int | None = None,
) -> dict[str, Any]:
    """One inbound text; ``sender`` in E.164, or None for a sender without a visible number."""
    message: dict[str, Any] = {
        "id": message_id or f"wamid.{uuid.uuid4().hex}",
        "timestamp": str(sent_at or int(time.time())),
        "type": "text",
        "text": {"body": body},
    }
    if sender is not None:
        message["from"] = sender.lstrip("+")
    else:
        message["from_user_id"] = HIDDEN_SENDER_USER_ID
    if forwarded:
        message["context"] = {"forwarded": True}
    return message


def value(
    messages: list[dict[str, Any]], phone_number_id: str, display_number: str = "6281100000000"
) -> dict[str, Any]:
    contacts = [
        {"profile": {"name": "Warga Jogja"}, "wa_id": m["from"]}
        if "from" in m
        else {"profile": {"name": "Warga Jogja"}, "user_id": m["from_user_id"]}
        for m in messages
        if "from" in m or "from_user_id" in m
    ]
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_number, "phone_number_id": phone_number_id},
        "contacts": contacts,
        "messages": messages,
    }


def delivery(*values: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": v}]} for v in values],
    }


def signature(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` header value."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
