"""What the service tells the account owner by email: the verification code and the change notice."""

from __future__ import annotations

import html
from dataclasses import dataclass

from shared.adapters.mail import Email, Mailer, MailNotSent
from shared.clock import wib_datetime
from shared.domain.phone import mask_number
from shared.observability import logger, metrics


@dataclass(frozen=True)
class _Code:
    """A code the reader must type: alone on its line, large in the HTML version."""

    value: str


Paragraph = str | _Code
_CODE_STYLE = "font-size:32px;font-weight:bold;letter-spacing:6px;margin:16px 0"


def _html(paragraphs: list[Paragraph]) -> str:
    body = "".join(
        f'<p style="{_CODE_STYLE}">{html.escape(p.value)}</p>' if isinstance(p, _Code) else f"<p>{html.escape(p)}</p>"
        for p in paragraphs
    )
    return f'<!doctype html><html lang="id"><body style="font-family:sans-serif">{body}</body></html>'


def _email(subject: str, paragraphs: list[Paragraph]) -> Email:
    """The plain-text and HTML versions say the same, in the same order."""
    text = "\n\n".join(p.value if isinstance(p, _Code) else p for p in paragraphs)
    return Email(subject=subject, text=text + "\n", html=_html(paragraphs))


_SIGNATURE = "Salam,\nJogja Smart Service - Pemerintah Kota Yogyakarta"
_NOT_YOU = "Jika Anda tidak melakukan perubahan ini, segera hubungi layanan JSS dan ganti password akun Anda."


def number_changed_email(headline: str, masked_number: str, at: int) -> Email:
    """Tells the account owner that the WhatsApp number changed, whoever asked for it."""
    return _email(
        f"{headline} - Jogja Smart Service",
        [
            "Halo,",
            f"{headline}. Nomor WhatsApp akun Jogja Smart Service Anda sekarang {masked_number} "
            f"(diubah pada {wib_datetime(at)}).",
            _NOT_YOU,
            _SIGNATURE,
        ],
    )


def notify_number_changed(mailer: Mailer, email: str | None, headline: str, number: str, at: int) -> None:
    """Tells the owner after a change is committed. A mail failure is logged and counted, never
    undone: the number did change."""
    _send_notice(mailer, email, number_changed_email(headline, mask_number(number), at))


def _send_notice(mailer: Mailer, email: str | None, notice: Email) -> None:
    if not email:
        return
    try:
        mailer.send(email, notice)
    except MailNotSent as error:
        metrics.add_metric(name="NotificationNotSent", unit="Count", value=1)
        logger.warning("change notification not sent", extra={"error": str(error)})


def number_taken_over_email(masked_number: str, at: int) -> Email:
    """Tells the account that held a number unverified that its owner proved it through WhatsApp."""
    return _email(
        "Nomor WhatsApp dilepas dari akun Anda - Jogja Smart Service",
        [
            "Halo,",
            f"Nomor WhatsApp {masked_number} tidak lagi terhubung dengan akun Jogja Smart Service Anda "
            f"(sejak {wib_datetime(at)}). Pemilik nomor tersebut membuktikannya dengan mengirim pesan "
            "WhatsApp dari nomor itu, sedangkan di akun Anda nomor ini belum pernah dibuktikan melalui "
            "WhatsApp.",
            "Jika nomor itu memang milik Anda, buka menu Profil di aplikasi JSS dan pilih Migrasi ke "
            "WhatsApp, lalu kirim pesan yang disiapkan dari nomor tersebut. Jika bukan, tidak ada yang "
            "perlu Anda lakukan; Anda dapat memasukkan nomor WhatsApp Anda sendiri kapan saja.",
            _SIGNATURE,
        ],
    )


def notify_number_taken_over(mailer: Mailer, email: str | None, number: str, at: int) -> None:
    """Tells the displaced account after the takeover committed; like every notice, never undone."""
    _send_notice(mailer, email, number_taken_over_email(mask_number(number), at))


def verification_code_email(code: str, valid_minutes: int) -> Email:
    """The code first, alone on its line: mail apps show the first lines beside the subject, so the
    citizen reads it without opening the mail. Never in the subject (it shows on locked screens)."""
    return _email(
        "Kode verifikasi penggantian Nomor WhatsApp - Jogja Smart Service",
        [
            "Kode verifikasi Anda:",
            _Code(code),
            "Masukkan kode ini di aplikasi JSS untuk mengganti Nomor WhatsApp akun Jogja Smart Service Anda. "
            f"Kode berlaku {valid_minutes} menit dan hanya dapat dipakai sekali. "
            "Jangan berikan kode ini kepada siapa pun, termasuk petugas.",
            "Jika Anda tidak meminta kode ini, abaikan email ini; nomor Anda tidak berubah.",
            _SIGNATURE,
        ],
    )
