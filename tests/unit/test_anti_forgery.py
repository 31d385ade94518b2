"""The anti-forgery value of the password form (shared/web/anti_forgery.py), on its own.

The value is signed with the server key, bound to one link token and to the second it was made.
How the handler uses it (form posts must carry it, JSON posts need not) is tested in test_web.py.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from shared.config import Settings
from shared.errors import ServiceError
from shared.web import anti_forgery

TOKEN = "tok_" + "A" * 28  # the shape of a link token: 32 URL-safe characters
OTHER_TOKEN = "tok_" + "B" * 28
NOW = 1_750_000_000


@pytest.fixture
def value() -> str:
    return anti_forgery.issue(TOKEN, NOW)


def test_a_value_is_the_second_it_was_made_and_a_keyed_signature(value: str) -> None:
    issued, _, signature = value.partition(".")
    assert issued == str(NOW)
    assert re.fullmatch(r"[0-9a-f]{64}", signature)
    assert anti_forgery.issue(TOKEN, NOW + 0.9) == value  # whole seconds
    assert anti_forgery.issue(TOKEN, NOW + 1) != value
    assert anti_forgery.issue(OTHER_TOKEN, NOW) != value


def test_the_value_just_made_is_valid(value: str) -> None:
    assert anti_forgery.is_valid(TOKEN, value, NOW) is True
    assert anti_forgery.is_valid(TOKEN, value, NOW + 0.5) is True


def test_without_a_time_the_clock_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(anti_forgery, "time", SimpleNamespace(time=lambda: NOW + 0.75))
    issued = anti_forgery.issue(TOKEN)
    assert issued == anti_forgery.issue(TOKEN, NOW)
    assert anti_forgery.is_valid(TOKEN, issued) is True
    monkeypatch.setattr(anti_forgery, "time", SimpleNamespace(time=lambda: NOW + 10_000))
    assert anti_forgery.is_valid(TOKEN, issued) is False


def test_a_value_lasts_as_long_as_a_flow(value: str, config: Settings) -> None:
    assert anti_forgery.is_valid(TOKEN, value, NOW + config.flow_ttl_seconds) is True
    assert anti_forgery.is_valid(TOKEN, value, NOW + config.flow_ttl_seconds + 1) is False  # expired


def test_a_future_dated_value_is_refused(value: str) -> None:
    assert anti_forgery.is_valid(TOKEN, value, NOW - 1) is False
    assert anti_forgery.is_valid(TOKEN, anti_forgery.issue(TOKEN, NOW + 60), NOW) is False


def test_a_value_made_for_another_link_is_refused(value: str) -> None:
    assert anti_forgery.is_valid(OTHER_TOKEN, value, NOW) is False
    assert anti_forgery.is_valid(TOKEN, anti_forgery.issue(OTHER_TOKEN, NOW), NOW) is False


def test_a_value_made_with_another_server_key_is_refused(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN_HMAC_KEY", "another-server-key")
    assert anti_forgery.is_valid(TOKEN, value, NOW) is False


def _tampered(value: str) -> list[str]:
    issued, _, signature = value.partition(".")
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    return [
        f"{int(issued) + 1}.{signature}",  # another time with the same signature
        f"{int(issued) - 1}.{signature}",
        f"0{issued}.{signature}",  # the same time spelled differently
        f"{issued}.{flipped}",
        f"{issued}.{signature.upper()}",
        f"{issued}.{signature[:-1]}",
        f"{issued}.{signature}0",
        f"{issued}.{signature}.{signature}",
        f" {value}",
        f"{value} ",
        f"{issued}:{signature}",
    ]


def test_a_tampered_value_is_refused(value: str) -> None:
    for candidate in _tampered(value):
        assert anti_forgery.is_valid(TOKEN, candidate, NOW) is False, candidate


@pytest.mark.parametrize(
    "candidate",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param(".", id="dot-only"),
        pytest.param("garbage", id="garbage"),
        pytest.param(str(NOW), id="timestamp-only"),
        pytest.param(f"{NOW}.", id="timestamp-and-dot"),
        pytest.param(f"{NOW + 10}." + "0" * 64, id="wrong-signature"),
        pytest.param("-1.abc", id="negative"),
        pytest.param(f"{NOW}.5.abc", id="fractional"),
        pytest.param("1e9.abc", id="exponent"),
    ],
)
def test_a_missing_or_malformed_value_is_refused(candidate: str | None) -> None:
    assert anti_forgery.is_valid(TOKEN, candidate, NOW) is False


@pytest.mark.parametrize(
    "issued",
    [
        pytest.param("²", id="superscript-two"),
        pytest.param("١٧٥٠٠٠٠٠٠٠", id="arabic-indic-digits"),  # isdigit() is True, int() would read it
        pytest.param("１７５００００００００", id="fullwidth-digits"),
        pytest.param("175000000０", id="one-fullwidth-zero"),
    ],
)
def test_unicode_digits_are_a_forgery_not_a_crash(value: str, issued: str) -> None:
    signature = value.partition(".")[2]
    assert anti_forgery.is_valid(TOKEN, f"{issued}.{signature}", NOW) is False
    assert anti_forgery.is_valid(TOKEN, f"{issued}.x", NOW) is False


@pytest.mark.parametrize("suffix", [".é", "é", ".\u00a0", ".\x00", ".😀"])
def test_non_ascii_signatures_are_a_forgery_not_a_crash(value: str, suffix: str) -> None:
    issued = value.partition(".")[0]
    assert anti_forgery.is_valid(TOKEN, issued + suffix, NOW) is False
    assert anti_forgery.is_valid(TOKEN, value + suffix, NOW) is False


# ----------------------------------------------------------------- require


def test_a_form_post_must_carry_a_valid_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(anti_forgery, "time", SimpleNamespace(time=lambda: NOW + 30))
    anti_forgery.require(TOKEN, anti_forgery.issue(TOKEN, NOW), is_form_post=True)
    for candidate in [
        None,
        "",
        "garbage",
        anti_forgery.issue(OTHER_TOKEN, NOW),
        *_tampered(anti_forgery.issue(TOKEN, NOW)),
    ]:
        with pytest.raises(ServiceError) as caught:
            anti_forgery.require(TOKEN, candidate, is_form_post=True)
        assert caught.value.code == "forgery_check_failed"
        assert caught.value.status == 403


@pytest.mark.parametrize("candidate", [None, "", "garbage", "².x"])
def test_a_json_post_needs_no_value(candidate: str | None) -> None:
    anti_forgery.require(TOKEN, candidate, is_form_post=False)  # api.md: JSON {"password": ...} only
