"""What the city's WhatsApp number sends: one ``OutboundMessage`` per thing to say, sent at most once.

The journeys never call Meta themselves. They put a message on the WhatsApp outbox queue
(``shared.adapters.whatsapp_outbox``) and ``WhatsAppSenderFunction`` sends it
(``shared.domain.whatsapp_sending``), so an unreachable WhatsApp never changes a journey's outcome.
``key`` names the message: the sender sends each key once, however often the queue delivers it.

Inside WhatsApp's 24-hour customer-service window (after the citizen wrote to us) any text may be
sent; outside it, only a template Meta approved, with parameters (``docs/whatsapp-templates.md``).
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.clock import wib_datetime

CUSTOMER_SERVICE_WINDOW_SECONDS = 24 * 3600
TEXT_LIMIT = 4096  # Meta's limit for a text body


class Template(BaseModel):
    """An approved template: its name, the language it was approved in, and its body's parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=2, max_length=15)
    body_parameters: tuple[str, ...] = ()


class OutboundMessage(BaseModel):
    """One message, as it travels on the queue (JSON). Exactly one of ``text``, ``template`` and
    ``contact_request`` is what is said; ``to`` (E.164) or ``recipient`` (a business-scoped user id,
    for a citizen whose number WhatsApp hides) is who hears it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1, max_length=200)
    to: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{6,14}$")
    recipient: str | None = Field(default=None, max_length=200)
    read_message_id: str | None = Field(default=None, max_length=200)
    """An inbound message to mark as read first: the citizen sees the blue ticks."""
    reply_to: str | None = Field(default=None, max_length=200)
    """The inbound message this answers, quoted above the reply in the chat."""
    text: str | None = Field(default=None, min_length=1, max_length=TEXT_LIMIT)
    template: Template | None = None
    contact_request: str | None = Field(default=None, min_length=1, max_length=1024)
    """The body of Meta's ``request_contact_info`` message: a button that shares the citizen's number."""
    send_before: int | None = None
    """When WhatsApp's 24-hour window closes (epoch seconds): free-form messages only."""

    @model_validator(mode="after")
    def _one_thing_to_one_person(self) -> Self:
        if (self.to is None) == (self.recipient is None):
            raise ValueError("exactly one of to and recipient")
        if sum(part is not None for part in (self.text, self.template, self.contact_request)) != 1:
            raise ValueError("exactly one of text, template and contact_request")
        if self.template is None and self.send_before is None:
            raise ValueError("a free-form message needs send_before (the 24-hour window)")
        return self

    @property
    def kind(self) -> str:
        if self.template is not None:
            return "template"
        return "text" if self.text is not None else "contact_request"


def number_changed_warning(
    *, key: str, old_number: str, masked_new_number: str, at: int, undo_url: str, template: str, language: str
) -> OutboundMessage:
    """The template the replaced number receives: {{1}} the masked new number, {{2}} when, {{3}} the
    "Bukan saya" link. The old number may not have written to us for days, hence a template."""
    return OutboundMessage(
        key=key,
        to=old_number,
        template=Template(
            name=template, language=language, body_parameters=(masked_new_number, wib_datetime(at), undo_url)
        ),
    )


def number_restored_notice(
    *, key: str, number: str, masked_replaced_number: str, at: int, template: str, language: str
) -> OutboundMessage:
    """The template the restored number receives after "Bukan saya": {{1}} the masked number the
    undone change had put in its place, {{2}} when it was undone."""
    said = Template(name=template, language=language, body_parameters=(masked_replaced_number, wib_datetime(at)))
    return OutboundMessage(key=key, to=number, template=said)
