"""Journey B2 (a 6-digit code to the registered email, then a new WhatsApp number) on moto, with a
fake clock and moto's SES. ``EmailNumberChange`` is built directly, no HTTP layer."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shared.adapters.dynamo import Dynamo, from_attributes
from shared.adapters.keys import keyed_hash, number_fingerprint
from shared.adapters.mail import Mailer
from shared.config import Settings
from shared.domain import email_change
from shared.domain.accounts import Account, AccountRegistry, account_key
from shared.domain.email_change import (
    EMAIL_CHANGE_SUCCESS,
    ChangePermit,
    CodeSent,
    EmailNumberChange,
    change_token_key,
    new_code,
    verification_key,
)
from shared.domain.notifications import verification_code_email
from shared.domain.number_change import NumberChanges
from shared.errors import ServiceError

CURRENT_WA = "+6285712345678"  # the account's WhatsApp number before the change
NEW_WA = "+6281234567890"  # the number the citizen types, in any spelling
NEIGHBOUR_WA = "+6281311112222"  # held by another account
FREE_WA = "+6287899990001"

Scan = Callable[[str], list[dict[str, Any]]]
MakeAccount = Callable[..., Account]


# ----------------------------------------------------------------- fixtures and helpers


class SesSpy:
    """moto's SES v2 client, recording every SendEmail it accepted. Setting ``refuse`` makes it fail
    the way a throttled SES does, without touching moto."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.requests: list[dict[str, Any]] = []
        self.refuse: ClientError | None = None

    def send_email(self, **request: Any) -> Any:
        if self.refuse is not None:
            raise self.refuse
        response = self._client.send_email(**request)
        self.requests.append(request)
        return response


THROTTLED = ClientError(
    {"Error": {"Code": "TooManyRequestsException", "Message": "Maximum sending rate exceeded."}}, "SendEmail"
)


@pytest.fixture
def ses(aws: Any) -> SesSpy:
    return SesSpy(aws.sesv2)


@pytest.fixture
def service(db: Dynamo, config: Settings, ses: SesSpy, clock: Any) -> EmailNumberChange:
    return EmailNumberChange(db, config, Mailer(config.mail_from, ses), clock=clock)  # type: ignore[arg-type]


@pytest.fixture
def citizen(make_account: MakeAccount) -> Account:
    return make_account("jss-2001", email="budi@example.com", whatsapp_number=CURRENT_WA)


@pytest.fixture
def neighbour(make_account: MakeAccount) -> Account:
    return make_account("jss-2002", email="sari@example.com", whatsapp_number=NEIGHBOUR_WA)


class Outage:
    """SES refusing to send, in two ways: moto rejecting an unverified sender, or a throttled client."""

    def __init__(self, kind: str, aws: Any, ses: SesSpy, sender: str) -> None:
        self.kind, self.aws, self.ses, self.sender = kind, aws, ses, sender

    def begin(self) -> None:
        if self.kind == "sender_unverified":
            self.aws.sesv2.delete_email_identity(EmailIdentity=self.sender)
        else:
            self.ses.refuse = THROTTLED

    def end(self) -> None:
        if self.kind == "sender_unverified":
            self.aws.sesv2.create_email_identity(EmailIdentity=self.sender)
        else:
            self.ses.refuse = None


@pytest.fixture(params=["sender_unverified", "throttled"])
def outage(request: pytest.FixtureRequest, aws: Any, ses: SesSpy, config: Settings) -> Outage:
    return Outage(request.param, aws, ses, config.mail_from)


def text_of(request: dict[str, Any]) -> str:
    return str(request["Content"]["Simple"]["Body"]["Text"]["Data"])


def html_of(request: dict[str, Any]) -> str:
    return str(request["Content"]["Simple"]["Body"]["Html"]["Data"])


def subject_of(request: dict[str, Any]) -> str:
    return str(request["Content"]["Simple"]["Subject"]["Data"])


