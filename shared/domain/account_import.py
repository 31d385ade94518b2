"""Bulk import of an export of the JSS user table into the accounts table: one entry, ``AccountImport.run``.

Rows are checked in file order on the caller's thread (``shared.domain.jss_records``); the first row
to name an account id or a WhatsApp number keeps it, a later one is refused as a duplicate. Valid
rows go in chunks to a bounded pool of workers. Each chunk reads its accounts in one ``BatchGetItem``
and merges every row newest-wins per field (``shared.domain.account_mirror``), then writes:

- new accounts with ``BatchWriteItem`` (the bulk of a first import, and the fast path), after the
  claims on their WhatsApp numbers committed on condition. The accounts need no condition because
  the import holds the lease on account creation, which every other creator (the sync consumer)
  checks in its transaction, and the journeys never create accounts; a claim does, since any
  account may be binding that number right now;
- everything else (an update on the version read, a number moving) in transactions of up to 100
  parts, several rows each. A row whose condition fails is taken out and the rest committed; it is
  then merged again on a fresh read, or, when its number is held by another account, tried once
  more after every other row (a number moving between two accounts of the same export) and refused
  if still held.

Nothing is written for a refused row, and every write is idempotent, so running the same file again
changes nothing and a run stopped half way, run again, finishes the job. ``done_before`` lets a
resumed run skip the rows a checkpoint says are final; they are still read for the duplicate rules.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from shared.adapters.dynamo import ConditionFailed, Dynamo, back_off
from shared.domain.account_mirror import (
    IMPORT_LEASE_KEY,
    LEASE_FREE,
    AccountChanging,
    AccountMirror,
    NumberHeldElsewhere,
    Plan,
    plan,
    stage,
)
from shared.domain.accounts import account_key, number_claim_key
from shared.domain.jss_records import JssChange, read_account, refusal_of

_TRANSACTION_PARTS = 100
_RETRIES = 3


@dataclass(frozen=True)
class SourceRow:
    """A row as the file gave it: ``data``, or ``problem`` (a reason code) when it could not be read."""

    line: int
    data: dict[str, Any] | None = None
    problem: str | None = None


@dataclass(frozen=True)
class RowOutcome:
    line: int
    outcome: str  # created, updated, unchanged or refused
    reason: str | None = None
    field: str | None = None
    first_line: int | None = None  # the earlier row a duplicate lost to


@dataclass
class ImportSummary:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: RowOutcome) -> None:
        if outcome.outcome == "refused":
            self.refused[outcome.reason or "unknown"] += 1
        else:
            setattr(self, outcome.outcome, getattr(self, outcome.outcome) + 1)

    @property
    def imported(self) -> int:
        return self.created + self.updated


@dataclass(frozen=True)
class _Row:
    line: int
    change: JssChange


Planned = tuple[_Row, Plan]


class LeaseLost(RuntimeError):
    """Another import took the lease (ours had expired): unconditional writes are no longer safe."""


class ImportRunning(RuntimeError):
    """Another import holds the lease: two imports at once would write over each other's new accounts."""


