"""Checking passwords against the hashes the JSS PHP application stores (bcrypt ``$2y$``, argon2id)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bcrypt
import pytest

from shared.domain import passwords
from shared.domain.passwords import verify_password

PASSWORD = "Rahasia-JSS-2024!"


def test_php_bcrypt_2y_hash_verifies(php_bcrypt: Callable[[str], str]) -> None:
    stored = php_bcrypt(PASSWORD)
    assert stored.startswith("$2y$04$")
    assert verify_password(PASSWORD, stored) is True


@pytest.mark.parametrize("prefix", ["$2b$", "$2a$"])
def test_other_bcrypt_prefixes_verify(prefix: str) -> None:
    stored = prefix + bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()[4:]
    assert verify_password(PASSWORD, stored) is True
    assert verify_password(PASSWORD + "x", stored) is False


def test_argon2id_hash_verifies(argon2id: Callable[[str], str]) -> None:
    stored = argon2id(PASSWORD)
    assert stored.startswith("$argon2id$")
    assert verify_password(PASSWORD, stored) is True


@pytest.mark.parametrize("scheme", ["bcrypt", "argon2id"])
@pytest.mark.parametrize(
    "attempt",
    [
        "rahasia-jss-2024!",  # case matters
        "Rahasia-JSS-2024",  # one character short
        "Rahasia-JSS-2024!!",  # one character more
        " Rahasia-JSS-2024!",
        "",
    ],
)
def test_wrong_passwords_do_not_verify(
    scheme: str, attempt: str, php_bcrypt: Callable[[str], str], argon2id: Callable[[str], str]
) -> None:
    stored = php_bcrypt(PASSWORD) if scheme == "bcrypt" else argon2id(PASSWORD)
    assert verify_password(attempt, stored) is False


def test_unicode_password_verifies_as_utf8(php_bcrypt: Callable[[str], str], argon2id: Callable[[str], str]) -> None:
    password = "kata sandi rahasia: ñandú, 日本, émoji 🔐"
    assert verify_password(password, php_bcrypt(password)) is True
    assert verify_password(password, argon2id(password)) is True
    assert verify_password(password.replace("é", "e"), php_bcrypt(password)) is False


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param("garbage", id="garbage"),
        pytest.param(PASSWORD, id="the-password-in-clear"),
        pytest.param("$2y$04$tooshort", id="bcrypt-truncated"),
        pytest.param("$2y$99$" + "a" * 53, id="bcrypt-bad-cost"),
        pytest.param("$argon2id$garbage", id="argon2-garbage"),
        pytest.param("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$", id="argon2-no-hash"),
        pytest.param("$2x$04$" + "a" * 53, id="unknown-bcrypt-variant"),
        pytest.param("5f4dcc3b5aa765d61d8327deb882cf99", id="md5-hex"),
        pytest.param("$1$salt$qJH7.N4xYta3aEG/dfqo/0", id="md5-crypt"),
    ],
)
def test_unusable_hashes_never_match(stored: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    # The dummy comparison runs at cost 10; a cheap stand-in keeps this table fast.
    monkeypatch.setattr(passwords, "_DUMMY_BCRYPT", bcrypt.hashpw(b"dummy", bcrypt.gensalt(rounds=4)))
    assert verify_password(PASSWORD, stored) is False


@pytest.mark.parametrize("stored", [None, "", "garbage", "$2x$04$" + "a" * 53])
def test_unusable_hash_still_costs_a_bcrypt_comparison(stored: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Accounts without a usable hash must not answer faster than real ones (no account probing by timing)."""
    calls: list[tuple[bytes, bytes]] = []

    def spy(candidate: bytes, hashed: bytes) -> Any:
        calls.append((candidate, hashed))
        return False

    monkeypatch.setattr(passwords.bcrypt, "checkpw", spy)
    assert verify_password(PASSWORD, stored) is False
    assert calls == [(PASSWORD.encode(), passwords._DUMMY_BCRYPT)]


def test_dummy_hash_costs_what_a_jss_hash_costs() -> None:
    """Laravel writes cost 10; a dearer dummy made accounts without a usable hash 4x slower to answer."""
    assert passwords._DUMMY_BCRYPT.startswith(b"$2b$10$")
    assert bcrypt.checkpw(PASSWORD.encode(), passwords._DUMMY_BCRYPT) is False  # parses, does not match


# PHP's bcrypt reads only the first 72 bytes of a password; the JSS app hashed with PHP, so the
# service must accept what PHP accepts, and must not crash on long input (bcrypt 5 raises past 72).
LONG = "Panjang-sekali-" * 6  # 90 bytes


def test_long_password_verifies_like_php(php_bcrypt: Callable[[str], str]) -> None:
    assert len(LONG.encode()) > 72
    stored = php_bcrypt(LONG)
    assert verify_password(LONG, stored) is True
    # PHP's password_verify agrees for anything whose first 72 bytes match.
    assert verify_password(LONG[:72], stored) is True
    assert verify_password(LONG[:72] + "something else entirely", stored) is True


def test_long_password_differing_within_72_bytes_fails(php_bcrypt: Callable[[str], str]) -> None:
    stored = php_bcrypt(LONG)
    changed = LONG[:71] + ("X" if LONG[71] != "X" else "Y") + LONG[72:]
    assert verify_password(changed, stored) is False
    assert verify_password(LONG[:71], stored) is False


def test_long_multibyte_password_is_cut_at_72_bytes_like_php(php_bcrypt: Callable[[str], str]) -> None:
    password = "é" * 40  # 80 bytes; byte 72 falls on a character boundary after 36 characters
    stored = php_bcrypt(password)
    assert verify_password(password, stored) is True
    assert verify_password("é" * 36 + "zzz", stored) is True
    assert verify_password("é" * 35 + "e", stored) is False


def test_very_long_password_does_not_raise(php_bcrypt: Callable[[str], str]) -> None:
    stored = php_bcrypt(PASSWORD)
    assert verify_password(PASSWORD * 100, stored) is False


def test_argon2id_compares_the_whole_password(argon2id: Callable[[str], str]) -> None:
    stored = argon2id(LONG)
    assert verify_password(LONG, stored) is True
    assert verify_password(LONG[:72], stored) is False
