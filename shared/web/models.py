"""Request and response bodies of the public API, as pydantic models (they also feed OpenAPI)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.clock import iso
from shared.domain.accounts import Account, Via, mask_email

if TYPE_CHECKING:  # the contact function has no flows to load
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

    from shared.domain.flows import Flow, FlowStatus, StartedFlow

_STATES_WITH_REASON = ("failed", "expired")

# The API document groups its operations by journey; front ends generate clients from it.
MIGRATION = "A. Migrate to WhatsApp"
CHANGE_BY_WHATSAPP = "B1. Change the number through WhatsApp"
CHANGE_BY_EMAIL = "B2. Change the number with an email code"
PROFILE = "Profile"
META_WEBHOOK = "Meta's WhatsApp webhook"
UNDO = "Bukan saya: undo a number change"
TAGS = {
    MIGRATION: "Start, poll, and the blue link that shows 'Migrasi akun aplikasi Jogja Smart Service berhasil'.",
    CHANGE_BY_WHATSAPP: "Start, poll, the blue link, and the password that ends on 'Pergantian No. WhatsApp Berhasil'.",
    CHANGE_BY_EMAIL: "A 6-digit code to the registered email, then the new number, ending on 'Data No. Whatsapp"
    " Berhasil diperbarui'.",
    PROFILE: "The account's contact data as the JSS profile shows it.",
    META_WEBHOOK: "Called by Meta, not by front ends: the subscription handshake and signed deliveries.",
    UNDO: "The single-use link in every B1 and B2 change notice (email, and a WhatsApp template to the replaced"
    " number): shows the change, and puts the previous number back.",
}

FLOW_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


# Any of the 8 QR masks scans; trying them all for the best penalty score was 3/4 of the work.
_QR_MASK = 2


def qr_svg(text: str) -> str:
    """A standalone SVG QR code; imported here only, so just the start routes pay for segno."""
    import segno

    return str(segno.make(text, error="m", mask=_QR_MASK).svg_inline(scale=4, title="Buka WhatsApp"))


class FlowStarted(BaseModel):
    flow_id: str
    status: str
    whatsapp_url: str = Field(description="Opens a chat with the city's WhatsApp Business number, message filled in.")
    message: str = Field(description="The prepared message; it contains link_url.")
    link_url: str = Field(description="The blue link the citizen opens after sending the message.")
    expires_at: str
    qr_svg: str = Field(
        description="A QR code (SVG) for people starting on a desktop: link_url?open=whatsapp, which opens"
        " whatsapp_url while the flow waits for its message (a short link scans far more easily)."
    )

    @classmethod
    def of(cls, started: StartedFlow) -> FlowStarted:
        return cls(
            flow_id=started.flow_id,
            status=str(started.status),
            whatsapp_url=started.whatsapp_url,
            message=started.message,
            link_url=started.link_url,
            expires_at=iso(started.expires_at),
            qr_svg=qr_svg(f"{started.link_url}?open=whatsapp"),
        )


FLOW_STARTED: dict[int, OpenAPIResponse] = {
    201: {"description": "Flow started", "content": {"application/json": {"model": FlowStarted}}}
}


class FlowState(BaseModel):
    flow_id: str
    status: str
    reason: str | None = Field(default=None, description="Why it failed or expired (a stable code).")
    reason_text: str | None = Field(default=None, description="Why, and a next step that works, in Indonesian.")
    number_masked: str | None = Field(default=None, description="Whole middle groups hidden: 0812-****-7890.")
    expires_at: str

    @classmethod
    def of(cls, flow: Flow, status: FlowStatus) -> FlowState:
        from shared.web.outcomes import AccountFacts, failure_text

        # Failed flows say why; an expired one says so when a late message met it.
        reason = flow.reason if str(status) in _STATES_WITH_REASON else None
        return cls(
            flow_id=flow.flow_id,
            status=str(status),
            reason=reason,
            reason_text=failure_text(reason, "id", AccountFacts(flow.kind)) if reason else None,
            number_masked=flow.number_masked,
            expires_at=iso(flow.expires_at),
        )


class LinkState(BaseModel):
    """The blue link's page as JSON (``Accept: application/json``)."""

    kind: str = Field(description="migration or number_change")
    status: str = Field(description="pending, awaiting_password, completed, failed or locked")
    message: str | None = Field(description="The success sentence, word for word, once completed.")
    number_masked: str | None = Field(description="Whole middle groups hidden: 0812-****-7890.")
    account_masked: str | None = Field(description="The masked email, or the name shortened; null if neither.")
    reason: str | None = Field(description="Why it failed (a stable code).")
    reason_text: str | None = Field(description="Why, and a next step that works, in the page's language.")
    tries_left: int | None = None
    csrf_token: str | None = Field(default=None, description="For form posts of the password; JSON posts need none.")
    expires_at: str | None = None
    password_locked_until: str | None = Field(
        default=None, description="While too many wrong passwords lock confirmation for the account: no form then."
    )