def last_code(ses: SesSpy) -> str:
    """The code as the citizen reads it in the last email."""
    [code] = re.findall(r"\b\d{6}\b", text_of(ses.requests[-1]))
    return code


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def items(scan: Scan, table: str) -> list[dict[str, Any]]:
    return [from_attributes(item) for item in scan(table)]


def verifications(scan: Scan) -> list[dict[str, Any]]:
    return [i for i in items(scan, "TokensTable") if i["pk"].startswith("VERIFICATION#")]


def stored(db: Dynamo, config: Settings, verification_id: str) -> dict[str, Any]:
    item = db.get(config.tokens_table, verification_key(verification_id))
    assert item is not None
    return item


def send(service: EmailNumberChange, ses: SesSpy, account_id: str) -> tuple[CodeSent, str]:
    sent = service.send_code(account_id)
    return sent, last_code(ses)


def permit_for(service: EmailNumberChange, ses: SesSpy, account_id: str) -> ChangePermit:
    sent, code = send(service, ses, account_id)
    return service.verify_code(account_id, sent.verification_id, code)


def refused(call: Callable[[], Any], code: str) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call()
    assert caught.value.code == code, caught.value.code
    return caught.value


def audit_records(scan: Scan, account_id: str) -> list[dict[str, Any]]:
    return [i for i in items(scan, "AuditTable") if i["account_id"] == account_id]


# ================================================================= new_code


@pytest.mark.parametrize(("drawn", "expected"), [(42, "000042"), (0, "000000"), (7, "000007"), (999_999, "999999")])
def test_new_code_asks_the_csprng_for_a_million_and_keeps_leading_zeros(
    monkeypatch: pytest.MonkeyPatch, drawn: int, expected: str
) -> None:
    asked: list[int] = []

    def randbelow(bound: int) -> int:
        asked.append(bound)
        return drawn

    monkeypatch.setattr(email_change.secrets, "randbelow", randbelow)
    assert new_code() == expected
    assert asked == [10**6]


def test_new_code_is_six_ascii_digits_with_every_digit_equally_likely_at_each_position() -> None:
    draws = 20_000
    codes = [new_code() for _ in range(draws)]
    for code in codes:
        assert len(code) == 6
        assert code.isascii()
        assert code.isdigit()
    expected = draws / 10  # 2000, standard deviation about 42: the bounds are more than 7 sigma away
    for position in range(6):
        counts = Counter(code[position] for code in codes)
        assert set(counts) == set("0123456789"), (position, counts)
        for digit, count in counts.items():
            assert 0.85 * expected <= count <= 1.15 * expected, (position, digit, count)
    assert len(set(codes)) > 19_000  # about 19 800 distinct codes are expected from 10**6


# ================================================================= 1. send a code


