"""Phone numbers, always through phonenumbers: parsing what people type, WhatsApp ids, display, masking.

**One number policy** for every journey and the import (README, "Which numbers"):

- *What WhatsApp delivers is proof.* The sender of a signed webhook delivery (journeys A and B1) is
  accepted as it is, whatever its type: WhatsApp itself verified it, so a landline running WhatsApp
  Business is as good as a mobile.
- *What a person types must be a number WhatsApp can be on* (B2, and the WhatsApp number of a JSS
  record): a number that can receive WhatsApp's registration SMS or call, that is a mobile or a
  landline (``WHATSAPP_CAPABLE``); not a toll-free, premium-rate, shared-cost, UAN, VoIP, personal
  (follow-me), pager or voicemail number, which are service numbers rather than a person's line.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType, ValidationResult

from shared.errors import ServiceError

DEFAULT_REGION = "ID"
_SEPARATORS = re.compile(r"[\s\-.()/]")
WHATSAPP_CAPABLE = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.FIXED_LINE})


class NumberRefused(Exception):
    """Why a typed number is not a number this service can use: ``unreadable``, ``too_short``,
    ``too_long``, ``invalid`` or ``service_number`` (valid, but not one WhatsApp can be on)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind

    @property
    def service_number(self) -> bool:
        return self.kind == "service_number"


def _parse(typed: str, region: str) -> phonenumbers.PhoneNumber:
    """A valid number from what a person typed (``0812-3456-7890``, ``+62 812 3456 7890``, ``62812...``)."""
    text = typed.strip()
    # "62812..." without a plus is how people copy WhatsApp ids; phonenumbers would read it as national.
    digits = _SEPARATORS.sub("", text)
    if digits.startswith("62") and digits.isdigit():
        text = "+" + digits
    # phonenumbers reads letters as keypad digits ("0812-FLOWERS"); a phone number has none.
    if any(ch.isalpha() for ch in text):
        raise NumberRefused("unreadable")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise NumberRefused("too_long" if error.error_type == error.TOO_LONG else "unreadable") from None
    if phonenumbers.is_valid_number(number):
        return number
    # Say what is wrong by comparing with the lengths mobile numbers of that country have.
    length = phonenumbers.is_possible_number_for_type_with_reason(number, PhoneNumberType.MOBILE)
    if length == ValidationResult.TOO_SHORT:
        raise NumberRefused("too_short")
    if length == ValidationResult.TOO_LONG:
        raise NumberRefused("too_long")
    raise NumberRefused("invalid")


@lru_cache(maxsize=1024)
def _normalized(typed: str, region: str) -> tuple[str, bool]:
    """E.164 and whether WhatsApp can be on it. Cached: an import row often gives one number twice."""
    number = _parse(typed, region)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return e164, phonenumbers.number_type(number) in WHATSAPP_CAPABLE


def phone_e164(typed: str, region: str = DEFAULT_REGION) -> str:
    """Any valid phone number (mobile or landline) in E.164; raises ``NumberRefused``."""
    return _normalized(typed, region)[0]


def whatsapp_e164(typed: str, region: str = DEFAULT_REGION) -> str:
    """A typed number WhatsApp can be on (the policy above) in E.164; raises ``NumberRefused``."""
    e164, whatsapp_capable = _normalized(typed, region)
    if not whatsapp_capable:
        raise NumberRefused("service_number")
    return e164


_REASONS = {
    "unreadable": (
        "Nomor WhatsApp tidak dapat dibaca. Contoh penulisan yang benar: 0812-3456-7890.",
        "The WhatsApp number could not be read. Example of a correct number: 0812-3456-7890.",
    ),
    "too_short": (
        "Nomor WhatsApp terlalu pendek. Nomor HP Indonesia memiliki 10 sampai 13 digit, contoh 0812-3456-7890.",
        "The WhatsApp number is too short. Indonesian mobile numbers have 10 to 13 digits.",
    ),
    "too_long": (
        "Nomor WhatsApp terlalu panjang. Periksa kembali nomor yang Anda ketik.",
        "The WhatsApp number is too long. Please check the number you typed.",
    ),
    "invalid": (
        "Nomor WhatsApp tidak valid. Periksa kembali jumlah digit dan kode awalnya.",
        "The WhatsApp number is not valid. Check the number of digits and the prefix.",
    ),
    "service_number": (
        "Nomor ini tidak dapat dipakai untuk WhatsApp: nomor bebas pulsa, premium, atau nomor layanan tidak "
        "bisa menerima kode dari WhatsApp. Masukkan nomor HP (atau telepon) yang Anda pakai untuk WhatsApp.",
        "This number cannot be used for WhatsApp: toll-free, premium-rate and service numbers cannot receive "
        "WhatsApp's code. Enter the mobile (or landline) number you use WhatsApp on.",
    ),
}


def parse_whatsapp_number(typed: str, region: str = DEFAULT_REGION) -> str:
    """A WhatsApp number a citizen typed, in E.164; ``whatsapp_number_invalid`` with an Indonesian
    reason when it is not a valid number WhatsApp can be on."""
    try:
        return whatsapp_e164(typed, region)
    except NumberRefused as refused:
        reason_id, reason_en = _REASONS[refused.kind]
        raise ServiceError("whatsapp_number_invalid", text_reason=reason_id, text_reason_en=reason_en) from None


def from_whatsapp_id(wa_id: str) -> str | None:
    """A webhook sender (digits with country code, no plus) as E.164, or None if it is not a number.
    Any valid number, of any type: WhatsApp delivered from it, which is the proof."""
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
    """A number as people write it: Indonesian numbers in the national form (``0812-3456-7890``),
    others in the international form (``+44 7911 123456``)."""
    number = phonenumbers.parse(e164, None)
    national = phonenumbers.region_code_for_number(number) == DEFAULT_REGION
    form = PhoneNumberFormat.NATIONAL if national else PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, form)


_DIGIT_GROUP = re.compile(r"\d+")


def mask_number(e164: str) -> str:
    """The display form with its middle groups hidden, whole groups only: ``0812-****-7890``,
    ``+44 **** 123456``. A number written in two groups shows only the first."""
    shown = display_number(e164)
    groups = list(_DIGIT_GROUP.finditer(shown))
    kept = {0, len(groups) - 1} if len(groups) > 2 else {0}
    masked = list(shown)
    for index, group in enumerate(groups):
        if index not in kept:
            masked[group.start() : group.end()] = "*" * (group.end() - group.start())
    return "".join(masked)
