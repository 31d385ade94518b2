"""What a flow that did not succeed tells the citizen: why, and a next step that works for their account.

A step is only offered when it can work: changing the number with an email code (B2) needs a
registered email and a WhatsApp number already on the account; a migration (A) can only be proven
through WhatsApp. The app's status answers know less of the account than the link pages (no
account read), so they leave out the email step rather than offer one that may not work.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain.flows import FailureReason, FlowKind

# Where each way in starts, in the words of the guide's screens.
_START_MIGRATION = {
    "id": "Mulai lagi dari aplikasi JSS: menu Profil, Nomor Telepon, lalu Migrasi ke WhatsApp.",
    "en": "Start again in the JSS app: Profile menu, Nomor Telepon, then Migrasi ke WhatsApp.",
}
_START_CHANGE = {
    "id": "Mulai lagi dari aplikasi JSS: menu Profil, Nomor WhatsApp, lalu Melalui WhatsApp.",
    "en": "Start again in the JSS app: Profile menu, Nomor WhatsApp, then Melalui WhatsApp.",
}
_BY_EMAIL = {
    "id": "Anda juga dapat mengganti nomor dengan kode dari email: menu Profil, Nomor WhatsApp, lalu Melalui Email.",
    "en": "You can also change the number with a code sent to your email: Profile menu, Nomor WhatsApp, then "
    "Melalui Email.",
}
_FORGOT_PASSWORD_EMAIL = {
    "id": "Lupa password? Ganti nomor dengan kode dari email: di aplikasi JSS buka menu Profil, Nomor WhatsApp, "
    "lalu Melalui Email.",
    "en": "Forgot your password? Change the number with a code sent to your email: in the JSS app open Profile, "
    "Nomor WhatsApp, then Melalui Email.",
}
_FORGOT_PASSWORD_SUPPORT = {
    "id": "Lupa password? Hubungi layanan JSS untuk memulihkan akun Anda, lalu mulai lagi.",
    "en": "Forgot your password? Contact JSS support to recover your account, then start again.",
}
_SUPPORT = {
    "id": "Jika Anda butuh bantuan, hubungi layanan JSS.",
    "en": "If you need help, contact JSS support.",
}

_WHY: dict[str, dict[str, str]] = {
    FailureReason.FORWARDED: {
        "id": "Pesan yang diteruskan (forward) tidak dapat dipakai. Pesan harus dikirim langsung dari WhatsApp di HP "
        "Anda, tanpa diubah.",
        "en": "A forwarded message cannot be used. The message must be sent directly from WhatsApp on your phone, "
        "unchanged.",
    },
    FailureReason.SENDER_NUMBER_HIDDEN: {
        "id": "Nomor WhatsApp pengirim tidak terlihat karena akun WhatsApp Anda memakai nama pengguna (username) yang "
        "menyembunyikan nomor. Tampilkan nomor Anda di pengaturan privasi WhatsApp sebelum mencoba lagi.",
        "en": "The sender's number is hidden because your WhatsApp account uses a username. Show your number in "
        "WhatsApp's privacy settings before you try again.",
    },
    FailureReason.NUMBER_TAKEN: {
        "id": "Nomor WhatsApp ini sudah terhubung dengan akun JSS lain. Jika akun itu milik Anda juga, ganti dulu "
        "nomor di akun tersebut; atau kirim pesan dari nomor WhatsApp lain.",
        "en": "This WhatsApp number is already linked to another JSS account. If that account is yours too, change "
        "the number there first; or send the message from another WhatsApp number.",
    },
    FailureReason.SAME_NUMBER: {
        "id": "Pesan dikirim dari Nomor WhatsApp yang sudah terdaftar di akun Anda, jadi tidak ada yang berubah. "
        "Untuk mengganti nomor, kirim pesan dari WhatsApp di nomor yang baru.",
        "en": "The message came from the WhatsApp number already on your account, so nothing changed. To change "
        "the number, send the message from WhatsApp on the new number.",
    },
    FailureReason.ALREADY_LINKED: {
        "id": "Akun Anda sudah memiliki Nomor WhatsApp. Untuk menggantinya, buka menu Profil, Nomor WhatsApp, lalu "
        "Melalui WhatsApp.",
        "en": "Your account already has a WhatsApp number. To change it, open the Profile menu, Nomor WhatsApp, then "
        "Melalui WhatsApp.",
    },
    FailureReason.ACCOUNT_GONE: {
        "id": "Akun JSS ini tidak ditemukan lagi. Silakan hubungi layanan JSS.",
        "en": "This JSS account can no longer be found. Please contact JSS support.",
    },
    FailureReason.MESSAGE_AFTER_EXPIRY: {
        "id": "Pesan Anda sampai setelah batas waktu 10 menit habis.",
        "en": "Your message arrived after the 10 minutes were over.",
    },
    FailureReason.PROPOSAL_UNREADABLE: {
        "id": "Nomor baru tidak dapat dibaca lagi, jadi tidak ada yang berubah.",
        "en": "The new number could no longer be read, so nothing changed.",
    },
}
# Reasons after which starting again cannot help: the step is somewhere else.
_NO_RESTART = (FailureReason.ALREADY_LINKED, FailureReason.ACCOUNT_GONE)


@dataclass(frozen=True)
class AccountFacts:
    """What decides which next steps can work; ``has_email`` is None when it is not known."""

    kind: FlowKind
    has_email: bool | None = None


def failure_text(reason: str | None, lang: str, facts: AccountFacts) -> str:
    """Why the flow failed and what to do now, in ``lang``."""
    why = _WHY.get(reason or "")
    parts = [why[lang]] if why else []
    if reason not in _NO_RESTART:
        parts.append(start_again(lang, facts.kind))
    if reason == FailureReason.SENDER_NUMBER_HIDDEN and _email_can_change(facts):
        parts.append(_BY_EMAIL[lang])
    if reason == FailureReason.NUMBER_TAKEN:
        parts.append(_SUPPORT[lang])
    return " ".join(parts)


def start_again(lang: str, kind: FlowKind) -> str:
    return (_START_MIGRATION if kind is FlowKind.MIGRATION else _START_CHANGE)[lang]


def forgot_password(lang: str, has_email: bool) -> str:
    return (_FORGOT_PASSWORD_EMAIL if has_email else _FORGOT_PASSWORD_SUPPORT)[lang]


def change_by_email(lang: str) -> str:
    return _BY_EMAIL[lang]


def _email_can_change(facts: AccountFacts) -> bool:
    # A number change means the account has a WhatsApp number: B2 only needs the email then.
    return facts.kind is FlowKind.NUMBER_CHANGE and bool(facts.has_email)
