"""Sealing a value (AES-256-GCM) so the database alone cannot reveal it.

- With the link token (journey B1): between the WhatsApp message and the password, the proposed new
  number waits on the flow under a key derived (HKDF-SHA256) from the link token, which only the
  citizen's message and link carry, and from the server key.
- At rest with the server key alone: a new number waits in the event outbox until it is published to
  JSS, under a key derived from ``NUMBER_HASH_KEY`` (never rotated, so nothing pending is lost).

The context (a flow id, an event id) is bound as associated data, so a sealed value cannot be moved
to another item.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.adapters.keys import secret

_NONCE_BYTES = 12


def _derive(material: bytes, salt: bytes, info: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info.encode()).derive(material)


def _encrypt(key: bytes, context: str, value: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, value.encode(), context.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def _decrypt(key: bytes, context: str, sealed: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
        plain = AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
    except (InvalidTag, ValueError):
        return None
    return plain.decode()


def _token_key(token: str, context: str) -> bytes:
    return _derive(token.encode(), secret("TOKEN_HMAC_KEY").encode(), f"jss-whatsapp sealed value\x00{context}")


def _rest_key() -> bytes:
    return _derive(secret("NUMBER_HASH_KEY").encode(), b"", "jss-whatsapp sealed at rest")


def seal(token: str, context: str, value: str) -> str:
    return _encrypt(_token_key(token, context), context, value)


def unseal(token: str, context: str, sealed: str) -> str | None:
    """The value, or None when the token, the context or the data do not match."""
    return _decrypt(_token_key(token, context), context, sealed)


def seal_at_rest(context: str, value: str) -> str:
    return _encrypt(_rest_key(), context, value)


def unseal_at_rest(context: str, sealed: str) -> str | None:
    """The value, or None when the context or the data do not match."""
    return _decrypt(_rest_key(), context, sealed)
