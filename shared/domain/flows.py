"""The flows of journeys A (migrate to WhatsApp) and B1 (change the number through WhatsApp): the
item and its states, what the app and the blue link see of it, and its reads and writes
(``FlowRecords``). The journeys themselves: ``shared.domain.whatsapp_flows``.

Only a keyed hash of a link token is stored; the number proposed in B1 waits on the flow sealed with
the token (``shared.domain.sealing``). Every read checks expiry itself, because DynamoDB removes expired
items lazily and DynamoDB Local never does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shared.adapters.dynamo import ConditionFailed, Dynamo, Item, ItemRef, Transaction
from shared.adapters.keys import keyed_hash
from shared.config import Settings
from shared.domain.accounts import Account, AccountRegistry, account_from_item
from shared.domain.open_items import OpenPointer, replace_open_item
from shared.domain.phone import mask_number
from shared.errors import ServiceError

MIGRATION_SUCCESS = "Migrasi akun aplikasi Jogja Smart Service berhasil"
CHANGE_SUCCESS = "Pergantian No. WhatsApp Berhasil"

# A link token is 24 random bytes (192 bits) in base64url: 32 characters.
TOKEN_BYTES = 24
TOKEN_FORMAT = re.compile(r"[A-Za-z0-9_-]{32}")
_TOKEN_CANDIDATE = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32}(?![A-Za-z0-9_-])")
_MAX_CANDIDATES = 3


class FlowKind(StrEnum):
    MIGRATION = "migration"
    NUMBER_CHANGE = "number_change"

    @property
    def link_prefix(self) -> str:
        return "m" if self is FlowKind.MIGRATION else "c"


class FlowStatus(StrEnum):
    PENDING = "pending"
    AWAITING_PASSWORD = "awaiting_password"  # noqa: S105 - a state, not a secret
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    LOCKED = "locked"


class FailureReason(StrEnum):
    FORWARDED = "forwarded_message"
    ACCOUNT_GONE = "account_not_found"
    SENDER_NUMBER_HIDDEN = "sender_number_hidden"
    NUMBER_TAKEN = "number_taken"
    SAME_NUMBER = "same_number"
    ALREADY_LINKED = "whatsapp_already_linked"
    MESSAGE_AFTER_EXPIRY = "message_after_expiry"
    REPLACED = "replaced_by_newer_request"
    PROPOSAL_UNREADABLE = "proposal_unreadable"


OPEN_STATES = (FlowStatus.PENDING, FlowStatus.AWAITING_PASSWORD)


@dataclass(frozen=True)
class Flow:
    flow_id: str
    kind: FlowKind
    account_id: str
    status: FlowStatus
    created_at: int
    expires_at: int
    reason: str | None = None
    finished_at: int | None = None
    number_masked: str | None = None
    password_attempts: int = 0
    proposed_sealed: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Flow:
        return cls(
            flow_id=item["flow_id"],
            kind=FlowKind(item["kind"]),
            account_id=item["account_id"],
            status=FlowStatus(item["status"]),
            created_at=int(item["created_at"]),
            expires_at=int(item["expires_at"]),
            reason=item.get("reason"),
            finished_at=item.get("finished_at"),
            number_masked=item.get("number_masked"),
            password_attempts=int(item.get("password_attempts", 0)),
            proposed_sealed=item.get("proposed_sealed"),
        )

    def status_at(self, now: float) -> FlowStatus:
        if self.status in OPEN_STATES and now >= self.expires_at:
            return FlowStatus.EXPIRED
        return self.status


@dataclass(frozen=True)
class OpenedFlow:
    """A flow read together with its account (None once the account is deleted) and the ``extra``
    items its reader asked for in the same read, in the order asked (None where there is none)."""

    flow: Flow
    account: Account | None
    extra: list[Item | None] = field(default_factory=list)


ExtraItems = Callable[[str, FlowKind], list[ItemRef]]
"""The items a reader wants read with a flow, given the flow's account and kind."""


def no_extra(_account_id: str, _kind: FlowKind) -> list[ItemRef]:
    return []


