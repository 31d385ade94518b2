"""Import an export of the JSS user table (CSV with a header row, or JSON Lines) into the accounts table.

    python -m scripts.import_accounts export.csv                  # the stack `make run` is serving
    python -m scripts.import_accounts export.csv --stack jss-prod # a deployed stack (its AccountsTable)
    python -m scripts.import_accounts export.jsonl --table Accounts-abc \
        --number-hash-key-secret-id /prod/jss-whatsapp/number-hash-key

Refused rows go to a report (``<file>.report.jsonl``: line, reason, field; never a value), a summary
is printed at the end, and the exit status is 0 whenever the run completed, refused rows included.
A run that stops half way leaves a checkpoint beside the report; the same command resumes it
(``--restart`` starts over). The rules live in ``shared.domain.account_import``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shared.adapters.aws import BatchIncomplete  # noqa: E402
from shared.adapters.dynamo import Dynamo  # noqa: E402
from shared.domain.account_import import (  # noqa: E402
    AccountImport,
    ImportRunning,
    ImportSummary,
    LeaseLost,
    RowOutcome,
    SourceRow,
)

COLUMNS = ("account_id", "name", "email", "phone_number", "whatsapp_number", "password_hash", "updated_at")
LOCAL_STATE = ROOT / ".run" / "local-stack.json"


class RunFailed(Exception):
    """The run itself could not go on (not a refused row): exit status 1 with this message."""


# ----------------------------------------------------------------- reading the export


def read_rows(path: Path, fmt: str) -> Iterator[SourceRow]:
    """The rows of the file with their line numbers; a row that cannot be read carries a reason."""
    with path.open("rb") as handle:
        if fmt == "jsonl":
            yield from _jsonl_rows(handle)
        else:
            text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="surrogateescape", newline="")
            yield from _csv_rows(text)


def _jsonl_rows(handle: Any) -> Iterator[SourceRow]:
    for line, raw in enumerate(handle, start=1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            yield SourceRow(line, problem="row_not_utf8")
            continue
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        yield SourceRow(line, data) if isinstance(data, dict) else SourceRow(line, problem="row_malformed")


def _csv_rows(text: TextIO) -> Iterator[SourceRow]:
    reader = csv.DictReader(text)
    header = reader.fieldnames or []
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise RunFailed(f"the CSV header lacks the column(s) {', '.join(missing)} (expected {', '.join(COLUMNS)})")
    for record in reader:
        # The record ends on reader.line_num; it starts as many lines earlier as its quoted fields
        # hold line breaks (blank lines before it are skipped by the reader, not part of it).
        values = list(record.values())
        breaks = sum(value.count("\n") for value in values if isinstance(value, str))
        line = reader.line_num - breaks
        if None in record or None in values:  # more or fewer fields than the header
            yield SourceRow(line, problem="row_malformed")
        elif any(_has_undecodable(v) for v in values if isinstance(v, str)):
            yield SourceRow(line, problem="row_not_utf8")
        else:
            yield SourceRow(line, {k: v for k, v in record.items() if k})


def _has_undecodable(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def count_rows(path: Path) -> int:
    with path.open("rb") as handle:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    return max(0, lines - 1) if path.suffix.lower() == ".csv" else lines


def file_format(path: Path, given: str) -> str:
    if given != "auto":
        return given
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        return "jsonl"
    if path.suffix.lower() == ".csv":
        return "csv"
    raise RunFailed(f"cannot tell the format of {path.name}: name it .csv or .jsonl, or pass --format")


# ----------------------------------------------------------------- where to write


@dataclass(frozen=True)
class Target:
    table: str
    description: str


def local_target() -> Target:
    """The stack `make run` is serving, from the state file it writes while it runs."""
    path = Path(os.environ.get("LOCAL_STACK_STATE") or LOCAL_STATE)
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        raise RunFailed(
            "no local stack is running (start `make run` first), or pass --table / --stack for AWS"
        ) from None
    os.environ.update(state["environment"])
    return Target(state["environment"]["ACCOUNTS_TABLE"], f"the local stack at {state['base_url']}")


def stack_target(stack: str) -> Target:
    import boto3

    cloudformation = boto3.client("cloudformation")
    resource = cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId="AccountsTable")
    table = resource["StackResourceDetail"]["PhysicalResourceId"]
    [described] = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])}
    # Where the stack keeps the number-hash key (template.yaml, NumberHashKeyStore): the import must
    # fingerprint numbers with the very key the functions use.
    if parameters.get("NumberHashKeyStore") == "secretsmanager":
        secret = cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId="NumberHashKeySecret")
        os.environ.setdefault("NUMBER_HASH_KEY_SECRET_ID", secret["StackResourceDetail"]["PhysicalResourceId"])
    else:
        name = "/".join(part.strip("/") for part in (parameters.get("Stage", ""), parameters["NumberHashKeyParameter"]))
        os.environ.setdefault("NUMBER_HASH_KEY_PARAMETER", "/" + name.strip("/"))
    return Target(table, f"{table} of stack {stack}")


# ----------------------------------------------------------------- report, checkpoint, progress


class Checkpoint:
    """Where a stopped run resumes: the first line whose outcome was not yet final, and the counts of
    the rows before it. Tied to the file's size, time and first megabyte, and to the table."""

    def __init__(self, report: Path, source: Path, table: str) -> None:
        self.path = report.with_name(report.name + ".checkpoint")
        stat = source.stat()
        with source.open("rb") as handle:
            head = hashlib.sha256(handle.read(1 << 20)).hexdigest()
        self.identity = {"file": str(source.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        self.identity |= {"head_sha256": head, "table": table}
        self._written = 0.0

    def load(self) -> tuple[int, ImportSummary] | None:
        try:
            saved = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        if saved.get("identity") != self.identity:
            return None
        counts = saved["summary"]
        summary = ImportSummary(0, counts["created"], counts["updated"], counts["unchanged"])
        summary.refused.update(counts["refused"])
        return int(saved["done_before"]), summary

    def save(self, done_before: int, summary: ImportSummary, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._written < 1:
            return
        counts = {**asdict(summary), "refused": dict(summary.refused)}
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"identity": self.identity, "done_before": done_before, "summary": counts}))
        temporary.replace(self.path)
        self._written = time.monotonic()

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def keep_report_before(report: Path, line: int) -> None:
    """A resumed run writes again every outcome from ``line`` on: drop the earlier run's copies."""
    if not report.exists():
        return
    kept = [entry for entry in report.read_text().splitlines() if entry and json.loads(entry)["line"] < line]
    report.write_text("".join(entry + "\n" for entry in kept))