LINK_PAGE: dict[int, OpenAPIResponse] = {
    200: {
        "description": "The page for the flow's state (HTML), or the same as JSON",
        "content": {"text/html": {"schema": {"type": "string"}}, "application/json": {"model": LinkState}},
    }
}
PASSWORD_POSTED: dict[int, OpenAPIResponse] = {
    **LINK_PAGE,
    303: {
        "description": "A form post's answer: to the link page (Location), which shows the outcome once",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
}
LINK_OPENED: dict[int, OpenAPIResponse] = {
    **LINK_PAGE,
    302: {
        "description": "With open=whatsapp while the flow waits for its message: to whatsapp_url (Location)",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
}
OPEN_WHATSAPP = Annotated[
    Literal["whatsapp"] | None,
    Query(alias="open", description="whatsapp: go on to WhatsApp while the flow waits for its message (QR code)"),
]


class ContactCard(BaseModel):
    phone_number: str | None = Field(description="E.164.")
    phone_number_display: str | None = Field(description="As people write it: 0812-3456-7890 (international abroad).")
    whatsapp_number: str | None = Field(description="E.164, or null before the migration to WhatsApp.")
    whatsapp_number_display: str | None = Field(description="As people write it: 0812-3456-7890.")
    whatsapp_verified: bool = Field(description="True when WhatsApp itself proved the number.")
    whatsapp_verified_via: Via | None = Field(
        default=None,
        description="How the number came: proven through WhatsApp (A, B1), set with an email code (B2), "
        "or recorded by JSS without proof (imported or synced).",
    )
    email: str | None = Field(description="The registered email, masked.")

    @classmethod
    def of(cls, account: Account) -> ContactCard:
        # Only the contact card loads phonenumbers here: every function imports this module.
        from shared.domain.phone import display_number

        def shown(number: str | None) -> str | None:
            return display_number(number) if number else None

        return cls(
            phone_number=account.phone_number,
            phone_number_display=shown(account.phone_number),
            whatsapp_number=account.whatsapp_number,
            whatsapp_number_display=shown(account.whatsapp_number),
            whatsapp_verified=account.whatsapp_verified,
            whatsapp_verified_via=account.whatsapp_verified_via,
            email=mask_email(account.email) if account.email else None,
        )


class PasswordConfirmation(_Strict):
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    csrf_token: Annotated[str, StringConstraints(max_length=256)] | None = Field(
        default=None, description="The page's anti-forgery value: required for a form post, not for JSON."
    )


# The link's page posts a form, an app posts JSON; the route reads either itself (shared.web.api.
# parse_form), so Powertools cannot see the body: it is declared here for the OpenAPI document.
PASSWORD_CONFIRMATION_BODY = {
    "required": True,
    "content": {
        media_type: {"schema": PasswordConfirmation.model_json_schema()}
        for media_type in ("application/json", "application/x-www-form-urlencoded")
    },
}


class CodeSentAnswer(BaseModel):
    verification_id: str
    sent_to: str = Field(description="The registered email, masked, e.g. b***i@example.com.")
    expires_at: str
    resend_after: str = Field(description="No new code can be requested before this time.")


class CodeEntry(_Strict):
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")] = Field(description="The 6 digits from the email.")


class ChangePermitAnswer(BaseModel):
    change_token: str
    expires_at: str


class NewWhatsAppNumber(_Strict):
    change_token: Annotated[str, StringConstraints(min_length=16, max_length=128)]
    whatsapp_number: Annotated[str, StringConstraints(min_length=1, max_length=32)] = Field(
        description="As people type it: 0812-3456-7890, +62 812 3456 7890, 62812..."
    )


class NumberUpdatedAnswer(BaseModel):
    whatsapp_number: str = Field(description="E.164")
    whatsapp_number_display: str = Field(description="As people write it: 0812-3456-7890.")
    message: str


class DeliveryAnswer(BaseModel):
    """What the webhook answers Meta for a delivery it took."""

    received: int = Field(description="How many messages the delivery held.")
    outcomes: list[str] = Field(description="What each message did, in order (codes, no personal data).")
    unreadable: str | None = Field(
        default=None, description="Why a signed delivery could not be read; it is acknowledged all the same."
    )


DELIVERY_TAKEN: dict[int, OpenAPIResponse] = {
    200: {"description": "Delivery taken", "content": {"application/json": {"model": DeliveryAnswer}}}
}
HANDSHAKE: dict[int, OpenAPIResponse] = {
    200: {"description": "The challenge, echoed", "content": {"text/plain": {"schema": {"type": "string"}}}}
}

CODE_SENT: dict[int, OpenAPIResponse] = {
    202: {"description": "Code sent", "content": {"application/json": {"model": CodeSentAnswer}}}
}
