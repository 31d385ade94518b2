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


def shared_contact(
    number_e164: str,
    user_id: str = HIDDEN_SENDER_USER_ID,
    *,
    name: str = "Warga Jogja",
    message_id: str | None = None,
    sent_at: int | None = None,
) -> dict[str, Any]:
    """What WhatsApp delivers when the hidden sender ``user_id`` taps the city's ``request_contact_info``
    button: a ``contacts`` message with ``origin: contact_request`` carrying the WhatsApp account's
    own number (``wa_id``), and the typed ``phone`` as the person wrote it in their contact card."""
    digits = number_e164.lstrip("+")
    return {
        "id": message_id or f"wamid.{uuid.uuid4().hex}",
        "timestamp": str(sent_at or int(time.time())),
        "type": "contacts",
        "from_user_id": user_id,
        "origin": "contact_request",
        "contacts": [
            {
                "name": {"formatted_name": name},
                "phones": [{"phone": _written(number_e164), "wa_id": digits, "type": "CELL"}],
            }
        ],
    }


def _written(number_e164: str) -> str:
    """An Indonesian number as a contact card writes it: +6281234567890 -> +62 812-3456-7890."""
    if not number_e164.startswith("+62"):
        return number_e164
    national = number_e164[3:]
    return f"+62 {national[:3]}-{national[3:7]}-{national[7:]}"


def value(
    messages: list[dict[str, Any]], phone_number_id: str, display_number: str = "6281100000000"
) -> dict[str, Any]:
    """One change's value: the messages, and a contact per message naming its sender as Meta does,
    by ``wa_id`` (a visible number) or by ``user_id`` (a hidden one: its texts and the contact it
    shares when it taps the contact request)."""
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
