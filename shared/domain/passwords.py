"""Checking a password against the JSS account's stored hash (bcrypt as PHP writes it, or argon2id)."""

from __future__ import annotations

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_argon2 = PasswordHasher()
# Compared against when an account has no usable hash, so the answer takes as long as a real check:
# cost 10, as Laravel writes every JSS hash (a dearer dummy would make those accounts stand out).
_DUMMY_BCRYPT = b"$2b$10$CJd0JktFW/WhOGCTH92rSOHIkQt2Xo4gZ733jBTCONMY78JlES752"


def verify_password(password: str, stored_hash: str | None) -> bool:
    """Constant-time check; unknown hash formats never match."""
    candidate = password.encode()
    if stored_hash and stored_hash.startswith("$argon2"):
        try:
            return _argon2.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False
    if stored_hash and stored_hash[:4] in {"$2y$", "$2b$", "$2a$"}:
        # PHP's $2y$ is the same algorithm as $2b$; bcrypt only ever reads the first 72 bytes.
        normalized = ("$2b$" + stored_hash[4:]).encode()
        try:
            return bcrypt.checkpw(candidate[:72], normalized)
        except ValueError:
            return False
    bcrypt.checkpw(candidate[:72], _DUMMY_BCRYPT)
    return False
