"""Server secrets and the keyed hashes made with them.

- ``TOKEN_HMAC_KEY`` hashes short-lived credentials (link tokens, email codes, change tokens) and
  signs anti-forgery values. It may be rotated: only flows in progress (minutes) are lost.
- ``NUMBER_HASH_KEY`` fingerprints phone numbers for the one-number-one-account claims and the audit
  trail. Those records are permanent, so this key must never change.
- ``WHATSAPP_APP_SECRET`` and ``WHATSAPP_VERIFY_TOKEN`` are Meta's webhook secrets;
  ``WHATSAPP_ACCESS_TOKEN`` is what the city's number sends messages with.

On AWS each secret is named by ``<NAME>_PARAMETER`` (an SSM SecureString) or ``<NAME>_SECRET_ID``
(Secrets Manager) and fetched through Powertools Parameters, cached for five minutes so a rotation
reaches warm containers. Locally the value itself sits in ``<NAME>``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from functools import cache
from typing import TYPE_CHECKING

from shared.adapters.aws import CLIENT_CONFIG, default_session

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider

_CACHE_SECONDS = 300
_SECRET_NAMES = (
    "TOKEN_HMAC_KEY",
    "NUMBER_HASH_KEY",
    "WHATSAPP_APP_SECRET",
    "WHATSAPP_VERIFY_TOKEN",
    "WHATSAPP_ACCESS_TOKEN",
)


class MissingSecretError(RuntimeError):
    pass


def secret(name: str) -> str:
    if value := os.environ.get(name):
        return value
    if parameter := os.environ.get(f"{name}_PARAMETER"):
        return str(_ssm().get(parameter, decrypt=True, max_age=_CACHE_SECONDS))
    if secret_id := os.environ.get(f"{name}_SECRET_ID"):
        return str(_secrets_manager().get(secret_id, max_age=_CACHE_SECONDS))
    raise MissingSecretError(f"secret {name} is not configured")


# Imported inside: only AWS deployments pay for the Parameters import.
@cache
def _ssm() -> SSMProvider:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return SSMProvider(boto_config=CLIENT_CONFIG, boto3_session=default_session())


@cache
def _secrets_manager() -> SecretsProvider:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto_config=CLIENT_CONFIG, boto3_session=default_session())


def prepare_clients() -> None:
    """Makes the clients the configured secrets are read with, without reading any (SnapStart)."""
    for name in _SECRET_NAMES:
        if os.environ.get(f"{name}_PARAMETER"):
            _ssm()
        if os.environ.get(f"{name}_SECRET_ID"):
            _secrets_manager()


def keyed_hash(purpose: str, value: str) -> str:
    """HMAC-SHA256 of a short-lived token or code; the purpose keeps the hash spaces apart."""
    key = secret("TOKEN_HMAC_KEY").encode()
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


def number_fingerprint(e164: str) -> str:
    """The stable keyed hash of a phone number, for claims and audit records."""
    key = secret("NUMBER_HASH_KEY").encode()
    return hmac.new(key, f"number\x00{e164}".encode(), hashlib.sha256).hexdigest()
