"""Meta's WhatsApp Cloud API webhook: the signature, the subscription handshake, and the payload.

A delivery (``object: whatsapp_business_account``) holds entries, each with changes whose ``value``
carries ``messages`` (what users sent) or ``statuses`` (receipts for what we sent). Models are lenient:
one odd message must not hide the others in the same delivery.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.domain.flows import InboundMessage
from shared.domain.phone import from_whatsapp_id

SIGNATURE_PREFIX = "sha256="


def signature_valid(app_secret: str, raw_body: bytes, header: str | None) -> bool:
    """``X-Hub-Signature-256`` is ``sha256=`` and the hex HMAC-SHA256 of the raw body bytes."""
    if not header or not header.isascii() or not header.startswith(SIGNATURE_PREFIX):
        return False  # compare_digest refuses non-ASCII text: a forged header must be a 401, not a crash
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len(SIGNATURE_PREFIX) :].strip().lower())


def handshake_answer(mode: str | None, token: str | None, challenge: str | None, verify_token: str) -> str | None:
    """The challenge to echo when Meta subscribes with our verify token, else None."""
    if mode != "subscribe" or not token or challenge is None:
        return None
    return challenge if hmac.compare_digest(token.encode(), verify_token.encode()) else None


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Text(_Lenient):
    body: str = ""


class _Context(_Lenient):
    forwarded: bool = False
    frequently_forwarded: bool = False


class WebhookMessage(_Lenient):
    id: str
    sender: str | None = Field(default=None, alias="from")
    # Since 2026 a user with a WhatsApp username may come with only a business-scoped user id.
    from_user_id: str | None = None
    timestamp: int = 0
    type: str = ""
    text: _Text | None = None
    context: _Context | None = None


class _Metadata(_Lenient):
    phone_number_id: str = ""


class _Value(_Lenient):
    metadata: _Metadata = _Metadata()
    messages: list[Any] = []  # each item is validated on its own


class _Change(_Lenient):
    field: str = ""
    value: _Value = _Value()


class _Entry(_Lenient):
    changes: list[_Change] = []


class Delivery(_Lenient):
    object: str = ""
    entry: list[_Entry] = []


def inbound_text_messages(delivery: Delivery, phone_number_id: str) -> Iterator[InboundMessage | None]:
    """Every message addressed to our business number: an ``InboundMessage`` for a text, None for
    anything we acknowledge and ignore (other types, malformed items)."""
    for entry in delivery.entry:
        for change in entry.changes:
            if change.value.metadata.phone_number_id != phone_number_id:
                continue
            for raw in change.value.messages:
                try:
                    message = WebhookMessage.model_validate(raw)
                except ValidationError:
                    yield None
                    continue
                if message.type != "text" or message.text is None:
                    yield None
                    continue
                context = message.context or _Context()
                yield InboundMessage(
                    message_id=message.id,
                    sender=from_whatsapp_id(message.sender) if message.sender else None,
                    text=message.text.body,
                    forwarded=context.forwarded or context.frequently_forwarded,
                    sent_at=message.timestamp,
                )
