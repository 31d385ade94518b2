"""Email through SES v2 (``sesv2`` SendEmail, text and HTML in one message).

On AWS every message goes through the stack's configuration set (``MAIL_CONFIGURATION_SET``): TLS
required, bounces and complaints suppressed and counted (``template.yaml``, ``MailConfigurationSet``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from shared.adapters.aws import CLIENT_CONFIG

if TYPE_CHECKING:
    from mypy_boto3_sesv2.client import SESV2Client
    from mypy_boto3_sesv2.type_defs import SendEmailRequestTypeDef


class MailNotSent(Exception):
    pass


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


class Mailer:
    def __init__(self, sender: str, client: SESV2Client | None = None, *, configuration_set: str | None = None) -> None:
        self.sender = sender
        self._client = client
        self.configuration_set = configuration_set

    @property
    def client(self) -> SESV2Client:
        if self._client is None:
            self._client = boto3.client("sesv2", config=CLIENT_CONFIG)
        return self._client

    def send(self, to: str, email: Email) -> str:
        """Sends one email and returns SES's message id; raises ``MailNotSent`` when SES refuses."""
        request: SendEmailRequestTypeDef = {
            "FromEmailAddress": self.sender,
            "Destination": {"ToAddresses": [to]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": email.text, "Charset": "UTF-8"},
                        "Html": {"Data": email.html, "Charset": "UTF-8"},
                    },
                }
            },
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        try:
            response = self.client.send_email(**request)
        except (ClientError, BotoCoreError) as error:
            raise MailNotSent(type(error).__name__) from error
        return response["MessageId"]