@dataclass(frozen=True)
class StartedFlow:
    flow_id: str
    status: FlowStatus
    whatsapp_url: str
    message: str
    link_url: str
    expires_at: int


@dataclass(frozen=True)
class LinkView:
    """What the blue link shows, in every state of its flow."""

    kind: FlowKind
    status: FlowStatus
    account_masked: str | None
    """How the citizen recognises the account: the masked email, else the name shortened."""
    account_has_email: bool = False
    number_masked: str | None = None
    reason: str | None = None
    tries_left: int | None = None
    success_message: str | None = None
    expires_at: int | None = None
    password_locked_until: int | None = None
    """While too many wrong passwords lock confirmation for the account (B1)."""


@dataclass(frozen=True)
class ConfirmResult:
    """The page after a password try: ``error`` says why the try was refused, if it was."""

    view: LinkView
    error: ServiceError | None = None


@dataclass(frozen=True)
class InboundMessage:
    """One text message from a WhatsApp user, as the webhook extracted it."""

    message_id: str
    sender: str | None
    text: str
    forwarded: bool
    sent_at: int
    sender_user_id: str | None = None
    """WhatsApp's business-scoped id of the sender: the only name of a sender whose number is hidden."""


def flow_key(flow_id: str) -> dict[str, str]:
    return {"pk": f"FLOW#{flow_id}"}


def link_key(token: str) -> dict[str, str]:
    return {"pk": f"LINK#{keyed_hash('link', token)}"}


def open_flow_key(account_id: str, kind: FlowKind) -> dict[str, str]:
    return {"pk": f"ACTIVE#{kind}#{account_id}"}