class ImportLease:
    """The lease on creating accounts, held (and renewed in the background) for the whole run."""

    def __init__(self, db: Dynamo, table: str, seconds: int, clock: Callable[[], float]) -> None:
        self.db, self.table, self.seconds, self.clock = db, table, seconds, clock
        self.run_id = uuid.uuid4().hex
        self.valid_until = 0.0
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def acquire(self) -> None:
        """Raises ``ImportRunning`` when another import holds an unexpired lease."""
        try:
            self._write(self.clock(), LEASE_FREE)
        except ConditionFailed:
            raise ImportRunning(self.table) from None
        self._renewer = threading.Thread(target=self._keep, name="import-lease", daemon=True)
        self._renewer.start()

    def ensure(self) -> None:
        """Before unconditional writes: the lease must stay ours for a while longer yet."""
        if self.valid_until - self.clock() < self.seconds / 2:
            self.renew()

    def renew(self) -> None:
        try:
            self._write(self.clock(), "run_id = :run_id")
        except ConditionFailed:
            raise LeaseLost(self.run_id) from None

    def release(self) -> None:
        self._stop.set()
        with suppress(ConditionFailed):  # expired and taken over: nothing of ours to remove
            self.db.delete(self.table, IMPORT_LEASE_KEY, "run_id = :run_id", run_id=self.run_id)

    def _write(self, now: float, condition: str) -> None:
        expires_ms = int((now + self.seconds) * 1000)
        item = {**IMPORT_LEASE_KEY, "run_id": self.run_id, "expires_ms": expires_ms, "ttl": int(now) + 86400}
        values = {"now_ms": int(now * 1000)} if ":now_ms" in condition else {"run_id": self.run_id}
        self.db.put(self.table, item, condition, **values)
        self.valid_until = now + self.seconds

    def _keep(self) -> None:
        while not self._stop.wait(self.seconds / 4):
            try:
                self.renew()
            except Exception:  # ensure() stops the writers; this thread just stops renewing
                return