class Progress:
    """A bar with rate and time left on a terminal; a plain line every few seconds otherwise."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.quiet, self.done = total, quiet, 0
        self.started = self._last_line = time.monotonic()
        self.bar: Any = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=" rows", unit_scale=True, dynamic_ncols=True, file=sys.stderr)

    def advance(self, rows: int = 1) -> None:
        self.done += rows
        if self.bar is not None:
            self.bar.update(rows)
        elif not self.quiet and time.monotonic() - self._last_line >= 5:
            self._last_line = time.monotonic()
            rate = self.done / max(1e-9, self._last_line - self.started)
            left = (self.total - self.done) / rate if rate else 0
            line = f"{self.done:,} of {self.total:,} rows, {rate:,.0f} rows/s, about {left:,.0f} s left"
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Ledger:
    """The run's counts, split at the checkpoint line: outcomes below it are final, those at or after
    it are written again by a resumed run and must not be counted twice."""

    def __init__(self, final: ImportSummary) -> None:
        self.final = final
        self.ahead: list[RowOutcome] = []

    def add(self, outcome: RowOutcome) -> None:
        self.ahead.append(outcome)

    def settle_before(self, line: int) -> ImportSummary:
        for outcome in self.ahead:
            if outcome.line < line:
                self.final.add(outcome)
        self.ahead = [outcome for outcome in self.ahead if outcome.line >= line]
        return self.final

    def total(self) -> ImportSummary:
        return self.settle_before(sys.maxsize)


def summary_text(summary: ImportSummary, seconds: float, report: Path) -> str:
    refused = sum(summary.refused.values())
    lines = [
        f"read       {summary.read:>9,}",
        f"imported   {summary.imported:>9,}  ({summary.created:,} new, {summary.updated:,} updated)",
        f"unchanged  {summary.unchanged:>9,}",
        f"refused    {refused:>9,}" + (f"  (each with its line and reason in {report})" if refused else ""),
        *(f"  {reason:<34}{count:>7,}" for reason, count in sorted(summary.refused.items())),
        f"in {seconds:,.1f} s, {summary.read / max(seconds, 1e-9):,.0f} rows/s",
    ]
    return "\n".join(lines)


def _report_line(outcome: RowOutcome) -> str:
    fields = {"line": outcome.line, "reason": outcome.reason, "field": outcome.field, "first_line": outcome.first_line}
    return json.dumps({k: v for k, v in fields.items() if v is not None}) + "\n"


# ----------------------------------------------------------------- the command


def run(arguments: argparse.Namespace, out: Callable[[str], None] = print) -> ImportSummary:
    source = Path(arguments.file)
    if not source.is_file():
        raise RunFailed(f"{source} is not a readable file")
    fmt = file_format(source, arguments.format)
    target = resolve_target(arguments)
    report = Path(arguments.report or f"{source}.report.jsonl")
    checkpoint = Checkpoint(report, source, target.table)
    resumed = None if arguments.restart else checkpoint.load()
    done_before, earlier = resumed or (0, ImportSummary())
    if resumed:
        keep_report_before(report, done_before)
        out(f"Importing {source.name} into {target.description}, resuming at line {done_before}")
    else:
        report.write_text("")
        out(f"Importing {source.name} into {target.description}")

    import boto3
    from botocore.config import Config

    config = Config(max_pool_connections=arguments.workers + 4, retries={"mode": "standard", "max_attempts": 8})
    importer = AccountImport(Dynamo(boto3.client("dynamodb", config=config)), target.table, workers=arguments.workers)
    ledger = Ledger(earlier)
    progress = Progress(count_rows(source), arguments.quiet)
    progress.advance(earlier.created + earlier.updated + earlier.unchanged + sum(earlier.refused.values()))
    started = time.monotonic()
    with report.open("a") as refusals:

        def record(outcome: RowOutcome) -> None:
            ledger.add(outcome)
            progress.advance()
            if outcome.outcome == "refused":
                refusals.write(_report_line(outcome))

        def mark(line: int) -> None:
            refusals.flush()
            checkpoint.save(line, ledger.settle_before(line))

        try:
            this_run = importer.run(read_rows(source, fmt), record, done_before=done_before, checkpoint=mark)
        except ImportRunning:
            raise RunFailed("another import is running against this table (it holds the import lease)") from None
        except LeaseLost:
            raise RunFailed("this run lost the import lease (it stalled too long): run the command again") from None
        finally:
            progress.close()
    summary = ledger.total()
    summary.read = this_run.read
    checkpoint.remove()
    out(summary_text(summary, time.monotonic() - started, report))
    return summary


def resolve_target(arguments: argparse.Namespace) -> Target:
    if arguments.table:
        if arguments.number_hash_key_parameter:
            os.environ["NUMBER_HASH_KEY_PARAMETER"] = arguments.number_hash_key_parameter
        if arguments.number_hash_key_secret_id:
            os.environ["NUMBER_HASH_KEY_SECRET_ID"] = arguments.number_hash_key_secret_id
        return Target(arguments.table, arguments.table)
    return stack_target(arguments.stack) if arguments.stack else local_target()


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.import_accounts", description=__doc__.splitlines()[0])
    parser.add_argument("file", help="the export: .csv (header row) or .jsonl")
    parser.add_argument("--format", choices=("auto", "csv", "jsonl"), default="auto")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stack", help="a deployed stack: its AccountsTable (AWS credentials from the environment)")
    where.add_argument("--table", help="the accounts table's name (with --number-hash-key-parameter on AWS)")
    key = parser.add_mutually_exclusive_group()
    key.add_argument("--number-hash-key-parameter", help="SSM SecureString holding NUMBER_HASH_KEY (with --table)")
    key.add_argument("--number-hash-key-secret-id", help="Secrets Manager secret holding it (with --table)")
    parser.add_argument("--report", help="where refused rows go (default: <file>.report.jsonl)")
    parser.add_argument("--restart", action="store_true", help="ignore a checkpoint and start from the first row")
    parser.add_argument("--workers", type=int, default=8, help="parallel writers (default 8)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
    from botocore.exceptions import BotoCoreError, ClientError

    from shared.adapters.keys import MissingSecretError

    try:
        run(arguments)
    except (GetParameterError, MissingSecretError) as missing:
        print(f"import stopped: the number-hash key could not be read ({missing})", file=sys.stderr)
        return 1
    except (RunFailed, OSError, BotoCoreError, ClientError, BatchIncomplete) as failed:
        print(f"import stopped: {failed}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("import interrupted: the same command resumes it", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
