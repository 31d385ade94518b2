"""The local stack's JWT authorizer (``devserver/authorizer.py``): a token it has verified once is
answered from memory, and still refused the moment it expires, as API Gateway refuses it."""

from __future__ import annotations

import jwt
import pytest

from devserver import authorizer as authorizer_module
from devserver.authorizer import LocalAuthorizer

ISSUER = "http://127.0.0.1:3000/__dev"
AUDIENCE = "jss-app"


@pytest.fixture(scope="module")
def authorizer() -> LocalAuthorizer:
    return LocalAuthorizer(ISSUER, AUDIENCE)  # an RSA key pair: made once for the module


def bearer(token: str) -> str:
    return f"Bearer {token}"


def test_a_token_is_answered_the_same_the_first_time_and_from_memory(authorizer: LocalAuthorizer) -> None:
    token = authorizer.issue("jss-1001")

    first = authorizer.claims(bearer(token))
    again = authorizer.claims(bearer(token))

    assert first is not None
    assert first == again
    assert first["sub"] == "jss-1001"
    assert first["aud"] == AUDIENCE
    assert first["iss"] == ISSUER
    assert all(isinstance(value, str) for value in first.values())
    first["sub"] = "jss-9999"  # what a caller does with its copy changes nothing remembered
    assert authorizer.claims(bearer(token)) == again


def test_a_remembered_token_is_refused_once_it_expires(
    authorizer: LocalAuthorizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = authorizer.issue("jss-1001", lifetime=60)
    expires = int(jwt.decode(token, options={"verify_signature": False})["exp"])
    assert authorizer.claims(bearer(token)) is not None  # verified, and remembered

    monkeypatch.setattr(authorizer_module.time, "time", lambda: expires - 0.001)
    assert authorizer.claims(bearer(token)) is not None
    monkeypatch.setattr(authorizer_module.time, "time", lambda: float(expires))  # PyJWT: exp <= now is expired
    assert authorizer.claims(bearer(token)) is None
    monkeypatch.undo()
    assert authorizer.claims(bearer(token)) is not None  # the clock back: verified again from scratch


def test_an_expired_token_is_refused_before_and_after_a_valid_one_is_remembered(authorizer: LocalAuthorizer) -> None:
    expired = authorizer.issue("jss-1001", lifetime=-1)

    assert authorizer.claims(bearer(expired)) is None
    assert authorizer.claims(bearer(authorizer.issue("jss-1001"))) is not None
    assert authorizer.claims(bearer(expired)) is None


def test_only_the_exact_token_is_remembered(authorizer: LocalAuthorizer) -> None:
    token = authorizer.issue("jss-1001")
    assert authorizer.claims(bearer(token)) is not None
    header, payload, signature = token.split(".")
    forged_payload = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(b"jss-1001", b"jss-1002")
    ).decode()
    other_key = LocalAuthorizer(ISSUER, AUDIENCE).issue("jss-1001")

    assert authorizer.claims(bearer(f"{header}.{forged_payload}.{signature}")) is None
    assert authorizer.claims(bearer(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))) is None
    assert authorizer.claims(bearer(other_key)) is None
    assert authorizer.claims(f"Basic {token}") is None
    assert authorizer.claims(token) is None


def test_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    authorizer = LocalAuthorizer(ISSUER, AUDIENCE)
    monkeypatch.setattr(authorizer_module, "VERIFIED_TOKENS_KEPT", 3)
    tokens = [authorizer.issue(f"jss-{n}") for n in range(5)]

    assert all(authorizer.claims(bearer(token)) is not None for token in tokens)
    assert len(authorizer._verified) == 3
    assert all(authorizer.claims(bearer(token)) is not None for token in tokens)  # re-verified when forgotten
