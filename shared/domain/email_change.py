"""Journey B2: change the WhatsApp number after proving control of the registered email.

A 6-digit code goes to the email; the right code buys a single-use change token (ten minutes, bound
to the account); the token and the new number change the number in one transaction. Codes and
tokens are stored only as keyed hashes, and every try is counted before it is compared.
"""

from __future__ import annotations

import hmac
import secrets
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from shared.adapters.dynamo import ConditionFailed, Dynamo, Transaction
from shared.adapters.keys import keyed_hash
from shared.adapters.mail import Mailer, MailNotSent
from shared.adapters.whatsapp_outbox import WhatsAppOutbox
from shared.config import Settings
from shared.domain.accounts import Account, ChangeMethod, account_from_item, mask_email, required
from shared.domain.change_notices import ChangeNotices
from shared.domain.journey import Journey
from shared.domain.limits import LimitReached, Recorded, Window
from shared.domain.notifications import verification_code_email
from shared.domain.number_change import refuse_while_blocked
from shared.domain.open_items import OpenPointer, replace_open_item
from shared.domain.phone import display_number, parse_whatsapp_number
from shared.errors import ServiceError
from shared.observability import logger, metrics, tracer

EMAIL_CHANGE_SUCCESS = "Data No. Whatsapp Berhasil diperbarui"
CODE_DIGITS = 6


class CodeStatus:
    SENDING = "sending"  # stored before the email goes out; never accepted
    ACTIVE = "active"
    USED = "used"
    SUPERSEDED = "superseded"
    EXHAUSTED = "exhausted"


_REFUSED = {
    CodeStatus.USED: "code_used",
    CodeStatus.SUPERSEDED: "code_superseded",
    CodeStatus.EXHAUSTED: "code_exhausted",
}


@dataclass(frozen=True)
class CodeSent:
    verification_id: str
    sent_to: str
    expires_at: int
    resend_after: int


@dataclass(frozen=True)
class ChangePermit:
    change_token: str
    expires_at: int


@dataclass(frozen=True)
class NumberUpdated:
    whatsapp_number: str
    display: str
    message: str = EMAIL_CHANGE_SUCCESS


