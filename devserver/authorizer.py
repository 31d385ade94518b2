"""API Gateway's JWT authorizer, emulated: RS256 signature, issuer, audience and expiry are checked
the way the HTTP API checks them, with a key pair made at start-up."""

from __future__ import annotations

import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

TOKEN_LIFETIME_SECONDS = 12 * 3600


class LocalAuthorizer:
    def __init__(self, issuer: str, audience: str) -> None:
        self.issuer = issuer
        self.audience = audience
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def issue(self, subject: str, lifetime: int = TOKEN_LIFETIME_SECONDS) -> str:
        now = int(time.time())
        claims = {"sub": subject, "iss": self.issuer, "aud": self.audience, "iat": now, "exp": now + lifetime}
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": "local"})

    def claims(self, authorization: str | None) -> dict[str, str] | None:
        """The token's claims as API Gateway passes them (strings), or None when it must answer 401."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            decoded: dict[str, Any] = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "sub"]},
            )
        except jwt.PyJWTError:
            return None
        return {key: str(value) for key, value in decoded.items()}