class FlowRecords:
    """The flow items, their links and the account's open-flow pointer in the tokens table."""

    def __init__(self, db: Dynamo, settings: Settings, clock: Callable[[], float]) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.table = settings.tokens_table
        self.accounts = AccountRegistry(db, settings)

    def get(self, flow_id: str) -> Flow | None:
        item = self.db.get(self.table, flow_key(flow_id))
        return Flow.from_item(item) if item else None

    def read(self, flow_id: str, account_id: str, *extra: ItemRef) -> OpenedFlow | None:
        """The flow with its account and ``extra`` items, in one batch read."""
        flow, account, *more = self.db.batch_read(
            [(self.table, flow_key(flow_id)), self.accounts.ref(account_id), *extra]
        )
        return OpenedFlow(Flow.from_item(flow), account_from_item(account), more) if flow else None

    def by_link(self, token: str, extra: ExtraItems = no_extra) -> OpenedFlow | None:
        """The flow a link token opens, with its account and the ``extra`` items: the link, then one
        batch read. A token not of the link format opens none (and costs no read)."""
        if not TOKEN_FORMAT.fullmatch(token):
            return None
        link = self.db.get(self.table, link_key(token))
        if link is None:
            return None
        if "account_id" not in link:  # written before links named the account: the flow tells it
            flow = self.get(link["flow_id"])
            if flow is None:
                return None
            account, *more = self.db.batch_read(
                [self.accounts.ref(flow.account_id), *extra(flow.account_id, flow.kind)]
            )
            return OpenedFlow(flow, account_from_item(account), more)
        account_id = link["account_id"]
        return self.read(link["flow_id"], account_id, *extra(account_id, FlowKind(link["kind"])))

    def in_text(self, text: str, extra: ExtraItems = no_extra) -> tuple[OpenedFlow, str] | None:
        """The flow whose link token a message carries (read as ``by_link`` does), and the token."""
        # People edit the draft, so look for the token anywhere; a few lookups at most per message.
        for candidate in _TOKEN_CANDIDATE.findall(text)[:_MAX_CANDIDATES]:
            if opened := self.by_link(candidate, extra):
                return opened, candidate
        return None

    def open_flow_ref(self, account_id: str, kind: FlowKind) -> ItemRef:
        """Where the account's open-flow pointer is, for a batch read (``OpenPointer.of`` reads it)."""
        return self.table, open_flow_key(account_id, kind)

    def open(self, flow: Flow, token: str, seen: OpenPointer | None = None) -> None:
        """Writes the flow and its link, replacing the account's open flow of the same kind
        (``seen``: its pointer, if read already)."""
        table = self.table
        keep_for = self.settings.flow_ttl_seconds + self.settings.result_view_seconds

        def write_new(tx: Transaction) -> None:
            item = {
                **flow_key(flow.flow_id),
                "flow_id": flow.flow_id,
                "kind": str(flow.kind),
                "account_id": flow.account_id,
                "status": str(flow.status),
                "created_at": flow.created_at,
                "expires_at": flow.expires_at,
                "ttl": flow.created_at + keep_for,
            }
            tx.put("flow", table, item, "attribute_not_exists(pk)")
            # The link names the account and kind too, so its readers fetch flow and account at once.
            link = {"flow_id": flow.flow_id, "account_id": flow.account_id, "kind": str(flow.kind)}
            tx.put("link", table, {**link_key(token), **link, "ttl": flow.expires_at})

        def close_previous(tx: Transaction, previous_id: str) -> None:
            previous = self.get(previous_id)
            if previous and previous.status in OPEN_STATES:
                self.stage_finish(
                    tx, previous, FlowStatus.FAILED, flow.created_at, reason=FailureReason.REPLACED, remove_sealed=True
                )

        replace_open_item(
            self.db,
            table,
            open_flow_key(flow.account_id, flow.kind),
            flow.flow_id,
            flow.expires_at,
            write_new=write_new,
            close_previous=close_previous,
            seen=seen,
        )

    def await_password(self, flow: Flow, number: str, sealed: str) -> bool:
        """B1: the proposed number, masked and sealed, on the pending flow; False when it is not pending."""
        try:
            self.db.update(
                self.table,
                flow_key(flow.flow_id),
                "SET #status = :next, number_masked = :masked, proposed_sealed = :sealed",
                "#status = :pending",
                next=str(FlowStatus.AWAITING_PASSWORD),
                masked=mask_number(number),
                sealed=sealed,
                pending=str(FlowStatus.PENDING),
            )
        except ConditionFailed:
            return False
        return True

    def add_password_try(self, flow: Flow) -> int:
        """Counts a password try on a flow awaiting one with tries left; ``ConditionFailed`` otherwise."""
        item = self.db.update(
            self.table,
            flow_key(flow.flow_id),
            "ADD password_attempts :one",
            "#status = :awaiting AND (attribute_not_exists(password_attempts) OR password_attempts < :max)",
            one=1,
            awaiting=str(FlowStatus.AWAITING_PASSWORD),
            max=self.settings.password_tries_per_flow,
        )
        return int(item["password_attempts"])

    def stage_finish(
        self,
        tx: Transaction,
        flow: Flow,
        status: FlowStatus,
        now: int,
        *,
        number: str | None = None,
        reason: FailureReason | None = None,
        remove_sealed: bool = False,
        expected: FlowStatus | None = None,
    ) -> None:
        """Adds to ``tx`` the move of an open flow to a final state, on condition it is still in the
        state it was read in (or ``expected``)."""
        assignments = ["#status = :status", "finished_at = :now"]
        values: dict[str, Any] = {"status": str(status), "now": now, "expected": str(expected or flow.status)}
        if reason is not None:
            assignments.append("reason = :reason")
            values["reason"] = str(reason)
        if number is not None:
            assignments.append("number_masked = :masked")
            values["masked"] = mask_number(number)
        expression = "SET " + ", ".join(assignments) + (" REMOVE proposed_sealed" if remove_sealed else "")
        tx.update("flow", self.table, flow_key(flow.flow_id), expression, "#status = :expected", **values)

    def finish(
        self,
        flow: Flow,
        status: FlowStatus,
        reason: FailureReason | None,
        number: str | None = None,
        expected: FlowStatus = FlowStatus.PENDING,
    ) -> None:
        """Ends the flow unless someone else ended it first (their outcome stands). A sealed
        proposed number goes with it."""
        tx = self.db.transaction()
        now = int(self.clock())
        self.stage_finish(tx, flow, status, now, number=number, reason=reason, remove_sealed=True, expected=expected)
        with suppress(ConditionFailed):
            tx.commit()
