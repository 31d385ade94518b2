"""The import command (``scripts/import_accounts.py``) run through ``main([...])`` against moto: CSV and
JSON Lines files with the physical line of every row in the report, rows it cannot read, a CSV
without a required column, the report (line, reason, field; never a value), the printed summary and
exit status, a second run, and resuming from a checkpoint (written by hand, or left by a run
interrupted half way), which a changed file ignores.

The command runs with ``--workers 1``: moto's DynamoDB is not thread-safe (see test_account_import)."""

from __future__ import annotations

import csv
import functools
import io
import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scripts import import_accounts
from scripts.import_accounts import Checkpoint, main
from shared.adapters.dynamo import Dynamo, from_attributes
from shared.domain.account_import import AccountImport, ImportSummary
from shared.domain.accounts import account_key, number_claim_key

TABLE = "AccountsTable"
PASSWORD = "rahasia-JSS-2024"
MD5 = "5f4dcc3b5aa765d61d8327deb882cf99"
HEADER = [
    "account_id",
    "name",
    "email",
    "phone_number",
    "whatsapp_number",
    "whatsapp_verified",
    "password_hash",
    "updated_at",
    "nik",
]
WHATSAPP = "+6285712345678"

Scan = Callable[[str], list[dict[str, Any]]]


@pytest.fixture
def password_hash(php_bcrypt: Callable[[str], str]) -> str:
    return php_bcrypt(PASSWORD)


