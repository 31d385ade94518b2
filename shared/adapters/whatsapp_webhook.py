"""Meta's WhatsApp Cloud API webhook: the signature, the subscription handshake, and the payload.

A delivery (``object: whatsapp_business_account``) holds entries, each with changes whose ``value``
carries ``messages`` (what users sent) or ``statuses`` (receipts for what we sent). Models are lenient:
one odd message must not hide the others in the same delivery.

Three kinds of message matter: a ``text`` (the prepared message), a ``contacts`` message with
``origin: contact_request`` (a hidden sender sharing the number, ``shared.domain.hidden_senders``)
and the ``system`` message ``user_changed_number`` (``shared.domain.number_moves``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.domain.flows import InboundMessage
from shared.domain.hidden_senders import SharedNumber
from shared.domain.number_moves import NumberMoved
from shared.domain.phone import from_whatsapp_id

Inbound = InboundMessage | SharedNumber | NumberMoved

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


class _Phone(_Lenient):
    phone: str = ""
    wa_id: str | None = None


class _SharedContact(_Lenient):
    phones: list[_Phone] = []


class _System(_Lenient):
    type: str = ""
    wa_id: str | None = None  # the user's new WhatsApp id (number)


class WebhookMessage(_Lenient):
    id: str
    sender: str | None = Field(default=None, alias="from")
    # Since 2026 a user with a WhatsApp username may come with only a business-scoped user id.
    from_user_id: str | None = None
    timestamp: int = 0
    type: str = ""
    text: _Text | None = None
    context: _Context | None = None
    origin: str | None = None  # of a contacts message: ``contact_request`` when we asked for it
    contacts: list[_SharedContact] = []
    system: _System | None = None


class _Contact(_Lenient):
    wa_id: str | None = None
    user_id: str | None = None


class _Metadata(_Lenient):
    phone_number_id: str = ""


class _Value(_Lenient):
    metadata: _Metadata = _Metadata()
    contacts: list[_Contact] = []
    messages: list[Any] = []  # each item is validated on its own

    def user_id_of(self, message: WebhookMessage) -> str | None:
        """The sender's business-scoped id: on the message, or on the delivery's one contact."""
        if message.from_user_id:
            return message.from_user_id
        ids = {contact.user_id for contact in self.contacts if contact.user_id}
        return ids.pop() if len(ids) == 1 else None


class _Change(_Lenient):
    field: str = ""
    value: _Value = _Value()


class _Entry(_Lenient):
    changes: list[_Change] = []


class Delivery(_Lenient):
    object: str = ""
    entry: list[_Entry] = []


def inbound_messages(delivery: Delivery, phone_number_id: str) -> Iterator[Inbound | None]:
    """Every message addressed to our business number, as the domain reads it; None for anything we
    acknowledge and ignore (other types, malformed items)."""
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
                yield _inbound(message, change.value)


def _inbound(message: WebhookMessage, value: _Value) -> Inbound | None:
    sender = from_whatsapp_id(message.sender) if message.sender else None
    if message.type == "text" and message.text is not None:
        context = message.context or _Context()
        return InboundMessage(
            message_id=message.id,
            sender=sender,
            text=message.text.body,
            forwarded=context.forwarded or context.frequently_forwarded,
            sent_at=message.timestamp,
            sender_user_id=value.user_id_of(message),
        )
    if message.type == "contacts" and message.origin == "contact_request":
        return _shared_number(message, value.user_id_of(message))
    if message.type == "system" and message.system and message.system.type == "user_changed_number" and sender:
        new = from_whatsapp_id(message.system.wa_id) if message.system.wa_id else None
        return NumberMoved(message_id=message.id, old_number=sender, new_number=new, sent_at=message.timestamp)
    return None


def _shared_number(message: WebhookMessage, user_id: str | None) -> SharedNumber | None:
    """The number WhatsApp shared for the user who tapped our contact request: its ``wa_id`` is the
    WhatsApp account's own number (a typed ``phone`` alone proves nothing)."""
    numbers = {from_whatsapp_id(phone.wa_id) for contact in message.contacts for phone in contact.phones if phone.wa_id}
    numbers.discard(None)
    if user_id is None or len(numbers) != 1:
        return None
    return SharedNumber(
        message_id=message.id, sender_user_id=user_id, number=str(numbers.pop()), sent_at=message.timestamp
    )