def test_send_code_emails_the_code_and_stores_only_a_keyed_hash(
    service: EmailNumberChange,
    citizen: Account,
    clock: Any,
    config: Settings,
    ses: SesSpy,
    scan: Scan,
    sent_mail: Callable[[], list[Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(email_change.secrets, "randbelow", lambda _bound: 479_136)
    now = int(clock.now)

    sent = service.send_code(citizen.account_id)

    assert sent.sent_to == "b***i@example.com"
    assert sent.expires_at == now + 600 == now + config.email_code_ttl_seconds
    assert sent.resend_after == now + 60
    uuid.UUID(sent.verification_id)

    [request] = ses.requests
    assert request["Destination"] == {"ToAddresses": ["budi@example.com"]}
    assert request["FromEmailAddress"] == config.mail_from
    assert "479136" in text_of(request)
    assert "479136" in html_of(request)
    assert "479136" not in subject_of(request)
    assert "10 menit" in text_of(request)
    [mail] = sent_mail()  # moto's SES accepted exactly one message
    assert mail.destinations["ToAddresses"] == ["budi@example.com"]
    assert "479136" in mail.body
    assert "479136" not in mail.subject

    dump = json.dumps(scan("TokensTable"))
    assert "479136" not in dump
    item = stored(service.db, config, sent.verification_id)
    assert item["code_hash"] == keyed_hash("email_code", f"{sent.verification_id}:479136")
    assert item["status"] == "active"
    assert item["attempts"] == 0
    assert item["account_id"] == citizen.account_id


@pytest.mark.parametrize("whatsapp_number", [CURRENT_WA, None])
def test_send_code_needs_a_registered_email(
    service: EmailNumberChange, make_account: MakeAccount, ses: SesSpy, scan: Scan, whatsapp_number: str | None
) -> None:
    account = make_account("jss-2003", email=None, whatsapp_number=whatsapp_number)
    error = refused(lambda: service.send_code(account.account_id), "email_not_registered")
    assert error.status == 409
    assert ses.requests == []
    assert verifications(scan) == []


def test_send_code_needs_a_whatsapp_number_first(
    service: EmailNumberChange, make_account: MakeAccount, ses: SesSpy, scan: Scan
) -> None:
    account = make_account("jss-2004", email="budi@example.com", whatsapp_number=None)
    refused(lambda: service.send_code(account.account_id), "migration_required")
    assert ses.requests == []
    assert verifications(scan) == []


def test_send_code_for_an_unknown_account(service: EmailNumberChange, ses: SesSpy) -> None:
    refused(lambda: service.send_code("nobody"), "account_not_found")
    assert ses.requests == []


def test_no_new_code_sooner_than_60_seconds(
    service: EmailNumberChange, citizen: Account, clock: Any, ses: SesSpy
) -> None:
    first = service.send_code(citizen.account_id)

    clock.advance(10)
    error = refused(lambda: service.send_code(citizen.account_id), "code_resend_too_soon")
    assert error.status == 429
    assert error.retry_after is not None
    assert 0 < error.retry_after <= 60
    assert error.retry_after == 50
    clock.advance(49)
    assert refused(lambda: service.send_code(citizen.account_id), "code_resend_too_soon").retry_after == 1
    assert len(ses.requests) == 1

    clock.advance(1)  # exactly resend_after
    assert int(clock.now) == first.resend_after
    service.send_code(citizen.account_id)
    assert len(ses.requests) == 2


def test_at_most_five_codes_an_hour(service: EmailNumberChange, citizen: Account, clock: Any, ses: SesSpy) -> None:
    start = clock.now
    for _ in range(5):
        service.send_code(citizen.account_id)
        clock.advance(61)

    error = refused(lambda: service.send_code(citizen.account_id), "code_hourly_limit")
    assert error.status == 429
    assert error.retry_after is not None
    assert error.retry_after > 60
    assert error.retry_after == int(start + 3600 - clock.now)
    assert len(ses.requests) == 5

    clock.now = start + 3600  # the first code leaves the window
    service.send_code(citizen.account_id)
    assert len(ses.requests) == 6


def test_ses_refusing_leaves_no_code_and_does_not_count(
    service: EmailNumberChange, citizen: Account, clock: Any, ses: SesSpy, scan: Scan, outage: Outage
) -> None:
    clock.now += 0.4567  # like time.time(): the hit taken back must be the very one recorded
    outage.begin()
    for _ in range(6):  # more than both limits: failed tries must not count against either
        error = refused(lambda: service.send_code(citizen.account_id), "email_send_failed")
        assert error.status == 503
        assert verifications(scan) == []
    assert ses.requests == []
    assert not [i for i in items(scan, "TokensTable") if i["pk"].startswith("ACTIVE#")]

    outage.end()
    sent, code = send(service, ses, citizen.account_id)  # at the same moment: the failures did not count
    assert [v["status"] for v in verifications(scan)] == ["active"]
    assert service.verify_code(citizen.account_id, sent.verification_id, code).change_token


def test_a_new_code_supersedes_the_previous_one(
    service: EmailNumberChange, citizen: Account, clock: Any, ses: SesSpy, db: Dynamo, config: Settings
) -> None:
    first, first_code = send(service, ses, citizen.account_id)
    clock.advance(60)
    second, second_code = send(service, ses, citizen.account_id)

    assert stored(db, config, first.verification_id)["status"] == "superseded"
    error = refused(
        lambda: service.verify_code(citizen.account_id, first.verification_id, first_code), "code_superseded"
    )
    assert error.status == 410
    assert stored(db, config, first.verification_id)["attempts"] == 0  # refused before any try was counted
    assert service.verify_code(citizen.account_id, second.verification_id, second_code).change_token


def test_a_failed_send_leaves_the_previous_code_usable(
    service: EmailNumberChange, citizen: Account, clock: Any, ses: SesSpy, scan: Scan, outage: Outage
) -> None:
    first, first_code = send(service, ses, citizen.account_id)
    clock.advance(61)
    outage.begin()
    refused(lambda: service.send_code(citizen.account_id), "email_send_failed")
    outage.end()

    [only] = verifications(scan)
    assert only["verification_id"] == first.verification_id
    assert only["status"] == "active"
    assert service.verify_code(citizen.account_id, first.verification_id, first_code).change_token


# ================================================================= 2. check the code


def test_five_wrong_codes_kill_the_code(
    service: EmailNumberChange, citizen: Account, ses: SesSpy, db: Dynamo, config: Settings
) -> None:
    sent, code = send(service, ses, citizen.account_id)
    vid = sent.verification_id

    for tries_left in (4, 3, 2, 1):
        error = refused(lambda: service.verify_code(citizen.account_id, vid, wrong(code)), "code_wrong")
        assert error.status == 422
        assert error.fields["tries_left"] == tries_left
    error = refused(lambda: service.verify_code(citizen.account_id, vid, wrong(code)), "code_exhausted")
    assert "minta kode baru" in error.detail()
    assert stored(db, config, vid)["status"] == "exhausted"

    # the right code is refused from now on, and no further try is counted
    refused(lambda: service.verify_code(citizen.account_id, vid, code), "code_exhausted")
    refused(lambda: service.verify_code(citizen.account_id, vid, code), "code_exhausted")
    assert stored(db, config, vid)["attempts"] == 5


def test_the_right_code_on_the_fifth_try_works(service: EmailNumberChange, citizen: Account, ses: SesSpy) -> None:
    sent, code = send(service, ses, citizen.account_id)
    for _ in range(4):
        refused(lambda: service.verify_code(citizen.account_id, sent.verification_id, wrong(code)), "code_wrong")
    permit = service.verify_code(citizen.account_id, sent.verification_id, code)
    assert permit.change_token


def test_each_try_is_counted_before_the_comparison(
    service: EmailNumberChange,
    citizen: Account,
    ses: SesSpy,
    db: Dynamo,
    config: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent, code = send(service, ses, citizen.account_id)
    original = email_change.hmac.compare_digest
    seen: list[int] = []

    def compare_digest(a: Any, b: Any) -> bool:
        seen.append(stored(db, config, sent.verification_id)["attempts"])
        return original(a, b)

    monkeypatch.setattr(email_change.hmac, "compare_digest", compare_digest)
    refused(lambda: service.verify_code(citizen.account_id, sent.verification_id, wrong(code)), "code_wrong")
    service.verify_code(citizen.account_id, sent.verification_id, code)

    assert seen == [1, 2]  # the counter was already up when the codes were compared (constant-time)


def test_an_expired_code_is_refused(
    service: EmailNumberChange, citizen: Account, clock: Any, ses: SesSpy, db: Dynamo, config: Settings
) -> None:
    sent, code = send(service, ses, citizen.account_id)
    clock.advance(599)
    refused(lambda: service.verify_code(citizen.account_id, sent.verification_id, wrong(code)), "code_wrong")
    clock.advance(1)
    error = refused(lambda: service.verify_code(citizen.account_id, sent.verification_id, code), "code_expired")
    assert error.status == 410
    assert stored(db, config, sent.verification_id)["attempts"] == 1


def test_a_used_code_is_refused(service: EmailNumberChange, citizen: Account, ses: SesSpy) -> None:
    sent, code = send(service, ses, citizen.account_id)
    service.verify_code(citizen.account_id, sent.verification_id, code)
    error = refused(lambda: service.verify_code(citizen.account_id, sent.verification_id, code), "code_used")
    assert error.status == 409


def test_another_accounts_verification_is_not_found(
    service: EmailNumberChange,
    citizen: Account,
    neighbour: Account,
    ses: SesSpy,
    db: Dynamo,
    config: Settings,
) -> None:
    sent, code = send(service, ses, citizen.account_id)
    for given in (code, wrong(code)):
        error = refused(
            lambda given=given: service.verify_code(neighbour.account_id, sent.verification_id, given),
            "verification_not_found",
        )
        assert error.status == 404
    assert stored(db, config, sent.verification_id)["attempts"] == 0  # the stranger's tries did not count
    assert stored(db, config, sent.verification_id)["status"] == "active"
    assert service.verify_code(citizen.account_id, sent.verification_id, code).change_token


@pytest.mark.parametrize("verification_id", [str(uuid.uuid4()), "", "not-a-uuid"])
def test_an_unknown_verification_is_not_found(
    service: EmailNumberChange, citizen: Account, verification_id: str
) -> None:
    refused(lambda: service.verify_code(citizen.account_id, verification_id, "123456"), "verification_not_found")


def test_the_change_token_is_stored_only_as_a_hash(
    service: EmailNumberChange, citizen: Account, clock: Any, ses: SesSpy, scan: Scan, config: Settings
) -> None:
    permit = permit_for(service, ses, citizen.account_id)
    assert permit.expires_at == int(clock.now) + config.change_token_ttl_seconds
    assert len(permit.change_token) >= 40  # 32 random bytes, URL-safe base64
    dump = json.dumps(scan("TokensTable"))
    assert permit.change_token not in dump
    assert change_token_key(permit.change_token)["pk"] in dump


def test_two_verifies_of_one_code_at_once_issue_one_token(
    service: EmailNumberChange, citizen: Account, ses: SesSpy, scan: Scan, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent, code = send(service, ses, citizen.account_id)
    issue = service._issue_change_token
    inner: list[ChangePermit] = []

    def racing_issue(account_id: str, verification_id: str) -> ChangePermit:
        if not inner:  # the other request passes the same checks and wins the race
            monkeypatch.setattr(service, "_issue_change_token", issue)
            inner.append(service.verify_code(account_id, verification_id, code))
        return issue(account_id, verification_id)

    monkeypatch.setattr(service, "_issue_change_token", racing_issue)
    refused(lambda: service.verify_code(citizen.account_id, sent.verification_id, code), "code_used")
    assert len(inner) == 1
    assert len([i for i in items(scan, "TokensTable") if i["pk"].startswith("CHANGE#")]) == 1


# ================================================================= 3. change the number


@pytest.mark.parametrize(
    "typed", ["0812-3456-7890", "+62 812 3456 7890", "62812 3456 7890", "(0812) 3456.7890", " 081234567890 "]
)
def test_typed_spellings_land_as_e164(
    service: EmailNumberChange, citizen: Account, ses: SesSpy, registry: AccountRegistry, typed: str
) -> None:
    permit = permit_for(service, ses, citizen.account_id)
    updated = service.change_number(citizen.account_id, permit.change_token, typed)
    assert updated.whatsapp_number == NEW_WA
    assert updated.display == "0812-3456-7890"
    assert updated.message == EMAIL_CHANGE_SUCCESS == "Data No. Whatsapp Berhasil diperbarui"
    account = registry.get(citizen.account_id)
    assert account is not None
    assert account.whatsapp_number == NEW_WA


def test_a_change_updates_the_account_claims_audit_and_notifies(
    service: EmailNumberChange,
    citizen: Account,
    clock: Any,
    ses: SesSpy,
    registry: AccountRegistry,
    scan: Scan,
    sent_mail: Callable[[], list[Any]],
) -> None:
    sent, code = send(service, ses, citizen.account_id)
    permit = service.verify_code(citizen.account_id, sent.verification_id, code)
    clock.advance(30)

    service.change_number(citizen.account_id, permit.change_token, "0812-3456-7890")

    account = registry.get(citizen.account_id)
    assert account is not None
    assert account.whatsapp_number == NEW_WA
    assert account.whatsapp_verified_via == "email"
    assert account.whatsapp_verified is False  # changed by email, not proved through WhatsApp
    changed_ms = registry.db.get("AccountsTable", account_key(citizen.account_id))["whatsapp_number_changed_ms"]  # type: ignore[index]
    assert changed_ms == int(clock.now * 1000)
    assert account.phone_number == citizen.phone_number  # only the WhatsApp number changes
    assert account.version == citizen.version + 1
    assert registry.owner_of(NEW_WA) == citizen.account_id
    assert registry.owner_of(CURRENT_WA) is None

    [audit] = audit_records(scan, citizen.account_id)
    assert audit["method"] == "email_change"
    assert audit["flow_id"] == sent.verification_id
    assert audit["at"] == int(clock.now)
    assert audit["old_number_masked"] == "0857-****-5678"
    assert audit["old_number_hash"] == number_fingerprint(CURRENT_WA)
    assert audit["new_number_masked"] == "0812-****-7890"
    assert audit["new_number_hash"] == number_fingerprint(NEW_WA)
    assert "phone_number_replaced" not in audit  # only the migration replaces the phone number
    assert not {"old_phone_masked", "old_phone_hash"} & set(audit)
    for table in ("TokensTable", "AuditTable"):
        dump = json.dumps(scan(table))
        for number in (CURRENT_WA, NEW_WA):
            assert number[3:] not in dump, f"{table} holds {number} in clear"

    change = ses.requests[-1]
    assert len(ses.requests) == 2  # the code, then the notification
    assert change["Destination"] == {"ToAddresses": ["budi@example.com"]}
    assert "Data No. Whatsapp Berhasil diperbarui" in subject_of(change)
    assert "0812-****-7890" in text_of(change)
    assert NEW_WA[3:] not in text_of(change)
    assert "Data No. Whatsapp Berhasil diperbarui" in sent_mail()[-1].subject


def test_the_change_token_is_single_use(
    service: EmailNumberChange, citizen: Account, ses: SesSpy, registry: AccountRegistry, scan: Scan
) -> None:
    permit = permit_for(service, ses, citizen.account_id)
    service.change_number(citizen.account_id, permit.change_token, NEW_WA)
    error = refused(
        lambda: service.change_number(citizen.account_id, permit.change_token, FREE_WA), "change_token_invalid"
    )
    assert error.status == 403
    account = registry.get(citizen.account_id)
    assert account is not None
    assert account.whatsapp_number == NEW_WA
    assert len(audit_records(scan, citizen.account_id)) == 1


def test_another_accounts_change_token_is_refused(
    service: EmailNumberChange, citizen: Account, neighbour: Account, ses: SesSpy, registry: AccountRegistry
) -> None:
    permit = permit_for(service, ses, citizen.account_id)
    refused(lambda: service.change_number(neighbour.account_id, permit.change_token, FREE_WA), "change_token_invalid")
    assert registry.owner_of(FREE_WA) is None
    # the owner's permit was not spent by the stranger
    assert service.change_number(citizen.account_id, permit.change_token, FREE_WA).whatsapp_number == FREE_WA


@pytest.mark.parametrize("token", ["", "made-up-token", "A" * 43])
def test_an_unknown_change_token_is_refused(service: EmailNumberChange, citizen: Account, token: str) -> None:
    refused(lambda: service.change_number(citizen.account_id, token, NEW_WA), "change_token_invalid")


@pytest.mark.parametrize(("after", "works"), [(599, True), (600, False)])
def test_the_change_token_lasts_ten_minutes(
    service: EmailNumberChange,
    citizen: Account,
    clock: Any,
    ses: SesSpy,
    registry: AccountRegistry,
    after: int,
    works: bool,
) -> None:
    permit = permit_for(service, ses, citizen.account_id)
    clock.advance(after)
    if works:
        service.change_number(citizen.account_id, permit.change_token, NEW_WA)
    else:
        refused(lambda: service.change_number(citizen.account_id, permit.change_token, NEW_WA), "change_token_invalid")
    account = registry.get(citizen.account_id)
    assert account is not None
    assert account.whatsapp_number == (NEW_WA if works else CURRENT_WA)


def test_a_number_held_by_another_account_is_refused_and_the_token_kept(
    service: EmailNumberChange, citizen: Account, neighbour: Account, ses: SesSpy, registry: AccountRegistry, scan: Scan
) -> None:
    permit = permit_for(service, ses, citizen.account_id)
    error = refused(
        lambda: service.change_number(citizen.account_id, permit.change_token, "0813-1111-2222"),
        "whatsapp_number_taken",
    )
    assert error.status == 409
    assert registry.owner_of(NEIGHBOUR_WA) == neighbour.account_id
    assert audit_records(scan, citizen.account_id) == []
    # the permit was not consumed: the citizen can pick another number with it
    assert service.change_number(citizen.account_id, permit.change_token, FREE_WA).whatsapp_number == FREE_WA


def test_a_number_claimed_during_the_change_is_refused_and_nothing_is_written(
    service: EmailNumberChange,
    citizen: Account,
    make_account: MakeAccount,
    ses: SesSpy,
    registry: AccountRegistry,
    scan: Scan,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    permit = permit_for(service, ses, citizen.account_id)
    stage = service.number_changes.stage

    def racing_stage(tx: Any, account: Account, new_number: str, *args: Any) -> None:
        # free when the account was read and checked, claimed while the change is being written
        make_account("jss-2005", email="rina@example.com", whatsapp_number=new_number)
        stage(tx, account, new_number, *args)

    with monkeypatch.context() as patched:
        patched.setattr(service.number_changes, "stage", racing_stage)
        refused(
            lambda: service.change_number(citizen.account_id, permit.change_token, FREE_WA), "whatsapp_number_taken"
        )

    account = registry.get(citizen.account_id)
    assert account is not None
    assert account.whatsapp_number == CURRENT_WA
    assert registry.owner_of(CURRENT_WA) == citizen.account_id
    assert registry.owner_of(FREE_WA) == "jss-2005"
    assert audit_records(scan, citizen.account_id) == []
    assert service.change_number(citizen.account_id, permit.change_token, NEW_WA).whatsapp_number == NEW_WA


@pytest.mark.parametrize("typed", [CURRENT_WA, "0857-1234-5678", "62857 1234 5678"])
def test_the_current_number_is_refused(
    service: EmailNumberChange, citizen: Account, ses: SesSpy, scan: Scan, typed: str
) -> None:
    permit = permit_for(service, ses, citizen.account_id)
    error = refused(
        lambda: service.change_number(citizen.account_id, permit.change_token, typed), "whatsapp_number_unchanged"
    )
    assert error.status == 409
    assert audit_records(scan, citizen.account_id) == []


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("0800-1-234567", "bebas pulsa"),  # toll-free: no one's WhatsApp
        ("1500-123", "tidak dapat dipakai untuk WhatsApp"),  # a call centre
        ("112", "terlalu pendek"),
        ("0812-FLOWERS", "tidak dapat dibaca"),
        ("", "tidak dapat dibaca"),
    ],
)
def test_an_invalid_number_is_refused_before_anything_is_read_or_consumed(
    service: EmailNumberChange,
    citizen: Account,
    ses: SesSpy,
    registry: AccountRegistry,
    monkeypatch: pytest.MonkeyPatch,
    typed: str,
    why: str,
) -> None:
    permit = permit_for(service, ses, citizen.account_id)

    def untouchable(*_: Any, **__: Any) -> Any:
        raise AssertionError("the store was used for a number that is not valid")

    with monkeypatch.context() as patched:
        for method in ("get", "put", "update", "delete", "transaction"):
            patched.setattr(Dynamo, method, untouchable)
        error = refused(
            lambda: service.change_number(citizen.account_id, permit.change_token, typed), "whatsapp_number_invalid"
        )
    assert error.status == 422
    assert why in error.detail()

    assert service.change_number(citizen.account_id, permit.change_token, NEW_WA).whatsapp_number == NEW_WA
    assert registry.owner_of(NEW_WA) == citizen.account_id


def test_one_token_used_twice_at_once_changes_the_number_once(
    service: EmailNumberChange,
    citizen: Account,
    ses: SesSpy,
    registry: AccountRegistry,
    scan: Scan,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    permit = permit_for(service, ses, citizen.account_id)
    stage = service.number_changes.stage
    inner: list[Any] = []

    def racing_stage(*args: Any) -> None:
        if not inner:  # the second request checks and commits while the first is building its change
            inner.append(None)
            inner[0] = service.change_number(citizen.account_id, permit.change_token, FREE_WA)
        stage(*args)

    monkeypatch.setattr(service.number_changes, "stage", racing_stage)
    refused(lambda: service.change_number(citizen.account_id, permit.change_token, NEW_WA), "change_token_invalid")

    assert inner[0].whatsapp_number == FREE_WA
    account = registry.get(citizen.account_id)
    assert account is not None
    assert account.whatsapp_number == FREE_WA
    assert registry.owner_of(NEW_WA) is None
    assert len(audit_records(scan, citizen.account_id)) == 1


# ================================================================= the shared building blocks


def test_the_change_is_committed_through_number_changes(
    service: EmailNumberChange, citizen: Account, ses: SesSpy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NumberChanges.commit is the one place a number change is committed."""
    calls: list[tuple[Any, ...]] = []
    commit = NumberChanges.commit

    def spy(self: NumberChanges, *args: Any, **kwargs: Any) -> Any:
        calls.append(args[:3])
        return commit(self, *args, **kwargs)

    monkeypatch.setattr(NumberChanges, "commit", spy)
    permit = permit_for(service, ses, citizen.account_id)
    service.change_number(citizen.account_id, permit.change_token, NEW_WA)
    assert calls == [(citizen.account_id, NEW_WA, "email_change")]


def test_the_open_code_is_named_by_the_shared_open_item_pointer(
    service: EmailNumberChange, citizen: Account, clock: Any, db: Dynamo, config: Settings
) -> None:
    """shared.domain.open_items.replace_open_item keeps the open code's pointer, as it does the open flow's."""
    pointer_key = {"pk": f"ACTIVE#email_code#{citizen.account_id}"}
    first = service.send_code(citizen.account_id)
    pointer = db.get(config.tokens_table, pointer_key)
    assert pointer is not None
    assert (pointer["open_id"], pointer["ttl"]) == (first.verification_id, first.expires_at)
    clock.advance(60)
    second = service.send_code(citizen.account_id)
    pointer = db.get(config.tokens_table, pointer_key)
    assert pointer is not None
    assert pointer["open_id"] == second.verification_id


def test_mail_goes_through_the_configuration_set_when_there_is_one(aws: Any, config: Settings) -> None:
    """On AWS every message goes through the stack's configuration set (template.yaml)."""
    aws.sesv2.create_configuration_set(ConfigurationSetName="jss-whatsapp-mail")
    ses = SesSpy(aws.sesv2)
    mailer = Mailer(config.mail_from, ses, configuration_set="jss-whatsapp-mail")  # type: ignore[arg-type]
    mailer.send("budi@example.com", verification_code_email("123456", 10))
    assert ses.requests[-1]["ConfigurationSetName"] == "jss-whatsapp-mail"
    Mailer(config.mail_from, ses).send("budi@example.com", verification_code_email("123456", 10))  # type: ignore[arg-type]
    assert "ConfigurationSetName" not in ses.requests[-1]
