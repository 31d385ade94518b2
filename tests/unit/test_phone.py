"""Phone numbers as people type them, as WhatsApp sends them, and as the service shows them."""

from __future__ import annotations

import pytest

from shared.domain.accounts import mask_email
from shared.domain.phone import display_number, from_whatsapp_id, mask_number, parse_whatsapp_number
from shared.errors import ServiceError

# (typed, E.164): the spellings citizens use for the same kinds of numbers.
VALID = [
    ("0812-3456-7890", "+6281234567890"),
    ("+62 812 3456 7890", "+6281234567890"),
    ("62812 3456 7890", "+6281234567890"),
    ("6281234567890", "+6281234567890"),
    ("0812.3456.7890", "+6281234567890"),
    ("(0812) 3456-7890", "+6281234567890"),
    ("081234567890", "+6281234567890"),
    ("  0812 3456 7890  ", "+6281234567890"),
    ("+6285712345678", "+6285712345678"),
    ("0857-1234-5678", "+6285712345678"),
    ("+62-857-1234-5678", "+6285712345678"),
    ("62-812-3456-7890", "+6281234567890"),
    ("62.812.3456.7890", "+6281234567890"),
    ("+62 0812 3456 7890", "+6281234567890"),  # national 0 kept after the country code
    ("0812-3456-789", "+628123456789"),  # 11-digit national form
    ("0811 234 567", "+62811234567"),  # older 10-digit Telkomsel number
    ("+1 202 555 0123", "+12025550123"),  # a foreign WhatsApp number keeps its country
    # Landlines: WhatsApp verifies them by a call, and WhatsApp Business runs on them.
    ("021-5551234", "+62215551234"),
    ("(0274) 512345", "+62274512345"),
    ("+44 20 7946 0958", "+442079460958"),
]

# (typed, words the Indonesian reason must contain)
INVALID = [
    pytest.param("0800-1-234567", "bebas pulsa", id="toll-free"),
    pytest.param("0809-1-234567", "tidak dapat dipakai untuk WhatsApp", id="premium-rate"),
    pytest.param("1500-123", "tidak dapat dipakai untuk WhatsApp", id="uan-call-centre"),
    pytest.param("+1 800 555 0100", "tidak dapat dipakai untuk WhatsApp", id="foreign-toll-free"),
    pytest.param("+44 56 1234 5678", "tidak dapat dipakai untuk WhatsApp", id="voip"),
    pytest.param("112", "terlalu pendek", id="emergency-short"),
    pytest.param("0812", "terlalu pendek", id="prefix-only"),
    pytest.param("0812-345", "terlalu pendek", id="half-a-number"),
    pytest.param("081234567", "terlalu pendek", id="one-digit-too-few"),
    pytest.param("08123456789012", "terlalu panjang", id="one-digit-too-many"),
    pytest.param("0812-3456-7890-12", "terlalu panjang", id="two-digits-too-many"),
    pytest.param("+1 202 555 01234", "terlalu panjang", id="too-long-foreign"),
    pytest.param("0804-1234-5678", "tidak valid", id="unassigned-prefix"),
    pytest.param("abc", "tidak dapat dibaca", id="letters"),
    pytest.param("08l2-3456-7890", "tidak dapat dibaca", id="letter-l-for-one"),
    pytest.param("", "tidak dapat dibaca", id="empty"),
    pytest.param("   ", "tidak dapat dibaca", id="blank"),
    pytest.param("62", "tidak dapat dibaca", id="country-code-only"),
]


@pytest.mark.parametrize(("typed", "e164"), VALID)
def test_valid_spellings_become_e164(typed: str, e164: str) -> None:
    assert parse_whatsapp_number(typed) == e164


