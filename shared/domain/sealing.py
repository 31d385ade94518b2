"""Sealing a value with the link token, so the database alone cannot reveal it.

Between the WhatsApp message and the password (journey B1) the proposed new number must be kept
somewhere. It is stored on the flow encrypted (AES-256-GCM) under a key derived (HKDF-SHA256) from the
link token, which only the citizen's message and link carry, and from the server key. The flow id is
bound as associated data, so a sealed value cannot be moved to another flow.
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


def _key(token: str, context: str) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=secret("TOKEN_HMAC_KEY").encode(),
        info=f"jss-whatsapp sealed value\x00{context}".encode(),
    )
    return hkdf.derive(token.encode())


def seal(token: str, context: str, value: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_key(token, context)).encrypt(nonce, value.encode(), context.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(token: str, context: str, sealed: str) -> str | None:
    """The value, or None when the token, the context or the data do not match."""
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
        plain = AESGCM(_key(token, context)).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
    except (InvalidTag, ValueError):
        return None
    return plain.decode()
