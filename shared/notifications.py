"""Emails to the registered address, sent through SES v2 (``sesv2`` SendEmail, text and HTML)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.clock import wib_datetime
from shared.observability import logger, metrics
from shared.phone import mask_number

if TYPE_CHECKING:
    from mypy_boto3_sesv2.client import SESV2Client


class MailNotSent(Exception):
    pass


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


class Mailer:
    def __init__(self, sender: str, client: SESV2Client | None = None) -> None:
        self.sender = sender
        self._client = client

    @property
    def client(self) -> SESV2Client:
        if self._client is None:
            config = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2, read_timeout=5)
            self._client = boto3.client("sesv2", config=config)
        return self._client

    def send(self, to: str, email: Email) -> str:
        """Sends one email and returns SES's message id; raises ``MailNotSent`` when SES refuses."""
        try:
            response = self.client.send_email(
                FromEmailAddress=self.sender,
                Destination={"ToAddresses": [to]},
                Content={
                    "Simple": {
                        "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                        "Body": {
                            "Text": {"Data": email.text, "Charset": "UTF-8"},
                            "Html": {"Data": email.html, "Charset": "UTF-8"},
                        },
                    }
                },
            )
        except (ClientError, BotoCoreError) as error:
            raise MailNotSent(type(error).__name__) from error
        return response["MessageId"]


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
    if not email:
        return
    try:
        mailer.send(email, number_changed_email(headline, mask_number(number), at))
    except MailNotSent as error:
        metrics.add_metric(name="NotificationNotSent", unit="Count", value=1)
        logger.warning("change notification not sent", extra={"error": str(error)})


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