@pytest.mark.parametrize(("typed", "reason"), INVALID)
def test_invalid_numbers_are_refused_with_an_indonesian_reason(typed: str, reason: str) -> None:
    with pytest.raises(ServiceError) as caught:
        parse_whatsapp_number(typed)
    error = caught.value
    assert error.code == "whatsapp_number_invalid"
    assert error.status == 422
    detail = error.detail("id")
    assert reason in detail
    assert detail.startswith(("Nomor", "Nomor ini"))
    # The English text is a different sentence, for English pages.
    assert error.detail("en") != detail
    assert error.detail("en").startswith(("The", "This"))
    # The reason stays out of the problem document's extension members (it is the detail already).
    assert error.public_fields() == {}


@pytest.mark.parametrize("typed", ["0812-3456-ABCD", "0812-FLOWERS"])
def test_letters_mixed_into_a_number_are_refused(typed: str) -> None:
    with pytest.raises(ServiceError) as caught:
        parse_whatsapp_number(typed)
    assert caught.value.code == "whatsapp_number_invalid"


def test_far_too_long_number_says_too_long() -> None:
    with pytest.raises(ServiceError) as caught:
        parse_whatsapp_number("0812 3456 7890 1234 5678")
    assert "terlalu panjang" in caught.value.detail("id")


@pytest.mark.parametrize(
    ("wa_id", "e164"),
    [
        ("6281234567890", "+6281234567890"),
        ("+6281234567890", "+6281234567890"),
        (" 6285712345678 ", "+6285712345678"),
        ("12025550123", "+12025550123"),
    ],
)
def test_from_whatsapp_id_reads_digits_with_country_code(wa_id: str, e164: str) -> None:
    assert from_whatsapp_id(wa_id) == e164


@pytest.mark.parametrize(
    "wa_id",
    [
        "",
        "abc",
        "62-812-3456-7890",
        "6281234567890abc",
        "081234567890",  # national form: no country code, 081 is no country
        "999123456789",  # no such country code
        "62812",  # too short to be a number
        "BSUID.1234567890",  # business-scoped user id, not a number
    ],
)
def test_from_whatsapp_id_rejects_what_is_not_a_number(wa_id: str) -> None:
    assert from_whatsapp_id(wa_id) is None


@pytest.mark.parametrize(
    ("e164", "shown"),
    [
        ("+6281234567890", "0812-3456-7890"),
        ("+628123456789", "0812-3456-789"),
        ("+62274512345", "(0274) 512345"),
        ("+447911123456", "+44 7911 123456"),
        ("+12025550123", "+1 202-555-0123"),
    ],
)
def test_display_number_is_national_for_indonesia_and_international_otherwise(e164: str, shown: str) -> None:
    assert display_number(e164) == shown


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        ("+6281234567890", "0812-****-7890"),
        ("+6285712345678", "0857-****-5678"),
        ("+628123456789", "0812-****-789"),
        ("+12025550123", "+1 ***-***-0123"),
        ("+447911123456", "+44 **** 123456"),
        ("+62274512345", "(0274) ******"),
    ],
)
def test_mask_number_hides_whole_middle_groups(e164: str, masked: str) -> None:
    assert mask_number(e164) == masked


@pytest.mark.parametrize("e164", ["+6281234567890", "+6285712345678", "+628123456789", "+62811234567"])
def test_mask_number_never_shows_the_middle_group(e164: str) -> None:
    masked = mask_number(e164)
    middle = display_number(e164).split("-")[1]
    assert masked.split("-")[1] == "*" * len(middle)
    assert e164[1:] not in masked
    assert middle not in masked


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("budi@example.com", "b***i@example.com"),
        ("siti.rahayu@jogjakota.go.id", "s***u@jogjakota.go.id"),
        ("abc@example.com", "a***c@example.com"),
        ("ab@example.com", "a***@example.com"),
        ("a@example.com", "a***@example.com"),
    ],
)
def test_mask_email(email: str, masked: str) -> None:
    assert mask_email(email) == masked


def test_mask_email_hides_the_local_part() -> None:
    masked = mask_email("rahasia.pribadi@example.com")
    assert "rahasia" not in masked
    assert "pribadi" not in masked
    assert masked.endswith("@example.com")
