"""A JSS account as JSS exports it and publishes it, checked once (``shared.domain.jss_records``):
every refusal of an export row with its stable reason code and field, never its value; what an
accepted row becomes (numbers in E.164, email domains in lower case, times in epoch milliseconds, WIB
when no offset is given); and the four account-sync messages through ``sync_messages()``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.jss_records import (
    AccountCreated,
    AccountDeleted,
    ContactChanged,
    JssChange,
    PasswordChanged,
    Refusal,
    read_account,
    refusal_of,
    sync_messages,
)

PASSWORD = "rahasia-JSS-2024"
NOW = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC, 22:06:40 WIB
UPDATED_AT = "2025-06-01T08:00:00+07:00"
UPDATED_MS = 1_748_739_600_000  # 2025-06-01 01:00:00 UTC
PHONE = "+6281298765432"
WHATSAPP = "+6285712345678"
MD5 = "5f4dcc3b5aa765d61d8327deb882cf99"
ARGON2ID = "$argon2id$v=19$m=65536,t=4,p=1$c29tZXNhbHRzb21lc2FsdA$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"
DROP: Any = object()  # a column the row does not have

Row = Callable[..., dict[str, Any]]


def utc_ms(year: int, month: int, day: int, hour: int = 0) -> int:
    """Epoch milliseconds of a UTC date and time, built without the code under test."""
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp()) * 1000


@pytest.fixture
def password_hash(php_bcrypt: Callable[[str], str]) -> str:
    return php_bcrypt(PASSWORD)


@pytest.fixture
def row(password_hash: str) -> Row:
    """An export row as a CSV gives it (strings only); keyword arguments replace columns (DROP removes)."""

    def make(**changes: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "account_id": "jss-1001",
            "name": "Budi Santoso",
            "email": "budi@example.com",
            "phone_number": "0812-9876-5432",
            "whatsapp_number": "0857-1234-5678",
            "whatsapp_verified": "",
            "password_hash": password_hash,
            "updated_at": UPDATED_AT,
        }
        data.update(changes)
        return {k: v for k, v in data.items() if v is not DROP}

    return make


def refusal(data: dict[str, Any], now: float = NOW) -> Refusal:
    with pytest.raises(ValidationError) as refused:
        read_account(data, now)
    return refusal_of(refused.value)


def fields(data: dict[str, Any]) -> dict[str, Any]:
    return read_account(data, NOW).fields


# ================================================================= an export row: accepted


def test_a_complete_row_becomes_a_whole_change_of_its_account(row: Row, password_hash: str) -> None:
    assert read_account(row(), NOW) == JssChange(
        account_id="jss-1001",
        at_ms=UPDATED_MS,
        fields={
            "name": "Budi Santoso",
            "email": "budi@example.com",
            "phone_number": PHONE,
            "whatsapp_number": WHATSAPP,
            "whatsapp_verified_via": "jss",
            "password_hash": password_hash,
        },
        whole=True,
        deleted=False,
    )


@pytest.mark.parametrize("typed", ["0812-3456-7890", "+62 812 3456 7890", "6281234567890", "62 812-3456-7890"])
def test_numbers_as_people_type_them_are_stored_in_e164(row: Row, typed: str) -> None:
    stored = fields(row(phone_number=typed, whatsapp_number=typed))
    assert stored["phone_number"] == "+6281234567890"
    assert stored["whatsapp_number"] == "+6281234567890"


def test_a_landline_is_a_valid_phone_number(row: Row) -> None:
    assert fields(row(phone_number="(0274) 512345"))["phone_number"] == "+62274512345"


def test_the_email_domain_is_lowercased_and_the_local_part_kept(row: Row) -> None:
    assert fields(row(email="  Budi.Santoso@Jogjakota.GO.ID "))["email"] == "Budi.Santoso@jogjakota.go.id"


def test_whitespace_inside_a_name_is_collapsed(row: Row) -> None:
    assert fields(row(name="  Budi \t  Santoso\n "))["name"] == "Budi Santoso"


@pytest.mark.parametrize("column", ["name", "email", "whatsapp_number"])
@pytest.mark.parametrize("empty", ["", "   ", None, DROP])
def test_an_empty_or_absent_optional_column_is_none(row: Row, column: str, empty: Any) -> None:
    stored = fields(row(**{column: empty}))
    assert stored[column] is None
    if column == "whatsapp_number":
        assert stored["whatsapp_verified_via"] is None


@pytest.mark.parametrize(("given", "via"), [("true", "whatsapp"), ("1", "whatsapp"), (True, "whatsapp")])
def test_a_number_whatsapp_proved_is_marked_verified_by_whatsapp(row: Row, given: Any, via: str) -> None:
    assert fields(row(whatsapp_verified=given))["whatsapp_verified_via"] == via


@pytest.mark.parametrize("given", ["false", "0", "", None, False, DROP])
def test_a_number_jss_merely_recorded_is_marked_as_from_jss(row: Row, given: Any) -> None:
    assert fields(row(whatsapp_verified=given))["whatsapp_verified_via"] == "jss"


@pytest.mark.parametrize("prefix", ["$2y$", "$2b$", "$2a$"])
def test_bcrypt_hashes_of_php_openbsd_and_old_php_are_accepted(row: Row, password_hash: str, prefix: str) -> None:
    hashed = prefix + password_hash[4:]
    assert fields(row(password_hash=hashed))["password_hash"] == hashed


def test_argon2id_hashes_are_accepted(row: Row, argon2id: Callable[[str], str]) -> None:
    for hashed in (argon2id(PASSWORD), ARGON2ID):
        assert fields(row(password_hash=hashed))["password_hash"] == hashed


def test_whitespace_around_a_hash_is_dropped(row: Row, password_hash: str) -> None:
    assert fields(row(password_hash=f" {password_hash}\t"))["password_hash"] == password_hash


def test_columns_the_service_does_not_keep_are_ignored(row: Row) -> None:
    with_extra = row(created_at="2019-01-01 00:00:00", remember_token="abc", nik="3471000000000001")
    assert read_account(with_extra, NOW) == read_account(row(), NOW)


# ----------------------------------------------------------------- times


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2025-06-01T08:00:00", utc_ms(2025, 6, 1, 1)),  # no offset: JSS's own time, WIB
        ("2025-06-01 08:00:00", utc_ms(2025, 6, 1, 1)),
        ("2025-06-01T08:00:00+07:00", utc_ms(2025, 6, 1, 1)),
        ("2025-06-01T08:00:00Z", utc_ms(2025, 6, 1, 8)),
        ("2025-06-01T08:00:00+00:00", utc_ms(2025, 6, 1, 8)),
        ("2025-06-01T08:00:00-05:00", utc_ms(2025, 6, 1, 13)),
        ("2025-06-01T08:00:00+09:00", utc_ms(2025, 5, 31, 23)),
    ],
)
def test_times_become_epoch_milliseconds_with_wib_when_no_offset_is_given(row: Row, given: str, expected: int) -> None:
    assert read_account(row(updated_at=given), NOW).at_ms == expected


@pytest.mark.parametrize(("given", "milliseconds"), [(".123", 123), (".001", 1), (".999", 999), (".123456", 123)])
def test_milliseconds_of_a_time_are_kept(row: Row, given: str, milliseconds: int) -> None:
    at_ms = read_account(row(updated_at=f"2025-06-01T08:00:00{given}+07:00"), NOW).at_ms
    assert at_ms == utc_ms(2025, 6, 1, 1) + milliseconds


def test_a_time_up_to_a_day_ahead_of_the_clock_is_accepted(row: Row) -> None:
    a_day_ahead = datetime.fromtimestamp(NOW + 86_400, UTC).isoformat()
    assert read_account(row(updated_at=a_day_ahead), NOW).at_ms == int(NOW + 86_400) * 1000


@pytest.mark.parametrize("ahead", ["2025-06-16T15:06:40.001Z", "2025-06-16T22:06:41", "2026-01-01T00:00:00+07:00"])
def test_a_time_more_than_a_day_ahead_of_the_clock_is_refused(row: Row, ahead: str) -> None:
    assert refusal(row(updated_at=ahead)) == Refusal("updated_at_in_future", "updated_at")


def test_the_future_is_judged_against_the_clock_given(row: Row) -> None:
    ahead = "2025-06-20T00:00:00+07:00"
    assert refusal(row(updated_at=ahead), NOW) == Refusal("updated_at_in_future", "updated_at")
    assert read_account(row(updated_at=ahead), NOW + 7 * 86_400).at_ms == utc_ms(2025, 6, 19, 17)


# ================================================================= an export row: refused


@pytest.mark.parametrize(
    ("changes", "reason", "field"),
    [
        ({"account_id": DROP}, "account_id_missing", "account_id"),
        ({"account_id": ""}, "account_id_invalid", "account_id"),
        ({"account_id": "jss 1001"}, "account_id_invalid", "account_id"),
        ({"account_id": "-jss-1001"}, "account_id_invalid", "account_id"),
        ({"account_id": "j" * 129}, "account_id_invalid", "account_id"),
        ({"account_id": "jss/1001"}, "account_id_invalid", "account_id"),
        ({"name": "Budi\x00Santoso"}, "name_invalid", "name"),
        ({"name": "Budi\x1b[31mSantoso"}, "name_invalid", "name"),
        ({"name": "Budi\x7f"}, "name_invalid", "name"),
        ({"name": "B" * 201}, "name_invalid", "name"),
        ({"email": "budi.example.com"}, "email_invalid", "email"),
        ({"email": "budi@localhost"}, "email_invalid", "email"),
        ({"email": "budi santoso@example.com"}, "email_invalid", "email"),
        ({"email": "budi@@example.com"}, "email_invalid", "email"),
        ({"email": "b" * 250 + "@example.com"}, "email_invalid", "email"),
        ({"phone_number": DROP}, "phone_number_missing", "phone_number"),
        ({"phone_number": ""}, "phone_number_invalid", "phone_number"),
        ({"phone_number": "12"}, "phone_number_invalid", "phone_number"),
        ({"phone_number": "0812-FLOWERS"}, "phone_number_invalid", "phone_number"),
        ({"whatsapp_number": "12345"}, "whatsapp_number_invalid", "whatsapp_number"),
        ({"whatsapp_number": "0812-34"}, "whatsapp_number_invalid", "whatsapp_number"),
        ({"whatsapp_number": "0800-1-234567"}, "whatsapp_number_service_number", "whatsapp_number"),
        ({"whatsapp_number": "+1 900 555 0100"}, "whatsapp_number_service_number", "whatsapp_number"),
        ({"whatsapp_number": "", "whatsapp_verified": "true"}, "whatsapp_verified_without_number", "whatsapp_verified"),
        ({"whatsapp_number": DROP, "whatsapp_verified": True}, "whatsapp_verified_without_number", "whatsapp_verified"),
        ({"whatsapp_verified": "maybe"}, "whatsapp_verified_invalid", "whatsapp_verified"),
        ({"whatsapp_verified": "2"}, "whatsapp_verified_invalid", "whatsapp_verified"),
        # Only what the JSON Schema allows: pydantic alone would take "yes", "on" and "t" as well.
        ({"whatsapp_verified": "yes"}, "whatsapp_verified_invalid", "whatsapp_verified"),
        ({"whatsapp_verified": "on"}, "whatsapp_verified_invalid", "whatsapp_verified"),
        ({"password_hash": MD5}, "password_hash_unsupported", "password_hash"),
        ({"password_hash": "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/"}, "password_hash_unsupported", "password_hash"),
        ({"password_hash": "rahasia-JSS-2024"}, "password_hash_unsupported", "password_hash"),
        ({"password_hash": ""}, "password_hash_unsupported", "password_hash"),
        ({"password_hash": "$2y$03$" + "a" * 53}, "password_hash_unsupported", "password_hash"),  # cost too low
        (
            {"password_hash": "$argon2i$v=19$m=65536,t=4,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub"},
            "password_hash_unsupported",
            "password_hash",
        ),
        ({"password_hash": DROP}, "password_hash_missing", "password_hash"),
        ({"updated_at": "kemarin"}, "updated_at_invalid", "updated_at"),
        ({"updated_at": "2026-13-45"}, "updated_at_invalid", "updated_at"),
        ({"updated_at": "15/06/2025 08:00"}, "updated_at_invalid", "updated_at"),
        ({"updated_at": ""}, "updated_at_invalid", "updated_at"),
        ({"updated_at": DROP}, "updated_at_missing", "updated_at"),
    ],
)
def test_a_bad_row_is_refused_with_a_stable_reason_and_its_field(
    row: Row, changes: dict[str, Any], reason: str, field: str
) -> None:
    assert refusal(row(**changes)) == Refusal(reason, field)


@pytest.mark.parametrize("email", ["bu\x00di@example.com", "bu\x1b[2Jdi@example.com", "budi\x7f@example.com"])
def test_an_email_with_control_characters_is_refused(row: Row, email: str) -> None:
    assert refusal(row(email=email)) == Refusal("email_invalid", "email")


def test_a_name_of_exactly_200_characters_is_accepted(row: Row) -> None:
    assert fields(row(name="B" * 200))["name"] == "B" * 200


def test_a_row_that_is_not_text_is_refused_per_field(row: Row) -> None:
    """JSON Lines may carry other types than strings."""
    assert refusal(row(phone_number=81298765432)) == Refusal("phone_number_invalid", "phone_number")
    assert refusal(row(account_id=["jss-1001"])) == Refusal("account_id_invalid", "account_id")


# ----------------------------------------------------------------- refusals hold no personal data


SECRETS = {
    "email": "siti.rahayu@@contoh-pribadi.id",
    "phone_number": "0812-98",
    "whatsapp_number": "0800-1-512399",
    "password_hash": MD5,
}


@pytest.mark.parametrize(("column", "value"), SECRETS.items())
def test_a_refusal_names_the_field_never_its_value(row: Row, column: str, value: str) -> None:
    found = refusal(row(**{column: value}))
    assert found.field == column
    text = repr(found) + str(found)
    for part in ("siti", "rahayu", "contoh-pribadi", "0812", "98", "0800", "512399", MD5[:8]):
        assert part not in text


@pytest.mark.parametrize(("column", "value"), SECRETS.items())
def test_the_error_raised_for_a_refused_row_holds_no_value_either(row: Row, column: str, value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        read_account(row(**{column: value}), NOW)
    assert value not in str(refused.value)


# ================================================================= sync messages


Message = Callable[..., dict[str, Any]]


@pytest.fixture
def message(password_hash: str) -> Message:
    """A sync message of ``kind`` for jss-1001 at UPDATED_AT; keyword arguments add or replace fields."""

    def make(kind: str, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"type": f"account.{kind}", "account_id": "jss-1001", "updated_at": UPDATED_AT}
        if kind == "created":
            body["account"] = {
                "name": "Budi Santoso",
                "email": "budi@example.com",
                "phone_number": "0812-9876-5432",
                "whatsapp_number": "0857-1234-5678",
                "whatsapp_verified": True,
                "password_hash": password_hash,
            }
        if kind == "password_changed":
            body["password_hash"] = password_hash
        body.update(extra)
        return {k: v for k, v in body.items() if v is not DROP}

    return make


def change_of(body: dict[str, Any]) -> JssChange:
    return sync_messages().validate_json(json.dumps(body)).change()


def message_refusal(body: dict[str, Any] | str) -> Refusal:
    text = body if isinstance(body, str) else json.dumps(body)
    with pytest.raises(ValidationError) as refused:
        sync_messages().validate_json(text)
    return refusal_of(refused.value)


def test_account_created_carries_the_whole_account(message: Message, password_hash: str) -> None:
    body = message("created", message_id="jss-evt-1")
    assert isinstance(sync_messages().validate_python(body), AccountCreated)
    assert change_of(body) == JssChange(
        "jss-1001",
        UPDATED_MS,
        {
            "name": "Budi Santoso",
            "email": "budi@example.com",
            "phone_number": PHONE,
            "whatsapp_number": WHATSAPP,
            "whatsapp_verified_via": "whatsapp",
            "password_hash": password_hash,
        },
        whole=True,
    )


def test_account_created_without_whatsapp_number_or_email(message: Message, password_hash: str) -> None:
    body = message("created")
    body["account"] |= {"email": "", "whatsapp_number": None, "whatsapp_verified": False}
    assert change_of(body).fields == {
        "name": "Budi Santoso",
        "email": None,
        "phone_number": PHONE,
        "whatsapp_number": None,
        "whatsapp_verified_via": None,
        "password_hash": password_hash,
    }


def test_contact_changed_carries_only_the_fields_given(message: Message) -> None:
    body = message("contact_changed", changes={"name": " Siti  Rahayu ", "phone_number": "0812-3456-7890"})
    assert isinstance(sync_messages().validate_python(body), ContactChanged)
    assert change_of(body) == JssChange(
        "jss-1001", UPDATED_MS, {"name": "Siti Rahayu", "phone_number": "+6281234567890"}
    )


@pytest.mark.parametrize("removed", [None, ""])
def test_contact_changed_with_an_empty_email_removes_it(message: Message, removed: str | None) -> None:
    assert change_of(message("contact_changed", changes={"email": removed})).fields == {"email": None}


@pytest.mark.parametrize("removed", [None, ""])
def test_contact_changed_with_an_empty_whatsapp_number_removes_it(message: Message, removed: str | None) -> None:
    fields_ = change_of(message("contact_changed", changes={"whatsapp_number": removed})).fields
    assert fields_ == {"whatsapp_number": None, "whatsapp_verified_via": None}


@pytest.mark.parametrize(("verified", "via"), [(True, "whatsapp"), (False, "jss"), (DROP, "jss")])
def test_contact_changed_moves_the_whatsapp_number_with_how_it_was_verified(
    message: Message, verified: Any, via: str
) -> None:
    changes = {"whatsapp_number": "62 812 3456 7890"} | ({} if verified is DROP else {"whatsapp_verified": verified})
    fields_ = change_of(message("contact_changed", changes=changes)).fields
    assert fields_ == {"whatsapp_number": "+6281234567890", "whatsapp_verified_via": via}


def test_password_changed_carries_the_hash_alone(message: Message, password_hash: str) -> None:
    body = message("password_changed")
    assert isinstance(sync_messages().validate_python(body), PasswordChanged)
    assert change_of(body) == JssChange("jss-1001", UPDATED_MS, {"password_hash": password_hash})


def test_account_deleted_carries_no_field(message: Message) -> None:
    body = message("deleted")
    assert isinstance(sync_messages().validate_python(body), AccountDeleted)
    assert change_of(body) == JssChange("jss-1001", UPDATED_MS, {}, whole=False, deleted=True)


def test_a_message_time_without_offset_is_wib(message: Message) -> None:
    assert change_of(message("deleted", updated_at="2025-06-01T08:00:00")).at_ms == utc_ms(2025, 6, 1, 1)


def test_python_and_json_validation_agree(message: Message) -> None:
    body = message("contact_changed", changes={"email": "Siti@Example.ID"})
    from_python = sync_messages().validate_python(body).change()
    assert from_python == change_of(body) == JssChange("jss-1001", UPDATED_MS, {"email": "Siti@example.id"})


@pytest.mark.parametrize(
    ("kind", "extra", "reason", "field"),
    [
        ("contact_changed", {"changes": {}}, "changes_empty", "changes"),
        ("contact_changed", {"changes": {"whatsapp_verified": True}}, "whatsapp_verified_without_number", "changes"),
        (
            "contact_changed",
            {"changes": {"whatsapp_number": None, "whatsapp_verified": True}},
            "whatsapp_verified_without_number",
            "changes",
        ),
        ("contact_changed", {"changes": {"email": "budi.example.com"}}, "email_invalid", "email"),
        ("contact_changed", {"changes": {"phone_number": ""}}, "phone_number_invalid", "phone_number"),
        (
            "contact_changed",
            {"changes": {"whatsapp_number": "0800-1-234567"}},
            "whatsapp_number_service_number",
            "whatsapp_number",
        ),
        ("contact_changed", {"changes": {"colour": "merah"}}, "field_unknown", None),
        ("contact_changed", {"changes": DROP}, "changes_missing", "changes"),
        ("password_changed", {"password_hash": MD5}, "password_hash_unsupported", "password_hash"),
        ("password_changed", {"password_hash": DROP}, "password_hash_missing", "password_hash"),
        ("created", {"account": DROP}, "account_missing", "account"),
        ("deleted", {"account_id": DROP}, "account_id_missing", "account_id"),
        ("deleted", {"account_id": "jss 1001"}, "account_id_invalid", "account_id"),
        ("deleted", {"updated_at": "kemarin"}, "updated_at_invalid", "updated_at"),
        ("deleted", {"updated_at": "2099-01-01T00:00:00Z"}, "updated_at_in_future", "updated_at"),
        ("deleted", {"updated_at": DROP}, "updated_at_missing", "updated_at"),
        ("deleted", {"message_id": "m" * 129}, "message_id_invalid", "message_id"),
        ("deleted", {"reason": "requested"}, "field_unknown", None),
        ("deleted", {"type": "account.renamed"}, "type_unknown", "type"),
        ("deleted", {"type": DROP}, "type_unknown", "type"),
    ],
)
def test_a_bad_message_is_refused_with_a_stable_reason(
    message: Message, kind: str, extra: dict[str, Any], reason: str, field: str | None
) -> None:
    assert message_refusal(message(kind, **extra)) == Refusal(reason, field)


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("phone_number", "12", "phone_number_invalid"),
        ("whatsapp_number", "12345", "whatsapp_number_invalid"),
        ("password_hash", "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", "password_hash_unsupported"),
        ("name", "Budi\x00", "name_invalid"),
    ],
)
def test_a_created_account_is_checked_like_an_export_row(
    message: Message, column: str, value: str, reason: str
) -> None:
    body = message("created")
    body["account"][column] = value
    assert message_refusal(body) == Refusal(reason, column)


def test_a_created_account_with_fields_it_does_not_know_is_refused(message: Message) -> None:
    body = message("created")
    body["account"]["nik"] = "3471000000000001"
    assert message_refusal(body) == Refusal("field_unknown", None)


def test_a_created_account_verified_without_a_number_is_refused(message: Message) -> None:
    body = message("created")
    body["account"]["whatsapp_number"] = ""
    assert message_refusal(body) == Refusal("whatsapp_verified_without_number", "whatsapp_verified")


@pytest.mark.parametrize("text", ["not json", "", "[1, 2]", '"account.deleted"', "null", '{"type": "account.del'])
def test_a_body_that_is_no_json_object_is_malformed(text: str) -> None:
    assert message_refusal(text) == Refusal("record_malformed", None)


def test_a_message_refusal_holds_no_value(message: Message) -> None:
    body = message("contact_changed", changes={"email": "siti.rahayu@@contoh.id", "whatsapp_number": "0800-1-512399"})
    found = message_refusal(body)
    assert found == Refusal("email_invalid", "email")
    assert "siti" not in repr(found)
    assert "512399" not in repr(found)


def test_the_refusal_of_an_unknown_field_does_not_depend_on_its_name(message: Message) -> None:
    found = message_refusal(message("deleted", **{"siti.rahayu@contoh.id": "x"}))
    assert "siti" not in repr(found)
    assert found.reason == message_refusal(message("deleted", other="x")).reason


def test_contact_changed_cannot_remove_the_phone_number(message: Message) -> None:
    assert message_refusal(message("contact_changed", changes={"phone_number": None})) == Refusal(
        "phone_number_invalid", "phone_number"
    )
