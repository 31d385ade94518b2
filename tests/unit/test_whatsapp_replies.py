"""What the city's number answers in the chat (``shared/domain/whatsapp_replies.py``), and the
``OutboundMessage`` every queued message is (``shared/domain/whatsapp_messages.py``).

A reply tells the citizen, in Indonesian, what happened and what works next; it names no token, no
code and no number, since it may be read over a shoulder or land on a shared phone.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.flows import FailureReason, InboundMessage
from shared.domain.hidden_senders import SharedNumber
from shared.domain.whatsapp_messages import OutboundMessage, Template, number_changed_warning
from shared.domain.whatsapp_replies import reply_to

NUMBER = "+6281234567891"
SHARED = "+6285712345678"
USER_ID = "ID.123"
MESSAGE_ID = "wamid.HBgNNjI4MTIzNDU2Nzg5MRUCABIYFjNFQjBDNzk2"
TOKEN = "Qm9vdHN0cmFwLXRva2VuLWZvci1KU1Mx"
SENT_AT = 1_750_000_000
NOW = 1_750_000_030.0
DAY = 24 * 3600

# What a webhook's message can end in (``WhatsAppFlows.receive`` and ``receive_shared_number``).
WEBHOOK_FAILURES = [
    FailureReason.FORWARDED,
    FailureReason.NUMBER_TAKEN,
    FailureReason.SAME_NUMBER,
    FailureReason.MESSAGE_AFTER_EXPIRY,
    FailureReason.ALREADY_LINKED,
    FailureReason.ACCOUNT_GONE,
    FailureReason.SENDER_NUMBER_HIDDEN,
]
OUTCOMES: dict[str, dict[str, str]] = {
    "completed": {"outcome": "completed", "flow_id": "f1"},
    "awaiting_password": {"outcome": "awaiting_password", "flow_id": "f1"},
    **{str(reason): {"outcome": str(reason), "flow_id": "f1"} for reason in WEBHOOK_FAILURES},
    "replaced": {"outcome": "flow_not_pending", "flow_id": "f1", "reason": "replaced_by_newer_request"},
    "finished": {"outcome": "flow_not_pending", "flow_id": "f1", "reason": "completed"},
    "no_token": {"outcome": "no_token"},
    "no_waiting_request": {"outcome": "no_waiting_request"},
}
# Words every Indonesian reply is made of; none is English.
INDONESIAN = {"anda", "ini", "tidak", "sudah", "pesan", "nomor", "permintaan", "akun", "dari", "untuk", "dan", "yang"}
ENGLISH = {"the", "your", "please", "request", "message", "number", "account", "sorry", "thank"}


def inbound(
    *, sender: str | None = NUMBER, user_id: str | None = None, sent_at: int = SENT_AT, text: str = ""
) -> InboundMessage:
    return InboundMessage(
        message_id=MESSAGE_ID,
        sender=sender,
        text=text or f"Halo JSS, saya ingin menghubungkan nomor WhatsApp saya. Kode: {TOKEN}",
        forwarded=False,
        sent_at=sent_at,
        sender_user_id=user_id,
    )


def text_of(reply: OutboundMessage | None) -> str:
    assert reply is not None
    assert reply.text is not None
    return reply.text


@pytest.mark.parametrize("outcome", OUTCOMES.values(), ids=OUTCOMES.keys())
def test_every_outcome_is_answered_with_a_text_quoting_the_citizen_s_message(outcome: dict[str, str]) -> None:
    reply = reply_to(inbound(), outcome, NOW)

    assert reply is not None
    assert reply.kind == "text"
    assert reply.to == NUMBER
    assert reply.recipient is None
    assert reply.read_message_id == MESSAGE_ID
    assert reply.reply_to == MESSAGE_ID
    assert reply.key == f"reply:{MESSAGE_ID}"
    assert reply.send_before == SENT_AT + DAY


@pytest.mark.parametrize("outcome", OUTCOMES.values(), ids=OUTCOMES.keys())
def test_every_reply_is_in_indonesian(outcome: dict[str, str]) -> None:
    words = set(re.findall(r"[a-z]+", text_of(reply_to(inbound(), outcome, NOW)).lower()))

    assert len(words & INDONESIAN) >= 2, words
    assert not words & ENGLISH


@pytest.mark.parametrize("outcome", OUTCOMES.values(), ids=OUTCOMES.keys())
def test_no_reply_names_the_token_a_code_or_the_sender_s_number(outcome: dict[str, str]) -> None:
    """It could be read over a shoulder, or land on a shared phone."""
    text = text_of(reply_to(inbound(), outcome, NOW))

    assert TOKEN not in text
    assert not re.search(r"\d{6,}", text)
    assert NUMBER.lstrip("+") not in text.replace(" ", "").replace("-", "")
    assert NUMBER[-8:] not in re.sub(r"\D", "", text)


def test_each_outcome_has_its_own_text_so_the_citizen_learns_which_one_happened() -> None:
    texts = {name: text_of(reply_to(inbound(), outcome, NOW)) for name, outcome in OUTCOMES.items()}

    assert len(set(texts.values())) == len(texts), texts


@pytest.mark.parametrize(
    ("outcome", "same_as"),
    [
        ({"outcome": "flow_not_pending", "flow_id": "f1"}, {"outcome": "flow_not_pending", "reason": "completed"}),
        ({"outcome": "flow_not_pending", "reason": "expired"}, {"outcome": "message_after_expiry"}),
        ({"outcome": "flow_not_pending", "reason": "message_after_expiry"}, {"outcome": "message_after_expiry"}),
    ],
    ids=["no-reason", "expired-status", "failed-flow"],
)
def test_a_flow_no_longer_pending_is_told_by_its_reason_or_as_finished(
    outcome: dict[str, str], same_as: dict[str, str]
) -> None:
    assert text_of(reply_to(inbound(), outcome, NOW)) == text_of(reply_to(inbound(), same_as, NOW))


def test_a_second_message_while_the_password_is_awaited_still_asks_for_the_password() -> None:
    """Sending the prepared message twice is common; the second reply must not say the request is
    finished when the citizen still has to type the password (``_apply`` returns the flow's status,
    ``awaiting_password``, as the reason)."""
    outcome = {"outcome": "flow_not_pending", "flow_id": "f1", "reason": "awaiting_password"}

    text = text_of(reply_to(inbound(), outcome, NOW))

    assert "password" in text
    assert "sudah selesai" not in text


@pytest.mark.parametrize(("now", "send_before"), [(NOW, int(NOW) + DAY), (NOW + 0.9, int(NOW) + DAY)])
def test_a_message_without_its_sending_time_opens_the_window_when_it_was_applied(now: float, send_before: int) -> None:
    """Meta's timestamp is missing (0): the window is counted from now, in whole seconds."""
    reply = reply_to(inbound(sent_at=0), {"outcome": "completed"}, now)

    assert reply is not None
    assert reply.send_before == send_before


