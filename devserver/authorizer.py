"""API Gateway's JWT authorizer, emulated: RS256 signature, issuer, audience and expiry are checked
the way the HTTP API checks them, with a key pair made at start-up."""

from __future__ import annotations

import threading
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

TOKEN_LIFETIME_SECONDS = 12 * 3600
# Tokens whose signature, issuer and audience were checked, kept until they expire (a front end
# sends the same token with every call; the RSA check is most of the authorizer's time).
VERIFIED_TOKENS_KEPT = 4096


class LocalAuthorizer:
    def __init__(self, issuer: str, audience: str) -> None:
        self.issuer = issuer
        self.audience = audience
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._public_key = self._key.public_key()
        self._verified: dict[str, tuple[dict[str, str], int]] = {}  # token: (claims, exp)
        self._lock = threading.Lock()

    def issue(self, subject: str, lifetime: int = TOKEN_LIFETIME_SECONDS) -> str:
        now = int(time.time())
        claims = {"sub": subject, "iss": self.issuer, "aud": self.audience, "iat": now, "exp": now + lifetime}
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": "local"})

    def claims(self, authorization: str | None) -> dict[str, str] | None:
        """The token's claims as API Gateway passes them (strings), or None when it must answer 401.

        A token verified before is answered from memory while it has not expired: nothing else about
        it can change (its ``iat`` and ``nbf`` only grow older), and the expiry is checked as PyJWT
        checks it, to the second."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        verified = self._verified.get(token)
        if verified is not None:
            claims, expires = verified
            if time.time() < expires:
                return dict(claims)
            with self._lock:
                self._verified.pop(token, None)
            return None
        try:
            decoded: dict[str, Any] = jwt.decode(
                token,
                self._public_key,
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "sub"]},
            )
        except jwt.PyJWTError:
            return None
        claims = {key: str(value) for key, value in decoded.items()}
        with self._lock:
            while len(self._verified) >= VERIFIED_TOKENS_KEPT:
                del self._verified[next(iter(self._verified))]  # the oldest
            self._verified[token] = (claims, int(decoded["exp"]))
        return dict(claims)
