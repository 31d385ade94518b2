"""Sealing a value with a link token (shared/domain/sealing.py): how B1 keeps the proposed number on the flow."""

from __future__ import annotations

import base64

import pytest

from shared.domain.sealing import seal, unseal

TOKEN = "tok_" + "A" * 28
OTHER_TOKEN = "tok_" + "B" * 28
FLOW_ID = "3cc4b34c-8531-464c-8d39-833443df802d"
OTHER_FLOW_ID = "9b6c0d52-1f0e-4d8a-9a57-5d2b7f3e1c44"
NUMBER = "+6281234567890"


def test_a_sealed_value_unseals_with_the_same_token_and_flow() -> None:
    sealed = seal(TOKEN, FLOW_ID, NUMBER)
    assert unseal(TOKEN, FLOW_ID, sealed) == NUMBER


def test_the_sealed_form_does_not_show_the_value() -> None:
    sealed = seal(TOKEN, FLOW_ID, NUMBER)
    assert NUMBER[3:] not in sealed
    raw = base64.urlsafe_b64decode(sealed)
    assert NUMBER[3:].encode() not in raw
    assert len(raw) == 12 + len(NUMBER) + 16  # nonce, ciphertext, tag


def test_each_seal_uses_a_fresh_nonce() -> None:
    first, second = seal(TOKEN, FLOW_ID, NUMBER), seal(TOKEN, FLOW_ID, NUMBER)
    assert first != second
    assert unseal(TOKEN, FLOW_ID, first) == unseal(TOKEN, FLOW_ID, second) == NUMBER


def test_another_token_cannot_unseal() -> None:
    assert unseal(OTHER_TOKEN, FLOW_ID, seal(TOKEN, FLOW_ID, NUMBER)) is None


def test_a_sealed_value_cannot_be_moved_to_another_flow() -> None:
    assert unseal(TOKEN, OTHER_FLOW_ID, seal(TOKEN, FLOW_ID, NUMBER)) is None


def test_the_server_key_takes_part(monkeypatch: pytest.MonkeyPatch) -> None:
    sealed = seal(TOKEN, FLOW_ID, NUMBER)
    monkeypatch.setenv("TOKEN_HMAC_KEY", "another-server-key")
    assert unseal(TOKEN, FLOW_ID, sealed) is None  # the database and the token alone are not enough


def _flip(raw: bytes, index: int) -> str:
    changed = bytearray(raw)
    changed[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(changed)).decode()


@pytest.mark.parametrize(
    "index", [0, 11, 12, 12 + len(NUMBER) - 1, -1], ids=["nonce", "nonce-end", "data", "data-end", "tag"]
)
def test_tampered_data_is_refused(index: int) -> None:
    raw = base64.urlsafe_b64decode(seal(TOKEN, FLOW_ID, NUMBER))
    assert unseal(TOKEN, FLOW_ID, _flip(raw, index)) is None


@pytest.mark.parametrize(
    "sealed",
    [
        pytest.param("", id="empty"),
        pytest.param("not base64!", id="not-base64"),
        pytest.param("QUJD", id="too-short"),
        pytest.param(base64.urlsafe_b64encode(b"\x00" * 40).decode(), id="zeros"),
        pytest.param("é" * 10, id="non-ascii"),
    ],
)
def test_garbage_is_refused_not_a_crash(sealed: str) -> None:
    assert unseal(TOKEN, FLOW_ID, sealed) is None


def test_a_cut_or_extended_value_is_refused() -> None:
    sealed = seal(TOKEN, FLOW_ID, NUMBER)
    raw = base64.urlsafe_b64decode(sealed)
    assert unseal(TOKEN, FLOW_ID, base64.urlsafe_b64encode(raw[:-1]).decode()) is None
    assert unseal(TOKEN, FLOW_ID, base64.urlsafe_b64encode(raw + b"\x00").decode()) is None
