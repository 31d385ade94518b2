"""``make bench-import``: how fast the import command loads 100,000 accounts, against a floor.

On a DynamoDB Local of its own, in interleaved rounds (floor and import alternate, and swap which goes
first, so the machine's drift hits both alike), each on a fresh table:

- the floor: raw ``BatchWriteItem`` calls, 25 items each, from the same 8 threads, writing exactly the
  items the import writes (every account and every WhatsApp number claim), built beforehand;
- the import: ``AccountImport`` reading and checking the CSV file, merging, and writing through the
  same rules as the service (lease, conditional transactions, ``BatchWriteItem`` for new accounts
  without a number), as ``make import`` does without the progress bar and the report file.

It prints accounts per second for both and their ratio per round; the median ratio is the figure.
The export is generated once (seed 2026) and kept in ``.bench/``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devserver import services, template  # noqa: E402
from scripts.fake_export import generate, write  # noqa: E402
from scripts.import_accounts import read_rows  # noqa: E402

WORKERS = 8
BENCH = ROOT / ".bench"


def export_file(count: int) -> Path:
    path = BENCH / f"jss-export-{count}.csv"
    if not path.exists():
        BENCH.mkdir(exist_ok=True)
        started = time.monotonic()
        write(generate(count, seed=2026), path, "csv")
        print(f"generated {path.relative_to(ROOT)} in {time.monotonic() - started:.0f} s", flush=True)
    return path


def items_the_import_writes(path: Path) -> list[dict[str, Any]]:
    """Every account item and claim a first import of the file writes, built as the import builds them."""
    from pydantic import ValidationError

    from shared.domain.account_mirror import claim_item, plan
    from shared.domain.jss_records import read_account

    items: list[dict[str, Any]] = []
    now = time.time()
    for row in read_rows(path, "csv"):
        try:
            change = read_account(row.data or {}, now)
        except ValidationError:
            continue
        planned = plan(None, change)
        if planned.item is not None:
            items.append(planned.item)
        if planned.claim:
            items.append(claim_item(planned.claim, change.account_id, int(now)))
    return items


class Bench:
    def __init__(self, endpoint: str) -> None:
        import boto3
        from botocore.config import Config

        from shared.adapters.dynamo import Dynamo

        config = Config(max_pool_connections=WORKERS + 4, retries={"mode": "standard", "max_attempts": 8})
        self.client = boto3.client("dynamodb", endpoint_url=endpoint, config=config)
        self.db = Dynamo(self.client)
        self.request = template.tables(template.load())["AccountsTable"]
        self.tables = 0

    def fresh_table(self) -> str:
        self.tables += 1
        name = f"BenchAccounts{self.tables}"
        self.client.create_table(**{**self.request, "TableName": name})
        return name

    def drop(self, table: str) -> None:
        self.client.delete_table(TableName=table)

    def floor(self, items: list[dict[str, Any]]) -> float:
        table = self.fresh_table()
        chunks = [items[i : i + 25] for i in range(0, len(items), 25)]
        started = time.perf_counter()
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(lambda chunk: self.db.batch_write(table, chunk), chunks))
        seconds = time.perf_counter() - started
        self.drop(table)
        return seconds

    def import_(self, path: Path, expected_items: int | None = None) -> float:
        from shared.domain.account_import import AccountImport

        table = self.fresh_table()
        importer = AccountImport(self.db, table, workers=WORKERS)
        started = time.perf_counter()
        summary = importer.run(read_rows(path, "csv"), lambda _outcome: None)
        seconds = time.perf_counter() - started
        if expected_items is not None:  # once: the import wrote what the floor writes, no more, no less
            stored = self.client.scan(TableName=table, Select="COUNT")
            count = stored["Count"]
            while "LastEvaluatedKey" in stored:
                stored = self.client.scan(TableName=table, Select="COUNT", ExclusiveStartKey=stored["LastEvaluatedKey"])
                count += stored["Count"]
            if count != expected_items or summary.created != summary.read:
                raise RuntimeError(f"the import stored {count} items for {summary}; the floor writes {expected_items}")
        self.drop(table)
        return seconds


def machine() -> str:
    info = Path("/proc/cpuinfo").read_text().splitlines()
    names = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
    cpu = names[0] if names else platform.processor() or platform.machine()
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False).stderr.splitlines()[0]  # noqa: S607
    dynamodb = services.dynamodb_local_dir().name
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {java}, {dynamodb}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench_import", description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args(argv)
    os.environ.update(
        {
            "NUMBER_HASH_KEY": "bench-number-key",
            "AWS_DEFAULT_REGION": services.LOCAL_REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
        }
    )
    path = export_file(arguments.accounts)
    items = items_the_import_writes(path)
    dynamodb = services.DynamoDBLocal(services.free_port())
    dynamodb.start()
    try:
        bench = Bench(dynamodb.endpoint)
        warm_up = BENCH / "warm-up.csv"
        write(generate(5_000, seed=7), warm_up, "csv")
        bench.floor(items_the_import_writes(warm_up))
        bench.import_(warm_up)
        print(f"{arguments.accounts:,} accounts, {len(items):,} items; {machine()}")
        print(f"{'round':<6}{'floor accounts/s':>18}{'import accounts/s':>19}{'ratio':>8}")
        ratios = []
        for round_ in range(1, arguments.rounds + 1):
            first_floor = round_ % 2 == 1
            timings: dict[str, float] = {}
            for kind in ("floor", "import") if first_floor else ("import", "floor"):
                if kind == "floor":
                    timings[kind] = bench.floor(items)
                else:
                    timings[kind] = bench.import_(path, len(items) if round_ == 1 else None)
            floor_rate, import_rate = arguments.accounts / timings["floor"], arguments.accounts / timings["import"]
            ratios.append(import_rate / floor_rate)
            print(f"{round_:<6}{floor_rate:>18,.0f}{import_rate:>19,.0f}{ratios[-1]:>8.2f}", flush=True)
        print(f"median ratio import/floor: {statistics.median(ratios):.2f} (target at least 0.5)")
    finally:
        dynamodb.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
