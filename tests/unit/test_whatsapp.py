"""Meta's webhook: the X-Hub-Signature-256 check, the subscription handshake, and reading deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from shared.adapters.whatsapp_webhook import Delivery, Inbound, handshake_answer, inbound_messages, signature_valid
from shared.domain.flows import InboundMessage
from shared.domain.hidden_senders import SharedNumber
from shared.domain.number_moves import NumberMoved

SECRET = "unit-app-secret"
OUR_ID = "100000000000001"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# ----------------------------------------------------------------- signature


def test_right_signature_is_valid() -> None:
    assert signature_valid(SECRET, BODY, sign(BODY)) is True


def test_uppercase_hex_digest_is_accepted() -> None:
    header = sign(BODY)
    assert signature_valid(SECRET, BODY, "sha256=" + header[7:].upper()) is True


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("sha256=", id="prefix-only"),
        pytest.param(sign(BODY)[7:], id="digest-without-prefix"),
        pytest.param("sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest(), id="sha1"),
        pytest.param(sign(BODY, "another-secret"), id="other-secret"),
        pytest.param(sign(BODY)[:-1], id="digest-cut-short"),
        pytest.param(sign(BODY) + "00", id="digest-too-long"),
        pytest.param("sha256=" + "0" * 64, id="zeros"),
    ],
)
def test_wrong_signatures_are_invalid(header: str | None) -> None:
    assert signature_valid(SECRET, BODY, header) is False


@pytest.mark.parametrize(
    "tampered",
    [
        BODY.replace(b"[]", b"[{}]"),
        BODY + b" ",
        BODY + b"\n",
        json.dumps(json.loads(BODY)).encode(),  # same JSON, different bytes
    ],
)
def test_signature_covers_the_exact_body_bytes(tampered: bytes) -> None:
    assert tampered != BODY
    assert signature_valid(SECRET, tampered, sign(BODY)) is False


@pytest.mark.parametrize(
    "header", [pytest.param("sha256=é", id="latin1"), pytest.param("sha256=" + "ａ" * 64, id="fullwidth-hex")]
)
def test_non_ascii_signature_is_invalid_not_an_error(header: str) -> None:
    assert signature_valid(SECRET, BODY, header) is False


# ----------------------------------------------------------------- handshake


@pytest.mark.parametrize(
    ("mode", "token", "challenge", "answer"),
    [
        ("subscribe", "unit-verify", "1158201444", "1158201444"),
        ("subscribe", "wrong", "1158201444", None),
        ("subscribe", "unit-verif", "1158201444", None),
        ("subscribe", "", "1158201444", None),
        ("subscribe", None, "1158201444", None),
        ("subscribe", "unit-verify", None, None),
        ("unsubscribe", "unit-verify", "1158201444", None),
        (None, "unit-verify", "1158201444", None),
        ("subscribe", "ünit-verify", "1", None),  # non-ASCII is compared as bytes, no crash
    ],
)
def test_handshake_answer(mode: str | None, token: str | None, challenge: str | None, answer: str | None) -> None:
    assert handshake_answer(mode, token, challenge, "unit-verify") == answer


# ----------------------------------------------------------------- deliveries


def text_message(msg_id: str, sender: str | None = "6281234567890", body: str = "halo", **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"id": msg_id, "timestamp": "1750000000", "type": "text", "text": {"body": body}}
    if sender is not None:
        message["from"] = sender
    message.update(extra)
    return message


def change(messages: list[dict[str, Any]] | None = None, phone_number_id: str = OUR_ID, **value: Any) -> dict[str, Any]:
    content: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "6281100000000", "phone_number_id": phone_number_id},
        **value,
    }
    if messages is not None:
        content["messages"] = messages
        content["contacts"] = [{"profile": {"name": "Budi"}, "wa_id": "6281234567890"}]
    return {"field": "messages", "value": content}


def delivery(*changes: dict[str, Any], entries: int = 1) -> Delivery:
    return Delivery.model_validate(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": f"WABA{i}", "changes": list(changes)} for i in range(entries)],
        }
    )


def read(d: Delivery) -> list[Inbound | None]:
    return list(inbound_messages(d, OUR_ID))


def test_text_message_becomes_an_inbound_message() -> None:
    [message] = read(delivery(change([text_message("wamid.1", body="Halo JSS https://jss.example/m/abc")])))
    assert message == InboundMessage(
        message_id="wamid.1",
        sender="+6281234567890",
        text="Halo JSS https://jss.example/m/abc",
        forwarded=False,
        sent_at=1750000000,
    )


def test_status_updates_are_not_messages() -> None:
    statuses = [{"id": "wamid.out", "status": "delivered", "timestamp": "1750000000", "recipient_id": "6281234567890"}]
    assert read(delivery(change(statuses=statuses))) == []


@pytest.mark.parametrize(
    "message",
    [
        {"id": "wamid.img", "from": "6281234567890", "timestamp": "1", "type": "image", "image": {"id": "m1"}},
        {"id": "wamid.sticker", "from": "6281234567890", "timestamp": "1", "type": "sticker", "sticker": {}},
        {"id": "wamid.notext", "from": "6281234567890", "timestamp": "1", "type": "text"},
        {"id": "wamid.unsupported", "from": "6281234567890", "timestamp": "1", "type": "unsupported"},
    ],
)
def test_non_text_messages_are_acknowledged_as_none(message: dict[str, Any]) -> None:
    assert read(delivery(change([message]))) == [None]


def test_every_entry_and_change_is_read() -> None:
    d = delivery(
        change([text_message("wamid.a1"), text_message("wamid.a2")]),
        change([text_message("wamid.b1")]),
        entries=2,
    )
    ids = [m.message_id for m in read(d) if m]
    assert ids == ["wamid.a1", "wamid.a2", "wamid.b1"] * 2


def test_deliveries_for_another_phone_number_id_are_skipped() -> None:
    d = delivery(
        change([text_message("wamid.other")], phone_number_id="999999999999999"),
        change([text_message("wamid.ours")]),
    )
    assert [m.message_id for m in read(d) if m] == ["wamid.ours"]


@pytest.mark.parametrize(
    ("context", "forwarded"),
    [
        ({"forwarded": True}, True),
        ({"frequently_forwarded": True}, True),
        ({"forwarded": False}, False),
        ({"from": "6281100000000", "id": "wamid.quoted"}, False),  # a reply quoting us is not forwarded
    ],
)
def test_forwarded_context(context: dict[str, Any], forwarded: bool) -> None:
    [message] = read(delivery(change([text_message("wamid.f", context=context)])))
    assert message is not None
    assert message.forwarded is forwarded


def test_sender_with_only_a_user_id_has_no_number() -> None:
    raw = text_message("wamid.u", sender=None, from_user_id="ID.123456789012345")
    [message] = read(delivery(change([raw])))
    assert isinstance(message, InboundMessage)
    assert message.sender is None
    assert message.sender_user_id == "ID.123456789012345"
    assert message.text == "halo"


def test_a_hidden_senders_user_id_may_come_only_in_the_deliverys_contacts() -> None:
    """Meta names the business-scoped id in ``contacts[].user_id``; some payloads carry it on the message."""
    value = change([text_message("wamid.c", sender=None)])
    value["value"]["contacts"] = [{"profile": {"name": "Budi"}, "user_id": "ID.777"}]
    [message] = read(delivery(value))
    assert isinstance(message, InboundMessage)
    assert message.sender_user_id == "ID.777"


def shared_contact(
    origin: str = "contact_request", wa_id: str | None = "6281234567890", **extra: Any
) -> dict[str, Any]:
    phone: dict[str, Any] = {"phone": "+62 812-3456-7890", "type": "CELL"}
    if wa_id is not None:
        phone["wa_id"] = wa_id
    return {
        "id": "wamid.share",
        "timestamp": "1750000100",
        "type": "contacts",
        "from_user_id": "ID.123",
        "origin": origin,
        "contacts": [{"name": {"formatted_name": "Budi"}, "phones": [phone]}],
        **extra,
    }


def test_a_number_shared_through_our_contact_request_is_read_with_the_user_id() -> None:
    [message] = read(delivery(change([shared_contact()])))
    assert message == SharedNumber(
        message_id="wamid.share", sender_user_id="ID.123", number="+6281234567890", sent_at=1750000100
    )


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(shared_contact(origin="other"), id="a-contact-card-sent-unasked"),
        pytest.param(shared_contact(wa_id=None), id="a-typed-phone-without-whatsapp-id"),
        pytest.param(shared_contact(from_user_id=None), id="no-user-id"),
        pytest.param(shared_contact(wa_id="not-a-number"), id="not-a-number"),
    ],
)
def test_a_contact_that_wa_did_not_vouch_for_proves_nothing(raw: dict[str, Any]) -> None:
    """Anyone can send a contact card of any number: only WhatsApp's answer to our request, naming
    the WhatsApp account's own id, stands for the sender's number."""
    [message] = read(delivery(change([raw])))
    assert message is None


def user_changed_number(new_wa_id: str | None = "6281399990000") -> dict[str, Any]:
    system: dict[str, Any] = {
        "body": "User Budi changed from 6281234567890 to 6281399990000",
        "type": "user_changed_number",
    }
    if new_wa_id is not None:
        system["wa_id"] = new_wa_id
    return {"from": "6281234567890", "id": "wamid.sys", "timestamp": "1750000200", "type": "system", "system": system}


def test_user_changed_number_is_read_with_both_numbers() -> None:
    [message] = read(delivery(change([user_changed_number()])))
    assert message == NumberMoved(
        message_id="wamid.sys", old_number="+6281234567890", new_number="+6281399990000", sent_at=1750000200
    )


def test_user_changed_number_without_the_new_id_still_names_the_old_number() -> None:
    [message] = read(delivery(change([user_changed_number(new_wa_id=None)])))
    assert isinstance(message, NumberMoved)
    assert message.new_number is None


def test_other_system_messages_are_ignored() -> None:
    raw = user_changed_number()
    raw["system"]["type"] = "customer_identity_changed"
    assert read(delivery(change([raw]))) == [None]


@pytest.mark.parametrize("sender", ["not-a-number", "0812345", ""])
def test_sender_that_is_not_a_number_is_none(sender: str) -> None:
    [message] = read(delivery(change([text_message("wamid.s", sender=sender)])))
    assert message is not None
    assert message.sender is None


def test_malformed_item_is_none_and_the_others_still_count() -> None:
    d = delivery(
        change(
            [
                text_message("wamid.ok1"),
                {"from": "6281234567890", "type": "text", "text": {"body": "no id"}},
                {"id": "wamid.badtime", "from": "6281234567890", "timestamp": "kemarin", "type": "text"},
                {"id": "wamid.badtext", "type": "text", "text": "not an object"},
                text_message("wamid.ok2"),
            ]
        )
    )
    result = read(d)
    assert [m.message_id if m else None for m in result] == ["wamid.ok1", None, None, None, "wamid.ok2"]


def test_missing_timestamp_reads_as_zero() -> None:
    raw = text_message("wamid.t")
    del raw["timestamp"]
    [message] = read(delivery(change([raw])))
    assert message is not None
    assert message.sent_at == 0


def test_unknown_fields_are_ignored() -> None:
    raw = text_message("wamid.x", referral={"source_url": "https://example"}, errors=[])
    d = Delivery.model_validate(
        {
            "object": "whatsapp_business_account",
            "unexpected": True,
            "entry": [{"id": "1", "time": 1, "changes": [change([raw])]}],
        }
    )
    assert [m.message_id for m in read(d) if m] == ["wamid.x"]


def test_empty_delivery_yields_nothing() -> None:
    assert read(Delivery.model_validate({})) == []
    assert read(Delivery.model_validate({"object": "whatsapp_business_account", "entry": [{"changes": []}]})) == []
