"""Server secrets: the token HMAC key, the WhatsApp app secret and the webhook verify token.

On AWS each secret is named by ``<NAME>_PARAMETER`` (an SSM SecureString) or ``<NAME>_SECRET_ID``
(Secrets Manager) and fetched through Powertools Parameters, which caches it for five minutes so a
rotation reaches warm containers. Locally the value itself sits in ``<NAME>``.
"""

from __future__ import annotations

import hashlib
import hmac
import os

_CACHE_SECONDS = 300


class MissingSecretError(RuntimeError):
    pass


def secret(name: str) -> str:
    if value := os.environ.get(name):
        return value
    # Imported here: only AWS deployments pay for the Parameters import.
    from aws_lambda_powertools.utilities import parameters

    if parameter := os.environ.get(f"{name}_PARAMETER"):
        return str(parameters.get_parameter(parameter, decrypt=True, max_age=_CACHE_SECONDS))
    if secret_id := os.environ.get(f"{name}_SECRET_ID"):
        return str(parameters.get_secret(secret_id, max_age=_CACHE_SECONDS))
    raise MissingSecretError(f"secret {name} is not configured")


def keyed_hash(purpose: str, value: str) -> str:
    """HMAC-SHA256 of a token, code or phone number; the purpose keeps the hash spaces apart."""
    key = secret("TOKEN_HMAC_KEY").encode()
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()