def new_code() -> str:
    """Six digits from the OS's CSPRNG; ``randbelow`` keeps every digit equally likely."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def verification_key(verification_id: str) -> dict[str, str]:
    return {"pk": f"VERIFICATION#{verification_id}"}


def change_token_key(token: str) -> dict[str, str]:
    return {"pk": f"CHANGE#{keyed_hash('change', token)}"}


def _active_code_key(account_id: str) -> dict[str, str]:
    return {"pk": f"ACTIVE#email_code#{account_id}"}


class EmailNumberChange(Journey):
    def __init__(
        self,
        db: Dynamo,
        settings: Settings,
        mailer: Mailer,
        clock: Callable[[], float] = time.time,
        outbox: WhatsAppOutbox | None = None,
    ) -> None:
        super().__init__(db, settings, mailer, clock, outbox)
        self.resend_window = Window(1, settings.email_code_resend_seconds)
        self.hourly_window = Window(settings.email_codes_per_hour, 3600)

    # ----------------------------------------------------------------- 1. send a code

    @tracer.capture_method(capture_response=False)
    def send_code(self, account_id: str) -> CodeSent:
        limit_name = f"email_code#{account_id}"
        table = self.settings.tokens_table
        # What sending reads, in one round trip: the account, its codes sent lately, its open code.
        account_item, sent, open_code = self.db.batch_read(
            [self.accounts.ref(account_id), self.limiter.ref(limit_name), (table, _active_code_key(account_id))]
        )
        account = required(account_from_item(account_item))
        if not account.email:
            raise ServiceError("email_not_registered")
        if not account.whatsapp_number:
            raise ServiceError("migration_required")
        now = round(self.clock(), 3)
        refuse_while_blocked(account, now)  # said before a code is sent that could not be used
        try:
            self.limiter.hit(limit_name, [self.resend_window, self.hourly_window], now, Recorded.of(sent))
        except LimitReached as limit:
            code = "code_resend_too_soon" if limit.window is self.resend_window else "code_hourly_limit"
            raise ServiceError(code, retry_after=limit.retry_after) from None

        code = new_code()
        verification_id = str(uuid.uuid4())
        expires_at = int(now) + self.settings.email_code_ttl_seconds
        self.db.put(
            table,
            {
                **verification_key(verification_id),
                "verification_id": verification_id,
                "account_id": account_id,
                "code_hash": keyed_hash("email_code", f"{verification_id}:{code}"),
                "status": CodeStatus.SENDING,
                "attempts": 0,
                "created_at": int(now),
                "expires_at": expires_at,
                "ttl": expires_at + 86400,
            },
        )
        try:
            self.mailer.send(account.email, verification_code_email(code, self.settings.email_code_ttl_seconds // 60))
        except MailNotSent as error:
            # Nothing stays usable and the try does not count, so the citizen can simply ask again.
            self.db.delete(table, verification_key(verification_id))
            self.limiter.remove(limit_name, now)
            metrics.add_metric(name="VerificationEmailNotSent", unit="Count", value=1)
            logger.warning("verification email not sent", extra={"error": str(error)})
            raise ServiceError("email_send_failed", retry_after=30) from error
        self._activate(account_id, verification_id, expires_at, OpenPointer.of(open_code))
        metrics.add_metric(name="VerificationCodeSent", unit="Count", value=1)
        return CodeSent(
            verification_id=verification_id,
            sent_to=mask_email(account.email),
            expires_at=expires_at,
            resend_after=int(now) + self.settings.email_code_resend_seconds,
        )

    def _activate(self, account_id: str, verification_id: str, expires_at: int, seen: OpenPointer) -> None:
        """Makes the new code the only usable one: the previous active code is superseded. ``seen``:
        the account's open-code pointer as read before the code was sent."""
        table = self.settings.tokens_table

        def activate_new(tx: Transaction) -> None:
            tx.update(
                "code",
                table,
                verification_key(verification_id),
                "SET #status = :active",
                "#status = :sending",
                active=CodeStatus.ACTIVE,
                sending=CodeStatus.SENDING,
            )

        def supersede(tx: Transaction, previous: str) -> None:
            earlier = self._code(previous)
            if earlier and earlier["status"] == CodeStatus.ACTIVE:
                tx.update(
                    "previous",
                    table,
                    verification_key(previous),
                    "SET #status = :superseded",
                    "#status = :active",
                    superseded=CodeStatus.SUPERSEDED,
                    active=CodeStatus.ACTIVE,
                )

        replace_open_item(
            self.db,
            table,
            _active_code_key(account_id),
            verification_id,
            expires_at,
            write_new=activate_new,
            close_previous=supersede,
            seen=seen,
        )

    # ----------------------------------------------------------------- 2. check the code

    @tracer.capture_method(capture_response=False)
    def verify_code(self, account_id: str, verification_id: str, code: str) -> ChangePermit:
        item = self._code(verification_id)
        if item is None or item["account_id"] != account_id or item["status"] == CodeStatus.SENDING:
            raise ServiceError("verification_not_found")
        self._refuse_unusable(item)
        attempts = self._count_try(verification_id)
        expected = item["code_hash"]
        given = keyed_hash("email_code", f"{verification_id}:{code}")
        if not hmac.compare_digest(expected, given):
            metrics.add_metric(name="WrongEmailCode", unit="Count", value=1)
            tries_left = self.settings.email_code_tries - attempts
            if tries_left <= 0:
                self._set_status(verification_id, CodeStatus.ACTIVE, CodeStatus.EXHAUSTED)
                raise ServiceError("code_exhausted")
            raise ServiceError("code_wrong", tries_left=tries_left)
        return self._issue_change_token(account_id, verification_id)

    def _refuse_unusable(self, item: dict[str, Any]) -> None:
        if item["status"] in _REFUSED:
            raise ServiceError(_REFUSED[item["status"]])
        if self.clock() >= item["expires_at"]:
            raise ServiceError("code_expired")

    def _count_try(self, verification_id: str) -> int:
        """Counts the try before comparing; a code with no tries left never gets compared."""
        try:
            item = self.db.update(
                self.settings.tokens_table,
                verification_key(verification_id),
                "ADD attempts :one",
                "#status = :active AND attempts < :max",
                one=1,
                active=CodeStatus.ACTIVE,
                max=self.settings.email_code_tries,
            )
        except ConditionFailed:
            current = self._code(verification_id) or {"status": CodeStatus.EXHAUSTED, "expires_at": 0}
            if current["status"] == CodeStatus.ACTIVE:
                self._set_status(verification_id, CodeStatus.ACTIVE, CodeStatus.EXHAUSTED)
                current["status"] = CodeStatus.EXHAUSTED
            self._refuse_unusable(current)
            raise
        return int(item["attempts"])

    def _issue_change_token(self, account_id: str, verification_id: str) -> ChangePermit:
        token = secrets.token_urlsafe(32)
        now = int(self.clock())
        expires_at = now + self.settings.change_token_ttl_seconds
        table = self.settings.tokens_table
        tx = self.db.transaction()
        tx.update(
            "code",
            table,
            verification_key(verification_id),
            "SET #status = :used",
            "#status = :active",
            used=CodeStatus.USED,
            active=CodeStatus.ACTIVE,
        )
        tx.put(
            "token",
            table,
            {
                **change_token_key(token),
                "account_id": account_id,
                "verification_id": verification_id,
                "status": CodeStatus.ACTIVE,
                "expires_at": expires_at,
                "ttl": expires_at + 3600,
            },
        )
        try:
            tx.commit()
        except ConditionFailed:
            raise ServiceError("code_used") from None  # a parallel request used the code first
        return ChangePermit(change_token=token, expires_at=expires_at)

    # ----------------------------------------------------------------- 3. change the number

    @tracer.capture_method(capture_response=False)
    def change_number(self, account_id: str, change_token: str, typed_number: str) -> NumberUpdated:
        new_number = parse_whatsapp_number(typed_number)
        if new_number == self.settings.whatsapp_business_number:
            raise ServiceError("whatsapp_number_is_city")
        # The account comes with the permit, in one read, for the change's first attempt.
        permit, account_item = self.db.batch_read(
            [(self.settings.tokens_table, change_token_key(change_token)), self.accounts.ref(account_id)]
        )
        if (
            permit is None
            or permit["account_id"] != account_id
            or permit["status"] != CodeStatus.ACTIVE
            or self.clock() >= permit["expires_at"]
        ):
            raise ServiceError("change_token_invalid")

        # A number another account holds is refused by the claim's condition in the transaction
        # (``claim`` below): no need to read the claim first.
        def check(account: Account) -> None:
            if new_number == account.whatsapp_number:
                raise ServiceError("whatsapp_number_unchanged")

        def consume_permit(tx: Transaction, now: int) -> None:
            tx.update(
                "permit",
                self.settings.tokens_table,
                change_token_key(change_token),
                "SET #status = :used, used_at = :now",
                "#status = :active AND account_id = :account AND expires_at > :now",
                used=CodeStatus.USED,
                active=CodeStatus.ACTIVE,
                account=account_id,
                now=now,
            )

        try:
            done = self.number_changes.commit(
                account_id,
                new_number,
                ChangeMethod.EMAIL_CHANGE,
                permit["verification_id"],
                clock=self.clock,
                check=check,
                stage=consume_permit,
                known=account_from_item(account_item),
            )
        except ConditionFailed as failed:
            if "permit" in failed.labels:
                raise ServiceError("change_token_invalid") from None  # used a moment ago
            if "claim" in failed.labels:
                raise ServiceError("whatsapp_number_taken") from None
            raise
        metrics.add_metric(name="EmailNumberChangeCompleted", unit="Count", value=1)
        ChangeNotices(self.mailer, self.settings, self.outbox).number_changed(done, EMAIL_CHANGE_SUCCESS, new_number)
        return NumberUpdated(whatsapp_number=new_number, display=display_number(new_number))

    # ----------------------------------------------------------------- helpers

    def _code(self, verification_id: str) -> dict[str, Any] | None:
        return self.db.get(self.settings.tokens_table, verification_key(verification_id))

    def _set_status(self, verification_id: str, expected: str, status: str) -> None:
        with suppress(ConditionFailed):
            self.db.update(
                self.settings.tokens_table,
                verification_key(verification_id),
                "SET #status = :status",
                "#status = :expected",
                status=status,
                expected=expected,
            )