def csv_lines(*rows: list[str]) -> bytes:
    """CSV text of ``rows``, one physical line each unless a field holds a newline."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    return text.getvalue().encode()


def good(account_id: str, hashed: str, whatsapp: str = "", **changes: str) -> list[str]:
    values = {
        "account_id": account_id,
        "name": f"Warga {account_id}",
        "email": f"{account_id}@example.com",
        "phone_number": "0812-9876-5432",
        "whatsapp_number": whatsapp,
        "whatsapp_verified": "",
        "password_hash": hashed,
        "updated_at": "2025-06-01 08:00:00",
        "nik": "3471000000000001",
    }
    values.update(changes)
    return [values[column] for column in HEADER]


def import_file(path: Path, *extra: str) -> int:
    return main([str(path), "--table", TABLE, "--workers", "1", "--quiet", *extra])


def report_of(path: Path) -> Path:
    return Path(f"{path}.report.jsonl")


def report_entries(path: Path) -> list[dict[str, Any]]:
    return sorted(
        (json.loads(line) for line in report_of(path).read_text().splitlines()), key=lambda entry: entry["line"]
    )


def printed(out: str) -> list[str]:
    """The printed lines with their runs of spaces collapsed (the summary aligns its columns)."""
    return [" ".join(line.split()) for line in out.splitlines()]


def accounts(scan: Scan) -> dict[str, dict[str, Any]]:
    found = (from_attributes(item) for item in scan(TABLE))
    return {str(item["account_id"]): item for item in found if str(item["pk"]).startswith("ACCOUNT#")}


def owner(aws: Any, number: str) -> str | None:
    claim = Dynamo(aws.dynamodb).get(TABLE, number_claim_key(number))
    return None if claim is None else str(claim["account_id"])


# ================================================================= a CSV export


@pytest.fixture
def export_csv(tmp_path: Path, password_hash: str) -> Path:
    path = tmp_path / "export.csv"
    path.write_bytes(
        csv_lines(
            HEADER,  # 1
            good("jss-a", password_hash, "0857-1234-5678", whatsapp_verified="true"),  # 2
            good("jss-b", password_hash, name="Siti\nRahayu", email="", whatsapp=""),  # 3 and 4
            good("jss-c", password_hash, email="siti.rahayu.example.com"),  # 5
            [*good("jss-d", password_hash), "one field too many"],  # 6
            ["jss-e", "Eko Prasetyo"],  # 7
        )
        + b"jss-f,Sutrisno \xe9,f@example.com,0812-9876-5432,,,"
        + password_hash.encode()
        + b",2025-06-01,\n"  # 8
        + csv_lines(
            good("jss-g", password_hash, "62 857 1234 5678"),  # 9: line 2's number
            good("jss-h", password_hash, email=""),  # 10
            good("jss-i", password_hash, password_hash=MD5),  # 11
        )
    )
    return path


CSV_REPORT = [
    {"line": 5, "reason": "email_invalid", "field": "email"},
    {"line": 6, "reason": "row_malformed"},
    {"line": 7, "reason": "row_malformed"},
    {"line": 8, "reason": "row_not_utf8"},
    {"line": 9, "reason": "duplicate_whatsapp_number", "field": "whatsapp_number", "first_line": 2},
    {"line": 11, "reason": "password_hash_unsupported", "field": "password_hash"},
]


def test_a_csv_export_is_imported_and_its_refused_rows_reported_by_physical_line(
    aws: Any, export_csv: Path, scan: Scan, capsys: pytest.CaptureFixture[str], password_hash: str
) -> None:
    assert import_file(export_csv) == 0  # refused rows do not fail the run

    assert report_entries(export_csv) == CSV_REPORT
    stored = accounts(scan)
    assert set(stored) == {"jss-a", "jss-b", "jss-h"}
    assert stored["jss-b"]["name"] == "Siti Rahayu"  # the quoted field over two lines
    assert (stored["jss-a"]["whatsapp_number"], stored["jss-a"]["whatsapp_verified_via"]) == (WHATSAPP, "whatsapp")
    assert stored["jss-a"]["password_hash"] == password_hash
    assert "nik" not in stored["jss-a"]
    assert owner(aws, WHATSAPP) == "jss-a"
    assert not (export_csv.parent / "export.csv.report.jsonl.checkpoint").exists()

    out = printed(capsys.readouterr().out)
    assert out[0] == "Importing export.csv into AccountsTable"
    assert out[1:10] == [
        "read 9",
        "imported 3 (3 new, 0 updated)",
        "unchanged 0",
        f"refused 6 (each with its line and reason in {report_of(export_csv)})",
        "duplicate_whatsapp_number 1",
        "email_invalid 1",
        "password_hash_unsupported 1",
        "row_malformed 2",
        "row_not_utf8 1",
    ]
    assert out[10].startswith("in ")
    assert out[10].endswith(" rows/s")


def test_the_report_holds_no_email_number_or_hash(aws: Any, export_csv: Path, password_hash: str) -> None:
    import_file(export_csv)
    text = report_of(export_csv).read_text()
    for value in ("siti", "rahayu", "example.com", "0857", "1234", "5678", "0812", MD5[:10], password_hash[7:20]):
        assert value not in text.lower()
    assert all(set(json.loads(line)) <= {"line", "reason", "field", "first_line"} for line in text.splitlines())


def test_a_second_run_of_the_same_file_changes_nothing(
    aws: Any, export_csv: Path, scan: Scan, capsys: pytest.CaptureFixture[str]
) -> None:
    import_file(export_csv)
    before = scan(TABLE)
    capsys.readouterr()

    assert import_file(export_csv) == 0

    assert sorted(map(str, scan(TABLE))) == sorted(map(str, before))
    out = printed(capsys.readouterr().out)
    assert out[1:5] == [
        "read 9",
        "imported 0 (0 new, 0 updated)",
        "unchanged 3",
        f"refused 6 (each with its line and reason in {report_of(export_csv)})",
    ]
    assert report_entries(export_csv) == CSV_REPORT  # written afresh, not appended to


def test_a_csv_without_a_required_column_stops_with_exit_1_and_writes_nothing(
    aws: Any, tmp_path: Path, password_hash: str, scan: Scan, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "export.csv"
    without_hash = [column for column in HEADER if column != "password_hash"]
    row = good("jss-a", password_hash, "0857-1234-5678")
    path.write_bytes(csv_lines(without_hash, [v for c, v in zip(HEADER, row, strict=True) if c != "password_hash"]))

    assert import_file(path) == 1

    error = capsys.readouterr().err
    assert error.startswith("import stopped: the CSV header lacks the column(s) password_hash")
    assert scan(TABLE) == []  # not even the import lease is left


def test_a_report_path_can_be_given(aws: Any, export_csv: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "reports" / "refused.jsonl"
    elsewhere.parent.mkdir()
    assert import_file(export_csv, "--report", str(elsewhere)) == 0
    assert [json.loads(line)["line"] for line in elsewhere.read_text().splitlines()] == [5, 6, 7, 8, 9, 11]
    assert not report_of(export_csv).exists()


def test_a_file_that_is_not_there_stops_with_exit_1(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert import_file(tmp_path / "missing.csv") == 1
    assert "is not a readable file" in capsys.readouterr().err


def test_a_row_after_a_blank_csv_line_keeps_its_physical_line(aws: Any, tmp_path: Path, password_hash: str) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(
        csv_lines(HEADER, good("jss-a", password_hash))  # lines 1 and 2
        + b"\n"  # 3
        + csv_lines(good("jss-b", password_hash, email="not-an-email"))  # 4
    )
    assert import_file(path) == 0
    assert report_entries(path) == [{"line": 4, "reason": "email_invalid", "field": "email"}]


# ================================================================= a JSON Lines export


def test_a_jsonl_export_skips_blank_lines_and_reports_physical_lines(
    aws: Any, tmp_path: Path, password_hash: str, scan: Scan, capsys: pytest.CaptureFixture[str]
) -> None:
    def line(account_id: str, **changes: Any) -> bytes:
        values: dict[str, Any] = dict(zip(HEADER, good(account_id, password_hash), strict=True))
        values.update(changes)
        return json.dumps(values).encode() + b"\n"

    path = tmp_path / "export.jsonl"
    path.write_bytes(
        line("jss-j1", whatsapp_number="0857-1234-5678", whatsapp_verified=True)  # 1
        + b"\n"  # 2
        + line("jss-j3", email=None)  # 3
        + b'{"account_id": "jss-j4", "name": \n'  # 4
        + b"   \n"  # 5
        + b'["jss-j6"]\n'  # 6
        + b'{"account_id": "jss-j7", "name": "Eko \xff"}\n'  # 7
        + line("jss-j8", remember_token="abc", created_at="2019-01-01")  # 8
        + line("jss-j9", password_hash="$1$saltsalt$qjXMvbEw8oaL.CzflDugX/")  # 9
        + line("jss-j10", updated_at="kemarin")  # 10
        + line("jss-j11", phone_number=81298765432)  # 11
        + b"\n"
    )

    assert import_file(path) == 0

    assert report_entries(path) == [
        {"line": 4, "reason": "row_malformed"},
        {"line": 6, "reason": "row_malformed"},
        {"line": 7, "reason": "row_not_utf8"},
        {"line": 9, "reason": "password_hash_unsupported", "field": "password_hash"},
        {"line": 10, "reason": "updated_at_invalid", "field": "updated_at"},
        {"line": 11, "reason": "phone_number_invalid", "field": "phone_number"},
    ]
    assert set(accounts(scan)) == {"jss-j1", "jss-j3", "jss-j8"}
    assert owner(aws, WHATSAPP) == "jss-j1"
    out = printed(capsys.readouterr().out)
    assert out[0] == "Importing export.jsonl into AccountsTable"
    assert out[1:4] == ["read 9", "imported 3 (3 new, 0 updated)", "unchanged 0"]


# ================================================================= resuming


@pytest.fixture
def short_csv(tmp_path: Path, password_hash: str) -> Path:
    path = tmp_path / "export.csv"
    path.write_bytes(
        csv_lines(
            HEADER,
            good("jss-r2", password_hash, "0857-1234-5678"),  # 2
            good("jss-r3", password_hash, email="not-an-email"),  # 3
            good("jss-r4", password_hash),  # 4
            good("jss-r5", password_hash, "0857 1234 5678"),  # 5: line 2's number
            good("jss-r6", password_hash),  # 6
        )
    )
    return path


def stopped_at_line_4(path: Path) -> None:
    """What a run killed after line 3 leaves: its checkpoint, and the report up to there (and beyond)."""
    earlier = ImportSummary(created=1, refused=Counter(email_invalid=1))
    Checkpoint(report_of(path), path, TABLE).save(4, earlier, force=True)
    report_of(path).write_text(
        json.dumps({"line": 3, "reason": "email_invalid", "field": "email"})
        + "\n"
        + json.dumps({"line": 6, "reason": "row_malformed"})  # written after the checkpoint: written again
        + "\n"
    )


def test_a_run_resumes_at_its_checkpoint(
    aws: Any, short_csv: Path, scan: Scan, capsys: pytest.CaptureFixture[str]
) -> None:
    stopped_at_line_4(short_csv)

    assert import_file(short_csv) == 0

    out = printed(capsys.readouterr().out)
    assert out[0] == "Importing export.csv into AccountsTable, resuming at line 4"
    assert out[1:7] == [
        "read 5",
        "imported 3 (3 new, 0 updated)",  # one before the checkpoint, two now
        "unchanged 0",
        f"refused 2 (each with its line and reason in {report_of(short_csv)})",
        "duplicate_whatsapp_number 1",  # line 2 keeps its number though it was not read again
        "email_invalid 1",
    ]
    assert set(accounts(scan)) == {"jss-r4", "jss-r6"}  # lines 2 and 3 were final: not written again
    assert report_entries(short_csv) == [
        {"line": 3, "reason": "email_invalid", "field": "email"},
        {"line": 5, "reason": "duplicate_whatsapp_number", "field": "whatsapp_number", "first_line": 2},
    ]
    assert not Checkpoint(report_of(short_csv), short_csv, TABLE).path.exists()


def test_restart_ignores_the_checkpoint(
    aws: Any, short_csv: Path, scan: Scan, capsys: pytest.CaptureFixture[str]
) -> None:
    stopped_at_line_4(short_csv)
    assert import_file(short_csv, "--restart") == 0
    assert printed(capsys.readouterr().out)[0] == "Importing export.csv into AccountsTable"
    assert set(accounts(scan)) == {"jss-r2", "jss-r4", "jss-r6"}
    assert [entry["line"] for entry in report_entries(short_csv)] == [3, 5]


def test_a_changed_file_ignores_the_old_checkpoint(
    aws: Any, short_csv: Path, scan: Scan, password_hash: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stopped_at_line_4(short_csv)
    with short_csv.open("ab") as more:
        more.write(csv_lines(good("jss-r7", password_hash)))

    assert import_file(short_csv) == 0

    out = printed(capsys.readouterr().out)
    assert out[0] == "Importing export.csv into AccountsTable"
    assert out[1:3] == ["read 6", "imported 4 (4 new, 0 updated)"]
    assert set(accounts(scan)) == {"jss-r2", "jss-r4", "jss-r6", "jss-r7"}
    assert [entry["line"] for entry in report_entries(short_csv)] == [3, 5]


def test_a_checkpoint_for_another_table_is_ignored(
    aws: Any, short_csv: Path, scan: Scan, capsys: pytest.CaptureFixture[str]
) -> None:
    Checkpoint(report_of(short_csv), short_csv, "OtherAccountsTable").save(4, ImportSummary(created=1), force=True)
    assert import_file(short_csv) == 0
    assert printed(capsys.readouterr().out)[0] == "Importing export.csv into AccountsTable"
    assert set(accounts(scan)) == {"jss-r2", "jss-r4", "jss-r6"}


def test_a_run_interrupted_half_way_is_finished_by_the_same_command(
    aws: Any,
    tmp_path: Path,
    password_hash: str,
    scan: Scan,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "export.csv"
    rows = [good(f"jss-{line}", password_hash, f"0857-1234-{line:04d}" if line % 2 else "") for line in range(2, 22)]
    rows[5] = good("jss-7", password_hash, email="bad")  # line 7
    rows[12] = ["jss-14", "too few"]  # line 14
    path.write_bytes(csv_lines(HEADER, *rows))
    saved: list[int] = []
    real_save = Checkpoint.save

    def save_then_die(self: Checkpoint, done_before: int, summary: ImportSummary, *, force: bool = False) -> None:
        real_save(self, done_before, summary, force=True)
        saved.append(done_before)
        raise KeyboardInterrupt  # killed right after its first checkpoint

    with monkeypatch.context() as patch:
        patch.setattr(import_accounts, "AccountImport", functools.partial(AccountImport, chunk_rows=3))
        patch.setattr(Checkpoint, "save", save_then_die)
        assert import_file(path) == 130
    [line] = saved
    assert 2 < line <= 21
    assert capsys.readouterr().err == "import interrupted: the same command resumes it\n"
    assert not [item for item in scan(TABLE) if item["pk"]["S"] == "IMPORT#lease"]

    assert import_file(path) == 0

    out = printed(capsys.readouterr().out)
    assert out[0] == f"Importing export.csv into AccountsTable, resuming at line {line}"
    counts = {text.split()[0]: int(text.split()[1]) for text in out[1:4]}
    assert counts["read"] == 20
    assert counts["imported"] + counts["unchanged"] == 18  # rows written before the kill are unchanged now
    assert out[4:7] == [
        f"refused 2 (each with its line and reason in {report_of(path)})",
        "email_invalid 1",
        "row_malformed 1",
    ]
    assert set(accounts(scan)) == {f"jss-{line}" for line in range(2, 22)} - {"jss-7", "jss-14"}
    assert [entry["line"] for entry in report_entries(path)] == [7, 14]
    assert owner(aws, "+6285712340021") == "jss-21"
    assert Dynamo(aws.dynamodb).get(TABLE, account_key("jss-3")) is not None


def test_a_csv_with_a_byte_order_mark_and_crlf_line_ends_is_read_line_by_line(
    aws: Any, tmp_path: Path, password_hash: str, scan: Scan
) -> None:
    path = tmp_path / "export.csv"
    text = csv_lines(HEADER, good("jss-a", password_hash), good("jss-b", password_hash, email="not-an-email"))
    path.write_bytes(b"\xef\xbb\xbf" + text.replace(b"\n", b"\r\n"))

    assert import_file(path) == 0

    assert report_entries(path) == [{"line": 3, "reason": "email_invalid", "field": "email"}]
    assert set(accounts(scan)) == {"jss-a"}


def test_the_format_comes_from_the_file_name_or_the_option(
    aws: Any, tmp_path: Path, password_hash: str, scan: Scan, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "export.txt"
    path.write_bytes(json.dumps(dict(zip(HEADER, good("jss-a", password_hash), strict=True))).encode() + b"\n")

    assert import_file(path) == 1
    assert "cannot tell the format of export.txt" in capsys.readouterr().err
    assert scan(TABLE) == []

    assert import_file(path, "--format", "jsonl") == 0
    assert set(accounts(scan)) == {"jss-a"}


def test_another_running_import_stops_the_command_with_exit_1(
    aws: Any, export_csv: Path, scan: Scan, capsys: pytest.CaptureFixture[str]
) -> None:
    lease = {"pk": "IMPORT#lease", "run_id": "another-import", "expires_ms": 4_102_444_800_000}
    Dynamo(aws.dynamodb).put(TABLE, lease)

    assert import_file(export_csv) == 1

    assert capsys.readouterr().err == (
        "import stopped: another import is running against this table (it holds the import lease)\n"
    )
    assert [from_attributes(item) for item in scan(TABLE)] == [lease]


_STACK = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {
        "Stage": {"Type": "String"},
        "NumberHashKeyParameter": {"Type": "String"},
        "NumberHashKeyStore": {"Type": "String"},
    },
    "Conditions": {"InSecretsManager": {"Fn::Equals": [{"Ref": "NumberHashKeyStore"}, "secretsmanager"]}},
    "Resources": {
        "AccountsTable": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": "jss-prod-accounts",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            },
        },
        # moto's CloudFormation makes no Secrets Manager secrets; the import reads only the resource's
        # physical id (the secret's name), which an SSM parameter of the same name gives as well.
        "NumberHashKeySecret": {
            "Type": "AWS::SSM::Parameter",
            "Condition": "InSecretsManager",
            "Properties": {"Name": "/prod/jss-whatsapp/number-hash-key", "Type": "String", "Value": "x"},
        },
    },
}


@pytest.mark.parametrize(
    ("store", "variable", "value"),
    [
        ("ssm", "NUMBER_HASH_KEY_PARAMETER", "/prod/jss-whatsapp/number-hash-key"),
        ("secretsmanager", "NUMBER_HASH_KEY_SECRET_ID", "/prod/jss-whatsapp/number-hash-key"),
    ],
)
def test_a_stack_target_reads_the_number_key_where_the_stack_keeps_it(
    aws: Any, monkeypatch: pytest.MonkeyPatch, store: str, variable: str, value: str
) -> None:
    import boto3

    for name in ("NUMBER_HASH_KEY", "NUMBER_HASH_KEY_PARAMETER", "NUMBER_HASH_KEY_SECRET_ID"):
        monkeypatch.delenv(name, raising=False)
    cloudformation = boto3.client("cloudformation")
    parameters = {
        "Stage": "prod",
        "NumberHashKeyParameter": "jss-whatsapp/number-hash-key",
        "NumberHashKeyStore": store,
    }
    cloudformation.create_stack(
        StackName="jss-prod",
        TemplateBody=json.dumps(_STACK),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    )

    target = import_accounts.stack_target("jss-prod")

    assert target.table == "jss-prod-accounts"
    names = ("NUMBER_HASH_KEY_PARAMETER", "NUMBER_HASH_KEY_SECRET_ID")
    assert {name: os.environ[name] for name in names if os.environ.get(name)} == {variable: value}


def test_an_unreadable_number_key_stops_the_import_cleanly(
    aws: Any, export_csv: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NUMBER_HASH_KEY")
    code = main(
        [str(export_csv), "--table", "AccountsTable", "--number-hash-key-parameter", "/prod/missing", "--quiet"]
    )
    assert code == 1
    assert "number-hash key could not be read" in capsys.readouterr().err