def test_a_hidden_sender_is_asked_to_share_the_number_by_their_user_id() -> None:
    reply = reply_to(inbound(sender=None, user_id=USER_ID), {"outcome": "awaiting_shared_number", "flow_id": "f"}, NOW)

    assert reply is not None
    assert reply.kind == "contact_request"
    assert reply.contact_request
    assert reply.recipient == USER_ID
    assert reply.to is None
    assert reply.text is None
    assert (reply.key, reply.read_message_id, reply.reply_to) == (f"reply:{MESSAGE_ID}", MESSAGE_ID, MESSAGE_ID)
    assert reply.send_before == SENT_AT + DAY


def test_a_hidden_sender_gets_a_text_reply_by_their_user_id_too() -> None:
    reply = reply_to(inbound(sender=None, user_id=USER_ID), {"outcome": "no_token"}, NOW)

    assert reply is not None
    assert (reply.kind, reply.recipient, reply.to) == ("text", USER_ID, None)


def test_a_sender_with_a_number_and_a_user_id_is_answered_on_the_number() -> None:
    reply = reply_to(inbound(user_id=USER_ID), {"outcome": "completed"}, NOW)

    assert reply is not None
    assert (reply.to, reply.recipient) == (NUMBER, None)


def test_the_reply_to_a_shared_number_goes_to_that_number() -> None:
    shared = SharedNumber(message_id=MESSAGE_ID, sender_user_id=USER_ID, number=SHARED, sent_at=SENT_AT)

    reply = reply_to(shared, {"outcome": "awaiting_password", "flow_id": "f"}, NOW)

    assert reply is not None
    assert (reply.to, reply.recipient) == (SHARED, None)
    assert (reply.key, reply.read_message_id, reply.reply_to) == (f"reply:{MESSAGE_ID}", MESSAGE_ID, MESSAGE_ID)
    assert reply.send_before == SENT_AT + DAY
    assert SHARED.lstrip("+") not in text_of(reply)


