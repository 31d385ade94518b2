"""The fake JSS export generator (scripts/fake_export.py): determinism, valid and unique numbers,
the rows it spoils on purpose, the hash pool, both file formats and the command line."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import bcrypt
import phonenumbers
import pytest
from argon2 import PasswordHasher
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from pydantic import ValidationError

from scripts import fake_export
from scripts.fake_export import (
    FIELDS,
    INVALID_KINDS,
    PasswordPool,
    format_for,
    generate,
    main,
    password_pool,
    pool_password,
    write,
)
from shared.domain.jss_records import read_account, refusal_of

ROWS = 300
SEED = 7
# The importer refuses times more than a day ahead of its clock; the export ends on 2026-10-31.
IMPORT_NOW = datetime.fromisoformat("2026-11-27T00:00:00+07:00").timestamp()
_SEPARATORS = re.compile(r"[\s()-]")


@pytest.fixture(scope="module")
def pool() -> PasswordPool:
    """A cheap pool (bcrypt cost 4, three hashes of each kind) for everything but the default cost."""
    return password_pool(3, bcrypt_rounds=4, seed=SEED)


@pytest.fixture(scope="module")
def rows(pool: PasswordPool) -> list[dict[str, object]]:
    return list(generate(ROWS, SEED, pool=pool))


def mobile_e164(typed: object) -> str:
    """The number in E.164, asserting it is a valid Indonesian mobile number as phonenumbers sees it."""
    text = _SEPARATORS.sub("", str(typed))
    if text.startswith("62"):  # a WhatsApp id copied without its plus
        text = "+" + text
    number = phonenumbers.parse(text, "ID")
    assert phonenumbers.is_valid_number(number), typed
    assert phonenumbers.region_code_for_number(number) == "ID", typed
    assert phonenumbers.number_type(number) in {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}, typed
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def changed_fields(before: dict[str, object], after: dict[str, object]) -> set[str]:
    return {name for name in FIELDS if before[name] != after[name]}


def test_name_lists_are_varied() -> None:
    assert len(set(fake_export.GIVEN_NAMES)) >= 60
    assert len(set(fake_export.FAMILY_NAMES)) >= 60


def test_same_seed_same_rows_other_seed_other_rows(pool: PasswordPool, rows: list[dict[str, object]]) -> None:
    assert list(generate(ROWS, SEED, pool=pool)) == rows
    assert list(generate(ROWS, SEED + 1, pool=pool)) != rows
    assert password_pool(1, bcrypt_rounds=4, seed=SEED) == password_pool(1, bcrypt_rounds=4, seed=SEED)


def test_rows_look_like_the_jss_user_table(rows: list[dict[str, object]]) -> None:
    assert [list(row) for row in rows] == [list(FIELDS)] * ROWS
    account_ids = [row["account_id"] for row in rows]
    assert len(set(account_ids)) == ROWS
    assert all(re.fullmatch(r"jss-\d{8}", str(account_id)) for account_id in account_ids)

    name_lengths = Counter(len(str(row["name"]).split()) for row in rows)
    assert set(name_lengths) == {1, 2, 3}

    emails = [str(row["email"]) for row in rows if row["email"] is not None]
    assert 0.05 < 1 - len(emails) / ROWS < 0.20
    assert len(set(emails)) == len(emails)
    assert all(re.fullmatch(r"[a-z0-9._]+@[a-z.]+\.[a-z]+", email) for email in emails)

    times = [str(row["updated_at"]) for row in rows]
    moments = [datetime.fromisoformat(text) for text in times]
    assert all(moment.tzinfo is not None for moment in moments)
    assert min(moments) >= datetime.fromisoformat("2019-01-01T00:00:00+07:00")
    assert max(moments) <= datetime.fromisoformat("2026-10-31T23:59:59.999+07:00")
    assert any(text.endswith("+07:00") for text in times)
    assert any(text.endswith("Z") for text in times)
    assert any(re.search(r"\.\d{3}(Z|\+07:00)$", text) for text in times)

    with_whatsapp = [row for row in rows if row["whatsapp_number"] is not None]
    assert 0.45 < len(with_whatsapp) / ROWS < 0.65
    assert all(not row["whatsapp_verified"] for row in rows if row["whatsapp_number"] is None)
    assert any(row["whatsapp_verified"] is None for row in rows)  # left out in JSON Lines


def test_numbers_are_valid_indonesian_mobiles_in_typed_forms(rows: list[dict[str, object]]) -> None:
    typed = [row["phone_number"] for row in rows] + [row["whatsapp_number"] for row in rows if row["whatsapp_number"]]
    for number in typed:
        mobile_e164(number)
    # The forms JSS users typed: 0812..., 0812-3456-7890, 0812 3456 7890, +6281..., +62 812 3456 7890, 6281...
    forms = (r"08\d+", r"08\d\d(-\d+)+", r"08\d\d( \d+)+", r"\+628\d+", r"\+62 8\d\d[ -][\d -]+", r"628\d+")
    for form in forms:
        assert any(re.fullmatch(form, str(number)) for number in typed), form


def test_whatsapp_numbers_are_unique_and_nobody_elses_phone(rows: list[dict[str, object]]) -> None:
    phones = [mobile_e164(row["phone_number"]) for row in rows]
    assert len(set(phones)) == ROWS
    owners = dict(zip(phones, range(ROWS), strict=True))
    whatsapp = {
        position: mobile_e164(row["whatsapp_number"]) for position, row in enumerate(rows) if row["whatsapp_number"]
    }
    assert len(set(whatsapp.values())) == len(whatsapp)
    assert all(owners.get(number, position) == position for position, number in whatsapp.items())
    own_phone = sum(number == phones[position] for position, number in whatsapp.items())
    assert 0.65 < own_phone / len(whatsapp) < 0.95


def test_duplicates_claim_an_earlier_rows_whatsapp_number(pool: PasswordPool, rows: list[dict[str, object]]) -> None:
    with_duplicates = list(generate(ROWS, SEED, duplicates=3, pool=pool))

    seen: set[str] = set()
    claiming_earlier = []
    for position, row in enumerate(with_duplicates):
        if row["whatsapp_number"]:
            number = mobile_e164(row["whatsapp_number"])
            if number in seen:
                claiming_earlier.append(position)
            seen.add(number)
    assert len(claiming_earlier) == 3
    changed = [position for position, row in enumerate(with_duplicates) if row != rows[position]]
    assert changed == claiming_earlier  # every other row is as without --duplicates
    for position in changed:
        assert changed_fields(rows[position], with_duplicates[position]) <= {"whatsapp_number", "whatsapp_verified"}


def test_invalid_rows_cycle_through_the_listed_kinds(pool: PasswordPool, rows: list[dict[str, object]]) -> None:
    count = 2 * len(INVALID_KINDS)
    spoiled = list(generate(ROWS, SEED, invalid=count, pool=pool))

    changed = [position for position, row in enumerate(spoiled) if row != rows[position]]
    assert len(changed) == count
    assert changed[0] > 0
    assert changed[-1] < ROWS - 1  # spread through the file, not bunched at one end
    kinds = []
    for position in changed:
        fields = changed_fields(rows[position], spoiled[position]) - {"whatsapp_verified"}
        assert len(fields) == 1, fields
        (field,) = fields
        kind = next(kind for kind in INVALID_KINDS if kind.field == field)
        assert spoiled[position][field] in kind.values
        kinds.append(field)
    assert kinds == [kind.field for kind in INVALID_KINDS] * 2


def test_the_importer_accepts_the_good_rows_and_refuses_the_spoiled_ones(pool: PasswordPool) -> None:
    export = fake_export.FakeExport(ROWS, SEED, duplicates=2, invalid=len(INVALID_KINDS) * 3, pool=pool)
    for position, row in enumerate(export.rows()):
        kind = export.invalid_positions.get(position)
        if kind is None:
            read_account(row, IMPORT_NOW)  # duplicates are refused later, by the importer's number rule
            continue
        with pytest.raises(ValidationError) as refused:
            read_account(row, IMPORT_NOW)
        assert refusal_of(refused.value).field == kind.field


def test_hashes_come_from_the_pool_and_verify(pool: PasswordPool, rows: list[dict[str, object]]) -> None:
    used = Counter(str(row["password_hash"]) for row in rows)
    pooled = {entry.password_hash: entry for entry in (*pool.bcrypt, *pool.argon2id)}
    assert set(used) == set(pooled)
    bcrypt_rows = sum(n for password_hash, n in used.items() if password_hash.startswith("$2y$04$"))
    assert 0.45 < bcrypt_rows / ROWS < 0.75
    for password_hash, entry in pooled.items():
        assert entry.password == pool_password(entry.index) == f"Jogja-{entry.index}-Istimewa"
        if entry.kind == "bcrypt":
            assert password_hash.startswith("$2y$04$")
            assert bcrypt.checkpw(entry.password.encode(), b"$2b$" + password_hash[4:].encode())
        else:
            assert password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
            assert PasswordHasher().verify(password_hash, entry.password)


def test_the_default_pool_hashes_as_jss_does() -> None:
    default = password_pool(1)
    assert default.bcrypt[0].password_hash.startswith("$2y$10$")
    assert default.argon2id[0].password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_csv_round_trip(tmp_path: Path, rows: list[dict[str, object]]) -> None:
    path = tmp_path / "export.csv"
    assert write(rows, path, "csv") == ROWS

    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == FIELDS
        read_back = list(reader)
    for row, line in zip(rows, read_back, strict=True):
        expected = {name: "" if row[name] is None else str(row[name]) for name in FIELDS}
        expected["whatsapp_verified"] = "true" if row["whatsapp_verified"] else "false"
        assert line == expected


def test_jsonl_round_trip(tmp_path: Path, rows: list[dict[str, object]]) -> None:
    path = tmp_path / "export.jsonl"
    assert write(rows, path, "jsonl") == ROWS

    read_back = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    omitted = sum("whatsapp_verified" not in line for line in read_back)
    assert 0.10 < omitted / ROWS < 0.30
    for row, line in zip(rows, read_back, strict=True):
        if row["whatsapp_verified"] is None:
            assert "whatsapp_verified" not in line
            line["whatsapp_verified"] = None
        assert line == row


def test_format_comes_from_the_extension() -> None:
    assert format_for("a/export.CSV") == "csv"
    assert format_for(Path("export.jsonl")) == "jsonl"
    with pytest.raises(ValueError, match="--format"):
        format_for("export.txt")
    with pytest.raises(SystemExit):
        main(["--count", "5", "--out", "export.txt"])
    with pytest.raises(SystemExit):
        main(["--count", "5", "--out", "export.csv", "--duplicates", "3", "--invalid", "2"])


def test_command_line_writes_the_export_and_the_password_sheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], pool: PasswordPool
) -> None:
    monkeypatch.setattr(fake_export, "password_pool", lambda seed: pool)  # cost 10 is tested above
    out, sheet = tmp_path / "out" / "export.jsonl", tmp_path / "passwords.json"

    status = main(["--count", "40", "--out", str(out), "--seed", "3", "--invalid", "6", "--duplicates", "1"])
    status |= main(["--count", "40", "--out", str(out), "--seed", "3", "--invalid", "8", "--passwords", str(sheet)])

    assert status == 0
    summary = capsys.readouterr().err.strip().splitlines()
    assert re.fullmatch(r"fake_export: 40 rows to .*export\.jsonl \(jsonl\), \d+ with a WhatsApp number, "
                        r"6 invalid, 1 duplicates, [\d.]+ s", summary[0])  # fmt: skip
    assert "8 invalid, 0 duplicates" in summary[1]
    rows_by_id: dict[str, dict[str, Any]] = {}
    for line in out.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        rows_by_id.setdefault(row["account_id"], row)
    listed = json.loads(sheet.read_text(encoding="utf-8"))
    assert len(listed) == fake_export.PASSWORD_SHEET_ROWS
    assert all(set(entry) == {"account_id", "name", "password"} for entry in listed)
    accepted = [row for row in rows_by_id.values() if _importable(row)]
    assert [entry["account_id"] for entry in listed] == [row["account_id"] for row in accepted[:20]]
    for entry in listed:
        row = rows_by_id[entry["account_id"]]
        assert entry["name"] == row["name"]
        assert entry["password"] == pool.password_of(row["password_hash"])


def _importable(row: dict[str, Any]) -> bool:
    try:
        read_account(row, IMPORT_NOW)
    except ValidationError:
        return False
    return True
