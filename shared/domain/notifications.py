"""What the service tells the account owner by email: the verification code, the change notice (with
its "Bukan saya" link when the change replaced a number), and the notice that a change was undone."""

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


@dataclass(frozen=True)
class _Link:
    """A sentence and the address it leads to, on a line of its own (a link in the HTML version)."""

    text: str
    url: str


Paragraph = str | _Code | _Link
_CODE_STYLE = "font-size:32px;font-weight:bold;letter-spacing:6px;margin:16px 0"


def _html_paragraph(p: Paragraph) -> str:
    if isinstance(p, _Code):
        return f'<p style="{_CODE_STYLE}">{html.escape(p.value)}</p>'
    if isinstance(p, _Link):
        url = html.escape(p.url)
        return f'<p>{html.escape(p.text)}<br><a href="{url}">{url}</a></p>'
    return f"<p>{html.escape(p)}</p>"


def _text_paragraph(p: Paragraph) -> str:
    if isinstance(p, _Code):
        return p.value
    return f"{p.text}\n{p.url}" if isinstance(p, _Link) else p


def _html(paragraphs: list[Paragraph]) -> str:
    body = "".join(_html_paragraph(p) for p in paragraphs)
    return f'<!doctype html><html lang="id"><body style="font-family:sans-serif">{body}</body></html>'


def _email(subject: str, paragraphs: list[Paragraph]) -> Email:
    """The plain-text and HTML versions say the same, in the same order."""
    text = "\n\n".join(_text_paragraph(p) for p in paragraphs)
    return Email(subject=subject, text=text + "\n", html=_html(paragraphs))


_SIGNATURE = "Salam,\nJogja Smart Service - Pemerintah Kota Yogyakarta"
_NOT_YOU = "Jika Anda tidak melakukan perubahan ini, segera hubungi layanan JSS dan ganti password akun Anda."


@dataclass(frozen=True)
class UndoLink:
    """The "Bukan saya" link of a change, as a notice shows it."""

    url: str
    previous_masked: str
    """The number the link puts back, masked."""
    valid_until: int


def number_changed_email(headline: str, masked_number: str, at: int, undo: UndoLink | None = None) -> Email:
    """Tells the account owner that the WhatsApp number changed, whoever asked for it; when the
    change replaced a number, how to put it back if it was not them."""
    not_you: list[Paragraph] = [_NOT_YOU]
    if undo is not None:
        not_you = [
            _Link(
                f"Bukan Anda yang mengganti nomor? Batalkan perubahan ini dan pulihkan nomor sebelumnya "
                f"({undo.previous_masked}) melalui tautan berikut, berlaku sampai {wib_datetime(undo.valid_until)}:",
                undo.url,
            ),
            "Tautan ini hanya dapat dipakai sekali. Setelah membatalkan, segera ganti password akun JSS dan password "
            "email Anda. Jika tautan sudah tidak berlaku, segera hubungi layanan JSS.",
        ]
    return _email(
        f"{headline} - Jogja Smart Service",
        [
            "Halo,",
            f"{headline}. Nomor WhatsApp akun Jogja Smart Service Anda sekarang {masked_number} "
            f"(diubah pada {wib_datetime(at)}).",
            *not_you,
            _SIGNATURE,
        ],
    )


def number_restored_email(restored_masked: str, replaced_masked: str, changed_at: int, at: int, until: int) -> Email:
    """Tells the account owner that a change was undone through its "Bukan saya" link: someone else
    had changed the number, so the passwords must change too."""
    return _email(
        "Nomor WhatsApp akun Anda dipulihkan - Jogja Smart Service",
        [
            "Halo,",
            f"Penggantian Nomor WhatsApp akun Jogja Smart Service Anda ke {replaced_masked} pada "
            f"{wib_datetime(changed_at)} telah dibatalkan pada {wib_datetime(at)}. Nomor WhatsApp akun Anda kembali "
            f"{restored_masked}.",
            "Karena orang lain mungkin dapat masuk ke akun Anda, segera ganti password akun JSS Anda dan password "
            "email Anda. Kami juga meminta JSS mengakhiri semua sesi masuk akun Anda.",
            f"Demi keamanan, Nomor WhatsApp akun ini tidak dapat diganti sampai {wib_datetime(until)}. Jika Anda "
            "butuh bantuan, hubungi layanan JSS.",
            _SIGNATURE,
        ],
    )


def send_notice(mailer: Mailer, email: str | None, notice: Email) -> None:
    """Sends a notice about a committed change. A mail failure is logged and counted, never undone:
    the change did happen."""
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
    send_notice(mailer, email, number_taken_over_email(mask_number(number), at))


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


def number_moved_email(masked_number: str, at: int) -> Email:
    """WhatsApp said the account's number moved to a new one: how to link the new one (B1)."""
    return _email(
        "Nomor WhatsApp akun Anda perlu diperbarui - Jogja Smart Service",
        [
            "Halo,",
            f"WhatsApp memberi tahu kami bahwa pengguna nomor {masked_number} telah pindah ke nomor WhatsApp "
            f"lain ({wib_datetime(at)}). Nomor {masked_number} masih tercatat di akun Jogja Smart Service "
            "Anda, tetapi tidak lagi dianggap terverifikasi.",
            "Untuk menautkan nomor WhatsApp baru Anda: buka aplikasi JSS, menu Profil, pilih Ganti Nomor "
            "WhatsApp, lalu Melalui WhatsApp. Kirim pesan yang disiapkan dari nomor baru Anda, buka tautan "
            "biru, ketik password JSS Anda, lalu tekan Ubah.",
            "Jika Anda tidak mengganti nomor WhatsApp, hubungi layanan JSS.",
            _SIGNATURE,
        ],
    )


def notify_number_moved(mailer: Mailer, email: str | None, number: str, at: int) -> None:
    """Like every notice, sent after the change committed, and never undone by a mail failure."""
    send_notice(mailer, email, number_moved_email(mask_number(number), at))