@pytest.mark.parametrize("outcome", ["sender_number_hidden", "no_token"])
def test_a_sender_named_neither_by_number_nor_by_user_id_gets_no_reply(outcome: str) -> None:
    assert reply_to(inbound(sender=None, user_id=None), {"outcome": outcome}, NOW) is None


# ----------------------------------------------------------------- OutboundMessage

HELLO = Template(name="jss_hello", language="id")
VALID: dict[str, Any] = {"key": "reply:1", "to": NUMBER, "text": "Halo", "send_before": SENT_AT}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"to": None}, id="nobody"),
        pytest.param({"recipient": USER_ID}, id="both-to-and-recipient"),
        pytest.param({"text": None}, id="nothing-said"),
        pytest.param({"template": HELLO}, id="text-and-template"),
        pytest.param({"contact_request": "Ketuk"}, id="text-and-contact-request"),
        pytest.param({"text": None, "template": HELLO, "contact_request": "Ketuk"}, id="template-and-contact-request"),
        pytest.param({"send_before": None}, id="text-without-window"),
        pytest.param({"text": None, "contact_request": "Ketuk", "send_before": None}, id="contact-without-window"),
        pytest.param({"text": ""}, id="empty-text"),
        pytest.param({"text": "x" * 4097}, id="text-too-long"),
        pytest.param({"key": ""}, id="no-key"),
        pytest.param({"to": "6281234567891"}, id="no-plus"),
        pytest.param({"to": "081234567891"}, id="national-format"),
        pytest.param({"to": "+0812345678"}, id="leading-zero"),
        pytest.param({"to": "+62 812 3456 7891"}, id="spaces"),
        pytest.param({"to": "+123456"}, id="too-short"),
        pytest.param({"to": "+1234567890123456"}, id="too-long"),
        pytest.param({"bcc": NUMBER}, id="unknown-field"),
    ],
)
def test_an_outbound_message_that_is_not_one_thing_to_one_valid_person_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        OutboundMessage(**{**VALID, **change})


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(VALID, id="text"),
        pytest.param({"key": "t", "to": NUMBER, "template": HELLO}, id="template-without-window"),
        pytest.param({"key": "c", "recipient": USER_ID, "contact_request": "Ketuk", "send_before": 1}, id="contact"),
        pytest.param({**VALID, "to": "+1234567"}, id="shortest-number"),
        pytest.param({**VALID, "to": "+123456789012345"}, id="longest-number"),
    ],
)
def test_an_outbound_message_of_one_thing_to_one_person_is_accepted(fields: dict[str, Any]) -> None:
    OutboundMessage(**fields)


@pytest.mark.parametrize(
    "message",
    [
        OutboundMessage(
            key="reply:1",
            to=NUMBER,
            read_message_id=MESSAGE_ID,
            reply_to=MESSAGE_ID,
            text="Silakan buka aplikasi JSS — menu “Profil”.",
            send_before=SENT_AT,
        ),
        OutboundMessage(key="c", recipient=USER_ID, contact_request="Ketuk tombol", send_before=SENT_AT),
        OutboundMessage(
            key="w", to=NUMBER, template=Template(name="jss_number_changed", language="id", body_parameters=("a", "b"))
        ),
        OutboundMessage(key="h", to=NUMBER, template=HELLO),
    ],
    ids=["text", "contact-request", "template", "template-without-parameters"],
)
def test_a_message_survives_the_queue_s_json_unchanged(message: OutboundMessage) -> None:
    assert OutboundMessage.model_validate_json(message.model_dump_json(exclude_none=True)) == message


def test_the_number_changed_warning_names_the_new_number_masked_the_time_in_wib_and_the_undo_link() -> None:
    warning = number_changed_warning(
        key="warn:f1",
        old_number=NUMBER,
        masked_new_number="+62 857-****-5678",
        at=1_750_000_000,  # 15:06:40 UTC
        undo_url="https://jss.example/whatsapp/undo?t=abc",
        template="jss_number_changed",
        language="id",
    )

    assert warning.to == NUMBER
    assert warning.key == "warn:f1"
    assert warning.send_before is None
    assert warning.template == Template(
        name="jss_number_changed",
        language="id",
        body_parameters=("+62 857-****-5678", "15-06-2025 22:06 WIB", "https://jss.example/whatsapp/undo?t=abc"),
    )


def test_a_message_to_a_flow_locked_by_wrong_passwords_says_so_and_what_to_do() -> None:
    text = text_of(reply_to(inbound(), {"outcome": "flow_not_pending", "reason": "locked"}, NOW))
    assert "password salah" in text
    assert "mulai lagi" in text
