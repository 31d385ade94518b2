"""What the service tells the account owner by email: the verification code and the change notice."""

from __future__ import annotations

import html

from shared.adapters.mail import Email, Mailer, MailNotSent
from shared.clock import wib_datetime
from shared.domain.phone import mask_number
from shared.observability import logger, metrics


def _html(paragraphs: list[str]) -> str:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return f'<!doctype html><html lang="id"><body style="font-family:sans-serif">{body}</body></html>'


def _email(subject: str, paragraphs: list[str]) -> Email:
    return Email(subject=subject, text="\n\n".join(paragraphs) + "\n", html=_html(paragraphs))


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
    return _email(
        "Kode verifikasi penggantian Nomor WhatsApp - Jogja Smart Service",
        [
            "Halo,",
            f"Kode verifikasi untuk mengganti Nomor WhatsApp akun Jogja Smart Service Anda: {code}",
            f"Kode berlaku {valid_minutes} menit dan hanya dapat dipakai sekali. "
            "Jangan berikan kode ini kepada siapa pun, termasuk petugas.",
            "Jika Anda tidak meminta kode ini, abaikan email ini; nomor Anda tidak berubah.",
            _SIGNATURE,
        ],
    )