class AccountImport:
    def __init__(
        self,
        db: Dynamo,
        table: str,
        *,
        workers: int = 8,
        chunk_rows: int = 250,
        lease_seconds: int = 120,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.table = table
        self.workers = workers
        self.chunk_rows = chunk_rows
        self.clock = clock
        self.lease = ImportLease(db, table, lease_seconds, clock)
        self.mirror = AccountMirror(db, table, clock, attempts=_RETRIES, check_lease=False)
        self.last_line = 0

    def run(
        self,
        rows: Iterable[SourceRow],
        report: Callable[[RowOutcome], None],
        *,
        done_before: int = 0,
        checkpoint: Callable[[int], None] = lambda _line: None,
    ) -> ImportSummary:
        """Imports ``rows``; ``report`` hears every row's outcome (from ``done_before`` on), and
        ``checkpoint`` every line below which all outcomes are final."""
        summary = ImportSummary()

        def done(outcome: RowOutcome) -> None:
            summary.add(outcome)
            report(outcome)

        self.lease.acquire()
        try:
            deferred = self._write_chunks(self._checked(rows, summary, done, done_before), done, checkpoint)
            for outcome in self._write_waiting(deferred):
                done(outcome)
            checkpoint(self.last_line + 1)
        finally:
            self.lease.release()
        return summary

    def _checked(
        self, rows: Iterable[SourceRow], summary: ImportSummary, done: Callable[[RowOutcome], None], done_before: int
    ) -> Iterator[_Row]:
        """Valid rows, in order; refusals reported. The first row to name an account or a number keeps it."""
        accounts: dict[str, int] = {}
        numbers: dict[str, int] = {}
        now = self.clock()
        for source in rows:
            summary.read += 1
            self.last_line = source.line
            checked = self._check(source, accounts, numbers, now)
            if source.line < done_before:
                continue
            if isinstance(checked, RowOutcome):
                done(checked)
            else:
                yield checked

    def _check(
        self, source: SourceRow, accounts: dict[str, int], numbers: dict[str, int], now: float
    ) -> RowOutcome | _Row:
        """The row ready to write, or its refusal."""
        line = source.line
        if source.data is None:
            return RowOutcome(line, "refused", source.problem or "row_malformed")
        try:
            change = read_account(source.data, now)
        except ValidationError as error:
            refusal = refusal_of(error)
            return RowOutcome(line, "refused", refusal.reason, refusal.field)
        if (first := accounts.setdefault(change.account_id, line)) != line:
            return RowOutcome(line, "refused", "duplicate_account_id", "account_id", first)
        number = change.fields.get("whatsapp_number")
        if number and (first := numbers.setdefault(number, line)) != line:
            return RowOutcome(line, "refused", "duplicate_whatsapp_number", "whatsapp_number", first)
        return _Row(line, change)

    def _write_chunks(
        self, rows: Iterator[_Row], done: Callable[[RowOutcome], None], checkpoint: Callable[[int], None]
    ) -> list[_Row]:
        """Runs the chunks on the pool; reports their outcomes in order, and, once a chunk is settled,
        checkpoints the first line not yet final. Returns the rows whose number was held."""
        deferred: list[_Row] = []
        in_flight: list[tuple[int, Future[tuple[list[RowOutcome], list[_Row]]]]] = []
        slots = threading.BoundedSemaphore(self.workers * 2)  # bounds memory, not just threads

        def settle(block: bool) -> None:
            while in_flight and (block or in_flight[0][1].done()):
                outcomes, waiting = in_flight.pop(0)[1].result()
                for outcome in outcomes:
                    done(outcome)
                deferred.extend(waiting)
                if in_flight:  # everything before the next chunk is final, but what waits for a number
                    checkpoint(min([in_flight[0][0], *(row.line for row in deferred)]))

        with ThreadPoolExecutor(self.workers, thread_name_prefix="import") as pool:
            for chunk in _chunks(rows, self.chunk_rows):
                slots.acquire()
                future = pool.submit(self._write_chunk, chunk)
                future.add_done_callback(lambda _f: slots.release())
                in_flight.append((chunk[0].line, future))
                settle(block=False)
            settle(block=True)
        return deferred

    def _write_chunk(self, chunk: list[_Row]) -> tuple[list[RowOutcome], list[_Row]]:
        found = self.db.batch_get(self.table, [account_key(row.change.account_id) for row in chunk])
        current = {item["account_id"]: item for item in found}
        outcomes: list[RowOutcome] = []
        new: list[Planned] = []
        conditional: list[Planned] = []
        for row in chunk:
            planned = plan(current.get(row.change.account_id), row.change)
            if planned.item is None:
                outcomes.append(RowOutcome(row.line, planned.outcome))
            else:
                (new if planned.creates else conditional).append((row, planned))
        # A new account's number is claimed first, on condition; the account itself then follows
        # unconditionally. A run stopped in between leaves a claim the resumed run finds its own.
        claimed, again, waiting = self._commit([entry for entry in new if entry[1].claim], claim_only=True)
        unconditional = [entry for entry in new if not entry[1].claim] + claimed
        if unconditional:
            self.lease.ensure()
            self.db.batch_write(self.table, [planned.item for _, planned in unconditional if planned.item])
        committed, again_too, waiting_too = self._commit(conditional)
        outcomes += [RowOutcome(row.line, planned.outcome) for row, planned in unconditional + committed]
        waiting += waiting_too
        for row in again + again_too:
            outcome = self._write_alone(row)
            if outcome is None:
                waiting.append(row)
            else:
                outcomes.append(outcome)
        return outcomes, waiting

    def _commit(
        self, planned: list[Planned], *, claim_only: bool = False
    ) -> tuple[list[Planned], list[_Row], list[_Row]]:
        """Commits the plans (or only their claims) in shared transactions. Returns what committed,
        the rows to merge again on a fresh read, and the rows whose number another account holds."""
        committed: list[Planned] = []
        again: list[_Row] = []
        waiting: list[_Row] = []
        for group in _transaction_groups(planned, claim_only):
            remaining, attempt = group, 0
            while remaining:
                tx = self.db.transaction()
                for index, (_, plan_) in enumerate(remaining):
                    label = f"{index}:"
                    stage(tx, self.table, plan_, self.clock(), label=label, check_lease=False, claim_only=claim_only)
                try:
                    tx.commit()
                except ConditionFailed as failed:
                    failing: dict[int, set[str]] = {}
                    for label in failed.labels:
                        position, part = label.split(":")
                        failing.setdefault(int(position), set()).add(part)
                    if not failing:  # throttled, or clashing without a lost condition: all again
                        attempt += 1
                        if attempt > _RETRIES:  # still: each row on its own, on a fresh read
                            again += [row for row, _ in remaining]
                            break
                        back_off(attempt)
                        continue
                    for index, parts in failing.items():
                        row = remaining[index][0]
                        (waiting if parts == {"claim"} else again).append(row)
                    remaining = [entry for index, entry in enumerate(remaining) if index not in failing]
                    continue
                committed += remaining
                break
        return committed, again, waiting

    def _write_waiting(self, waiting: list[_Row]) -> Iterator[RowOutcome]:
        """The rows whose number another account held, once every other row is written: again and
        again while that frees numbers (a number passed along a chain of accounts), then the accounts
        swapping numbers among themselves in one transaction each; what is left is refused."""
        while waiting:
            still: list[_Row] = []
            for row in waiting:
                outcome = self._write_alone(row)
                if outcome is None:
                    still.append(row)
                else:
                    yield outcome
            if len(still) == len(waiting):
                break
            waiting = still
        swapped = yield from self._swap(waiting)
        for row in waiting:
            if row.line not in swapped:
                yield RowOutcome(row.line, "refused", "whatsapp_number_taken", "whatsapp_number")

    def _swap(self, waiting: list[_Row]) -> Generator[RowOutcome, None, set[int]]:
        """Commits each cycle of accounts that take each other's numbers (P takes Q's, Q takes P's) in
        one transaction, each claim taken only from its partner. Returns the lines that landed."""
        wants: dict[str, tuple[_Row, Plan, str]] = {}
        for row in waiting:
            planned = plan(self.db.get(self.table, account_key(row.change.account_id)), row.change)
            claim = self.db.get(self.table, number_claim_key(planned.claim)) if planned.claim else None
            if planned.item is not None and planned.expected_version is not None and claim:
                wants[row.change.account_id] = (row, planned, str(claim["account_id"]))
        landed: set[int] = set()
        for cycle in _cycles({account: holder for account, (_, _, holder) in wants.items()}):
            tx = self.db.transaction()
            for index, account in enumerate(cycle):
                _, planned, partner = wants[account]
                stage(tx, self.table, planned, self.clock(), label=f"{index}:", taking_from=partner)
            try:
                tx.commit()
            except ConditionFailed:
                continue  # one of them changed meanwhile: refused, a rerun merges again
            for account in cycle:
                row, planned, _ = wants[account]
                landed.add(row.line)
                yield RowOutcome(row.line, planned.outcome)
        return landed

    def _write_alone(self, row: _Row) -> RowOutcome | None:
        """One row on a fresh read. None when its number is held by another account."""
        try:
            return RowOutcome(row.line, self.mirror.apply(row.change))
        except NumberHeldElsewhere:
            return None
        except AccountChanging:
            return RowOutcome(row.line, "refused", "account_kept_changing")


def _chunks(rows: Iterator[_Row], size: int) -> Iterator[list[_Row]]:
    chunk: list[_Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _cycles(takes_from: dict[str, str]) -> list[list[str]]:
    """The cycles of "account takes the number of account": each account takes from at most one."""
    found: list[list[str]] = []
    seen: set[str] = set()
    for start in takes_from:
        path: list[str] = []
        account: str | None = start
        while account is not None and account not in seen and account not in path:
            path.append(account)
            account = takes_from.get(account)
        seen.update(path)
        if account is not None and account in path:
            cycle = path[path.index(account) :]
            if len(cycle) * 2 <= _TRANSACTION_PARTS:
                found.append(cycle)
    return found


def _transaction_groups(planned: list[Planned], claim_only: bool) -> Iterator[list[Planned]]:
    """Rows packed into transactions of at most 100 parts, no item twice in one transaction."""
    group: list[Planned] = []
    keys: set[str] = set()
    parts = 0
    for row, plan_ in planned:
        own = plan_.keys(claim_only=claim_only)
        if group and (parts + len(own) > _TRANSACTION_PARTS or keys.intersection(own)):
            yield group
            group, keys, parts = [], set(), 0
        group.append((row, plan_))
        keys.update(own)
        parts += len(own)
    if group:
        yield group
