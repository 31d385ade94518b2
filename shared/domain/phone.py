"""Phone numbers, always through phonenumbers: parsing what people type, WhatsApp ids, masking."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType, ValidationResult

from shared.errors import ServiceError

DEFAULT_REGION = "ID"
_SEPARATORS = re.compile(r"[\s\-.()/]")
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def _invalid(reason_id: str, reason_en: str) -> ServiceError:
    return ServiceError("whatsapp_number_invalid", text_reason=reason_id, text_reason_en=reason_en)


def _too_long() -> ServiceError:
    return _invalid(
        "Nomor WhatsApp terlalu panjang. Periksa kembali nomor yang Anda ketik.",
        "The WhatsApp number is too long. Please check the number you typed.",
    )


def parse_mobile_number(typed: str, region: str = DEFAULT_REGION) -> str:
    """Turns a number as a person types it (``0812-3456-7890``, ``+62 812 3456 7890``) into E.164.

    Raises ``whatsapp_number_invalid`` with an Indonesian reason when it is not a valid mobile number.
    """
    text = typed.strip()
    # "62812..." without a plus is how people copy WhatsApp ids; phonenumbers would read it as national.
    digits = _SEPARATORS.sub("", text)
    if digits.startswith("62") and digits.isdigit():
        text = "+" + digits
    unreadable = _invalid(
        "Nomor WhatsApp tidak dapat dibaca. Contoh penulisan yang benar: 0812-3456-7890.",
        "The WhatsApp number could not be read. Example of a correct number: 0812-3456-7890.",
    )
    # phonenumbers reads letters as keypad digits ("0812-FLOWERS"); a WhatsApp number has none.
    if any(ch.isalpha() for ch in text):
        raise unreadable
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        if error.error_type == phonenumbers.NumberParseException.TOO_LONG:
            raise _too_long() from None
        raise unreadable from None
    if phonenumbers.is_valid_number(number):
        if phonenumbers.number_type(number) not in _MOBILE_TYPES:
            raise _invalid(
                "Nomor ini bukan nomor seluler. WhatsApp membutuhkan nomor HP, bukan nomor telepon rumah atau kantor.",
                "This is not a mobile number. WhatsApp needs a mobile number, not a landline.",
            )
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    # Say what is wrong by comparing with the lengths mobile numbers of that country have.
    length = phonenumbers.is_possible_number_for_type_with_reason(number, PhoneNumberType.MOBILE)
    if length == ValidationResult.TOO_SHORT:
        raise _invalid(
            "Nomor WhatsApp terlalu pendek. Nomor HP Indonesia memiliki 10 sampai 13 digit, contoh 0812-3456-7890.",
            "The WhatsApp number is too short. Indonesian mobile numbers have 10 to 13 digits.",
        )
    if length == ValidationResult.TOO_LONG:
        raise _too_long()
    raise _invalid(
        "Nomor WhatsApp tidak valid. Periksa kembali jumlah digit dan kode awalnya.",
        "The WhatsApp number is not valid. Check the number of digits and the prefix.",
    )


def from_whatsapp_id(wa_id: str) -> str | None:
    """A webhook sender (digits with country code, no plus) as E.164, or None if it is not a number."""
    digits = wa_id.strip().lstrip("+")
    if not digits.isdigit():
        return None
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def display_number(e164: str) -> str:
    """The international form people read, e.g. ``+62 812-3456-7890``."""
    return phonenumbers.format_number(phonenumbers.parse(e164, None), PhoneNumberFormat.INTERNATIONAL)


def mask_number(e164: str) -> str:
    """Keeps the country code, the first three and the last three digits: ``+62 812-****-*890``."""
    shown = display_number(e164)
    digits_seen = 0
    total = sum(ch.isdigit() for ch in shown)
    country_digits = len(str(phonenumbers.parse(e164, None).country_code))
    masked = []
    for ch in shown:
        if ch.isdigit():
            digits_seen += 1
            keep = digits_seen <= country_digits + 3 or digits_seen > total - 3
            masked.append(ch if keep else "*")
        else:
            masked.append(ch)
    return "".join(masked)


def mask_email(email: str) -> str:
    """``budi@example.com`` becomes ``b***i@example.com``."""
    local, _, domain = email.partition("@")
    if len(local) <= 2:
        return f"{local[:1]}***@{domain}"
    return f"{local[0]}***{local[-1]}@{domain}"
