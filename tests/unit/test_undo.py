"""The "Bukan saya" link of a B1 or B2 change (``shared.domain.undo``), on moto with a fake
clock, and its page through the function's handler (``functions/undo_change``)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest

from shared.adapters.dynamo import Dynamo, from_attributes
from shared.adapters.keys import keyed_hash, number_fingerprint
from shared.adapters.mail import Mailer
from shared.clock import iso, wib_datetime
from shared.config import Settings
from shared.domain.accounts import Account, AccountRegistry, ChangeMethod, account_key
from shared.domain.change_notices import ChangeNotices
from shared.domain.email_change import EmailNumberChange
from shared.domain.flows import FlowKind
from shared.domain.undo.records import UndoRecord
from shared.domain.undo.service import NumberChangeUndo, UndoStatus
from shared.domain.whatsapp_flows import WhatsAppFlows
from shared.errors import ServiceError
from shared.web import anti_forgery
from tests.unit import test_change_notices, test_round_trips
from tests.unit.test_change_notices import NEW_WA, OLD_WA, RecordingOutbox, change_by_email, undo_token_in
from tests.unit.test_flows import PASSWORD, assert_no_clear_number, awaiting_password, message_for
from tests.unit.test_web import Answer, assert_problem, call, http_event

OTHER_WA = "+6287899990001"
DAY, WEEK = 24 * 3600, 7 * 24 * 3600
MakeAccount = Callable[..., Account]
SentMail = Callable[[], list[Any]]
Scan = Callable[[str], list[dict[str, Any]]]


# The notices' fixtures (a recording WhatsApp outbox, B2 on the fake clock), and every AWS call counted.
outbox, email_change = test_change_notices.outbox, test_change_notices.email_change
aws_calls = test_round_trips.aws_calls


@pytest.fixture
def undo(db: Dynamo, config: Settings, mailer: Mailer, clock: Any, outbox: RecordingOutbox) -> NumberChangeUndo:
    return NumberChangeUndo(db, config, ChangeNotices(mailer, config, outbox), clock=clock)


@pytest.fixture
def citizen(make_account: MakeAccount) -> Account:
    return make_account("jss-2001", email="budi@example.com", whatsapp_number=OLD_WA)


@pytest.fixture
def changed(email_change: EmailNumberChange, citizen: Account, sent_mail: SentMail, clock: Any) -> str:
    """B2 replaced the citizen's OLD_WA with NEW_WA a minute ago: the link's token, from the email."""
    change_by_email(email_change, sent_mail, citizen.account_id)
    clock.advance(60)
    return undo_token_in(sent_mail()[-1].body)


def items(scan: Scan, table: str) -> list[dict[str, Any]]:
    return [from_attributes(item) for item in scan(table)]


def undo_records(scan: Scan) -> list[dict[str, Any]]:
    return [i for i in items(scan, "TokensTable") if i["pk"].startswith("UNDO#")]


def audit(scan: Scan, account_id: str) -> list[dict[str, Any]]:
    return sorted((i for i in items(scan, "AuditTable") if i["account_id"] == account_id), key=lambda i: i["event"])


def refused(action: Callable[[], Any], code: str) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        action()
    assert caught.value.code == code, caught.value.code
    return caught.value


def writes_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def untouchable(*_: Any, **__: Any) -> Any:
        raise AssertionError("a write")

    for method in ("put", "update", "delete", "transaction", "batch_write"):
        monkeypatch.setattr(Dynamo, method, untouchable)


def everything(scan: Scan) -> list[str]:
    tables = ("TokensTable", "AccountsTable", "AuditTable", "OutboxTable")
    return sorted(json.dumps(i, sort_keys=True) for t in tables for i in scan(t))


# ================================================================= issued with the change


def test_a_b2_change_issues_one_undo_record_holding_no_clear_number_or_token(
    changed: str, citizen: Account, scan: Scan, clock: Any
) -> None:
    [item] = undo_records(scan)
    assert item["pk"] == f"UNDO#{keyed_hash('undo', changed)}"
    record = UndoRecord.from_item(item)
    changed_at = int(clock.now) - 60
    assert record.account_id == citizen.account_id
    assert record.audit_id == f"v{citizen.version + 1:012d}"
    assert record.method == ChangeMethod.EMAIL_CHANGE
    assert (record.changed_at, record.expires_at) == (changed_at, changed_at + WEEK)
    assert item["ttl"] == changed_at + WEEK + DAY  # says "expired" for a day, then TTL removes it
    assert (record.previous_masked, record.new_masked) == ("0857-****-5678", "0812-****-7890")
    assert (record.previous_hash, record.new_hash) == (number_fingerprint(OLD_WA), number_fingerprint(NEW_WA))
    assert record.previous_via == "whatsapp"
    assert record.used_at is None
    assert record.previous_number(changed) == OLD_WA  # only the link's token opens it
    assert record.previous_number("T" * 43) is None
    assert_no_clear_number(scan, OLD_WA, NEW_WA)
    assert changed not in json.dumps(scan("TokensTable"))


def test_a_b1_change_issues_one_too(
    flows: WhatsAppFlows, make_account: MakeAccount, clock: Any, scan: Scan, outbox: RecordingOutbox
) -> None:
    citizen = make_account("jss-5005", password=PASSWORD, whatsapp_number=OLD_WA)
    _, token = awaiting_password(flows, clock, citizen.account_id, sender=NEW_WA)
    flows.confirm_password(token, PASSWORD)

    [item] = undo_records(scan)
    assert item["method"] == ChangeMethod.WHATSAPP_CHANGE
    assert item["account_id"] == citizen.account_id


def test_a_migration_and_a_takeovers_loser_get_none(
    flows: WhatsAppFlows, make_account: MakeAccount, clock: Any, scan: Scan, outbox: RecordingOutbox
) -> None:
    make_account("jss-6666", whatsapp_number=NEW_WA, whatsapp_verified_via="email")  # loses it to the proof
    citizen = make_account("jss-1001", whatsapp_number=None)
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)

    assert flows.receive(message_for(started, clock, NEW_WA))["outcome"] == "completed"

    assert undo_records(scan) == []


# ================================================================= the link's view


def test_the_view_shows_what_would_be_undone_and_changes_nothing(
    undo: NumberChangeUndo, changed: str, scan: Scan, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = everything(scan)
    with monkeypatch.context() as patched:
        writes_forbidden(patched)
        view = undo.view(changed)

    assert view.status is UndoStatus.READY
    assert (view.previous_masked, view.new_masked) == ("0857-****-5678", "0812-****-7890")
    assert view.changed_at == int(clock.now) - 60
    assert view.refusal is None
    assert everything(scan) == before


@pytest.mark.parametrize("token", ["T" * 43, "", "x", "é" * 10, "../../c/abc"])
def test_an_unknown_link_is_not_found(undo: NumberChangeUndo, changed: str, token: str) -> None:
    assert refused(lambda: undo.view(token), "undo_not_found").status == 404
    refused(lambda: undo.confirm(token), "undo_not_found")


def test_after_seven_days_the_link_has_expired(
    undo: NumberChangeUndo, changed: str, clock: Any, registry: AccountRegistry, scan: Scan
) -> None:
    clock.advance(WEEK - 60 - 1)
    assert undo.view(changed).status is UndoStatus.READY
    clock.advance(1)
    before = everything(scan)

    assert refused(lambda: undo.view(changed), "undo_expired").status == 410
    refused(lambda: undo.confirm(changed), "undo_expired")
    assert everything(scan) == before


# ================================================================= confirming


def test_confirming_puts_the_previous_number_back_and_blocks_changes_for_a_day(
    undo: NumberChangeUndo, changed: str, citizen: Account, registry: AccountRegistry, scan: Scan, clock: Any
) -> None:
    view = undo.confirm(changed)

    now = int(clock.now)
    assert view.status is UndoStatus.UNDONE
    assert (view.undone_at, view.blocked_until) == (now, now + DAY)
    account = registry.get(citizen.account_id)
    assert account is not None
    assert (account.whatsapp_number, account.whatsapp_verified_via) == (OLD_WA, "whatsapp")
    assert account.number_changes_blocked_until == now + DAY
    assert account.version == citizen.version + 2  # the change, then its undo
    assert account.phone_number == citizen.phone_number
    assert registry.owner_of(OLD_WA) == citizen.account_id
    assert registry.owner_of(NEW_WA) is None  # released
    [item] = undo_records(scan)
    assert item["used_at"] == now
    assert_no_clear_number(scan, OLD_WA, NEW_WA)


def test_the_undo_is_audited_and_tells_jss_to_end_the_sessions(
    undo: NumberChangeUndo, changed: str, citizen: Account, scan: Scan
) -> None:
    undo.confirm(changed)

    change, undone = audit(scan, citizen.account_id)
    assert undone["method"] == ChangeMethod.UNDONE_BY_OWNER == "undone_by_owner"
    assert undone["event"] == f"v{citizen.version + 2:012d}"
    assert undone["flow_id"] == change["event"]  # the change it undid
    assert (undone["old_number_masked"], undone["new_number_masked"]) == ("0812-****-7890", "0857-****-5678")
    assert (undone["old_number_hash"], undone["new_number_hash"]) == (
        number_fingerprint(NEW_WA),
        number_fingerprint(OLD_WA),
    )
    events = [json.loads(i["event"]) for i in items(scan, "OutboxTable")]
    [event] = [e for e in events if e["journey"] == "undo"]
    assert event["end_sessions"] is True
    assert event["undoes_audit_id"] == change["event"]
    assert event["audit_id"] == undone["event"]
    assert event["previous_number_masked"] == "0812-****-7890"
    assert event["whatsapp_verified"] is True  # as the restored number was
    assert all("end_sessions" not in e for e in events if e["journey"] != "undo")


def test_the_undo_notifies_the_email_and_the_restored_number(
    undo: NumberChangeUndo, changed: str, sent_mail: SentMail, outbox: RecordingOutbox
) -> None:
    outbox.messages.clear()
    undo.confirm(changed)

    notice = sent_mail()[-1]
    assert "dipulihkan" in notice.subject
    assert "password" in notice.body
    [restored] = outbox.messages
    assert restored.to == OLD_WA
    assert restored.template is not None
    assert restored.template.name == "jss_nomor_whatsapp_dipulihkan"


def test_a_link_works_once(undo: NumberChangeUndo, changed: str, scan: Scan) -> None:
    undo.confirm(changed)
    after = everything(scan)

    assert refused(lambda: undo.confirm(changed), "undo_used").status == 409
    assert everything(scan) == after
    view = undo.view(changed)  # the page says it is done, rather than that the link is unknown
    assert view.status is UndoStatus.UNDONE
    assert view.refusal is not None
    assert view.refusal.code == "undo_used"


def test_a_number_that_came_from_an_email_code_comes_back_unverified(
    email_change: EmailNumberChange,
    undo: NumberChangeUndo,
    make_account: MakeAccount,
    sent_mail: SentMail,
    registry: AccountRegistry,
) -> None:
    citizen = make_account("jss-2009", whatsapp_number=OLD_WA, whatsapp_verified_via="email")
    change_by_email(email_change, sent_mail, citizen.account_id)

    undo.confirm(undo_token_in(sent_mail()[-1].body))

    account = registry.get(citizen.account_id)
    assert account is not None
    assert (account.whatsapp_number, account.whatsapp_verified_via) == (OLD_WA, "email")


def test_a_later_change_supersedes_the_link_and_its_own_link_puts_back_the_number_before_both(
    email_change: EmailNumberChange,
    undo: NumberChangeUndo,
    changed: str,
    citizen: Account,
    sent_mail: SentMail,
    registry: AccountRegistry,
    outbox: RecordingOutbox,
) -> None:
    """Someone with the email changes OLD_WA to NEW_WA, then NEW_WA to OTHER_WA: the first link
    (at the owner's number) is superseded, and the second must not put back the intruder's NEW_WA."""
    outbox.messages.clear()
    change_by_email(email_change, sent_mail, citizen.account_id, OTHER_WA)
    latest = undo_token_in(sent_mail()[-1].body)

    assert undo.view(changed).status is UndoStatus.SUPERSEDED
    error = refused(lambda: undo.confirm(changed), "undo_superseded")
    assert error.status == 409
    assert "hubungi layanan JSS" in error.detail()
    assert registry.get(citizen.account_id).whatsapp_number == OTHER_WA  # type: ignore[union-attr]
    # The owner's number hears of the second change too, with the link that undoes both.
    assert sorted(m.to for m in outbox.messages if m.template and m.template.name == "jss_nomor_whatsapp_diganti") == [
        NEW_WA,
        OLD_WA,
    ]
    assert undo.view(latest).previous_masked == "0857-****-5678"  # OLD_WA
    undo.confirm(latest)
    account = registry.get(citizen.account_id)
    assert account is not None
    assert (account.whatsapp_number, account.whatsapp_verified_via) == (OLD_WA, "whatsapp")
    assert (account.open_undo, account.open_undo_until) == (None, None)
    assert registry.owner_of(OTHER_WA) is None
    assert registry.owner_of(NEW_WA) is None


def test_a_change_after_the_link_was_used_or_expired_starts_a_new_chain(
    email_change: EmailNumberChange,
    undo: NumberChangeUndo,
    changed: str,
    citizen: Account,
    sent_mail: SentMail,
    registry: AccountRegistry,
    clock: Any,
) -> None:
    clock.advance(WEEK)  # the first link has expired: its change stands
    change_by_email(email_change, sent_mail, citizen.account_id, OTHER_WA)
    latest = undo_token_in(sent_mail()[-1].body)
    undo.confirm(latest)
    assert registry.get(citizen.account_id).whatsapp_number == NEW_WA  # type: ignore[union-attr]


def test_an_unrelated_update_of_the_account_does_not_stand_in_the_way(
    undo: NumberChangeUndo, changed: str, citizen: Account, db: Dynamo, config: Settings, registry: AccountRegistry
) -> None:
    # What the sync of a password reset from JSS does: another field, a new version.
    db.update(
        config.accounts_table,
        account_key(citizen.account_id),
        "SET password_hash = :hash, version = version + :one",
        hash="$2y$10$" + "x" * 53,
        one=1,
    )

    undo.confirm(changed)

    assert registry.get(citizen.account_id).whatsapp_number == OLD_WA  # type: ignore[union-attr]


def test_a_previous_number_another_account_took_meanwhile_is_not_taken_back(
    undo: NumberChangeUndo, changed: str, citizen: Account, make_account: MakeAccount, scan: Scan
) -> None:
    make_account("jss-3003", email="sari@example.com", whatsapp_number=OLD_WA)
    before = everything(scan)

    assert undo.view(changed).status is UndoStatus.NUMBER_TAKEN
    error = refused(lambda: undo.confirm(changed), "undo_number_taken")
    assert "hubungi layanan JSS" in error.detail()
    assert everything(scan) == before


def test_a_previous_number_taken_between_the_read_and_the_write_is_refused_with_nothing_written(
    undo: NumberChangeUndo, changed: str, make_account: MakeAccount, scan: Scan, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage = undo._stage

    def racing(*args: Any) -> str:
        make_account("jss-3003", email="sari@example.com", whatsapp_number=OLD_WA)
        return stage(*args)

    monkeypatch.setattr(undo, "_stage", racing)
    refused(lambda: undo.confirm(changed), "undo_number_taken")

    assert [i["used_at"] for i in undo_records(scan) if "used_at" in i] == []
    assert len([r for r in items(scan, "AuditTable") if r["method"] == "undone_by_owner"]) == 0


def test_one_link_confirmed_twice_at_once_undoes_once(
    undo: NumberChangeUndo, changed: str, citizen: Account, scan: Scan, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage = undo._stage
    inner: list[Any] = []

    def racing(*args: Any) -> str:
        if not inner:  # the second request confirms while the first is building its transaction
            inner.append(None)
            inner[0] = undo.confirm(changed)
        return stage(*args)

    monkeypatch.setattr(undo, "_stage", racing)
    refused(lambda: undo.confirm(changed), "undo_used")

    assert inner[0].status is UndoStatus.UNDONE
    assert [r["method"] for r in audit(scan, citizen.account_id)] == ["email_change", "undone_by_owner"]


def test_a_deleted_account_cannot_be_restored(
    undo: NumberChangeUndo, changed: str, citizen: Account, db: Dynamo, config: Settings
) -> None:
    db.put(config.accounts_table, {**account_key(citizen.account_id), "deleted_ms": 1, "version": 9})
    refused(lambda: undo.view(changed), "account_not_found")
    refused(lambda: undo.confirm(changed), "account_not_found")


# ================================================================= the day's block


def test_after_an_undo_no_journey_can_change_the_number_for_a_day(
    email_change: EmailNumberChange,
    flows: WhatsAppFlows,
    undo: NumberChangeUndo,
    citizen: Account,
    sent_mail: SentMail,
    clock: Any,
    registry: AccountRegistry,
) -> None:
    # What the attacker holds: a change token taken just before the owner pressed the button.
    change_by_email(email_change, sent_mail, citizen.account_id)
    token = undo_token_in(sent_mail()[-1].body)
    clock.advance(60)  # a new code may be asked for a minute later
    sent = email_change.send_code(citizen.account_id)
    [code] = re.findall(r"\b\d{6}\b", sent_mail()[-1].body)
    permit = email_change.verify_code(citizen.account_id, sent.verification_id, code)
    undo.confirm(token)
    blocked_until = int(clock.now) + DAY

    for attempt in (
        lambda: email_change.change_number(citizen.account_id, permit.change_token, OTHER_WA),  # in the commit
        lambda: email_change.send_code(citizen.account_id),  # where B2 starts
        lambda: flows.start(citizen.account_id, FlowKind.NUMBER_CHANGE),  # where B1 starts
    ):
        error = refused(attempt, "number_changes_blocked")
        assert error.status == 429
        assert error.retry_after == DAY
        assert error.public_fields()["locked_until"] == iso(blocked_until)
        assert wib_datetime(blocked_until) in error.detail()
    assert registry.get(citizen.account_id).whatsapp_number == OLD_WA  # type: ignore[union-attr]

    clock.advance(DAY)  # the permit has long expired; a new code works again
    change_by_email(email_change, sent_mail, citizen.account_id, OTHER_WA)
    assert registry.get(citizen.account_id).whatsapp_number == OTHER_WA  # type: ignore[union-attr]


def test_a_b1_flow_waiting_for_its_password_cannot_complete_during_the_block(
    flows: WhatsAppFlows,
    undo: NumberChangeUndo,
    email_change: EmailNumberChange,
    citizen: Account,
    sent_mail: SentMail,
    make_account: MakeAccount,
    clock: Any,
    registry: AccountRegistry,
) -> None:
    change_by_email(email_change, sent_mail, citizen.account_id)
    token = undo_token_in(sent_mail()[-1].body)
    _, link = awaiting_password(flows, clock, citizen.account_id, sender=OTHER_WA)
    undo.confirm(token)

    result = flows.confirm_password(link, "rahasia-JSS-2024")

    assert result.error is not None
    assert result.error.code == "number_changes_blocked"
    assert registry.get(citizen.account_id).whatsapp_number == OLD_WA  # type: ignore[union-attr]


# ================================================================= the page, through the function


@pytest.fixture
def web_change(
    aws: Any,
    config: Settings,
    make_account: MakeAccount,
    sent_mail: SentMail,
    outbox: RecordingOutbox,
) -> str:
    """B2 done at real time (the function's clock) for jss-2001: the undo link's token."""
    citizen = make_account("jss-2001", email="budi@example.com", whatsapp_number=OLD_WA)
    service = EmailNumberChange(Dynamo(aws.dynamodb), config, Mailer(config.mail_from, aws.sesv2))
    change_by_email(service, sent_mail, citizen.account_id)
    return undo_token_in(sent_mail()[-1].body)


def get(token: str, headers: dict[str, str] | None = None) -> Answer:
    return call("undo_change", http_event("GET", f"/u/{token}", headers=headers))


def post_form(token: str, fields: dict[str, str], accept: str = "text/html") -> Answer:
    headers = {"content-type": "application/x-www-form-urlencoded", "accept": accept}
    return call("undo_change", http_event("POST", f"/u/{token}", headers=headers, body=urlencode(fields)))


def post_json(token: str, body: str = "{}") -> Answer:
    headers = {"content-type": "application/json", "accept": "application/json"}
    return call("undo_change", http_event("POST", f"/u/{token}", headers=headers, body=body))


def form_value(page: str) -> str:
    [value] = re.findall(r'name="csrf_token" value="([^"]+)"', page)
    return value


def assert_page_rules(answer: Answer) -> None:
    """What every link page is served with (shared.web.pages)."""
    assert answer.content_type == "text/html; charset=utf-8"
    policy = answer.headers["Content-Security-Policy"]
    [nonce] = re.findall(r"'nonce-([^']+)'", policy.split(";")[1])
    assert f'<style nonce="{nonce}">' in answer.body
    assert "frame-ancestors 'none'" in policy
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in answer.body


def test_the_page_shows_the_change_and_the_button(web_change: str, scan: Scan) -> None:
    before = everything(scan)
    page = get(web_change)

    assert page.status == 200
    assert_page_rules(page)
    assert '<html lang="id">' in page.body
    assert "Batalkan penggantian Nomor WhatsApp?" in page.body
    assert "0857-****-5678" in page.body
    assert "0812-****-7890" in page.body
    assert ">Ya, batalkan perubahan</button>" in page.body
    assert anti_forgery.is_valid(web_change, form_value(page.body))
    assert OLD_WA[3:] not in page.body
    assert NEW_WA[3:] not in page.body
    assert everything(scan) == before


def test_the_page_in_english_keeps_the_button_in_indonesian(web_change: str) -> None:
    page = get(web_change, {"accept-language": "en-US,en;q=0.9,id;q=0.5"})
    assert '<html lang="en">' in page.body
    assert "Undo the WhatsApp number change?" in page.body
    assert '<button type="submit" lang="id">Ya, batalkan perubahan</button>' in page.body


def test_the_page_as_json(web_change: str) -> None:
    answer = get(web_change, {"accept": "application/json"})
    assert answer.status == 200
    state = answer.json()
    assert state["status"] == "ready"
    assert (state["previous_number_masked"], state["new_number_masked"]) == ("0857-****-5678", "0812-****-7890")
    assert state["csrf_token"]
    assert state["reason"] is None


def test_the_form_post_undoes_and_redirects_to_the_page_that_says_so(
    web_change: str, registry: AccountRegistry
) -> None:
    page = get(web_change)

    posted = post_form(web_change, {"csrf_token": form_value(page.body)})

    assert posted.status == 303
    assert posted.headers["Location"] == f"https://jss.example/u/{web_change}"
    assert registry.get("jss-2001").whatsapp_number == OLD_WA  # type: ignore[union-attr]
    after = get(web_change)
    assert after.status == 200
    assert "Perubahan dibatalkan" in after.body
    assert "ganti password akun JSS" in after.body
    assert "<form" not in after.body
    again = post_form(web_change, {"csrf_token": form_value(page.body)})
    assert again.status == 303  # the page says it was undone already


@pytest.mark.parametrize("fields", [{}, {"csrf_token": "1750000000.forged"}])
def test_a_form_post_without_the_pages_value_changes_nothing(
    web_change: str, fields: dict[str, str], registry: AccountRegistry, scan: Scan
) -> None:
    before = everything(scan)

    page = post_form(web_change, fields)
    assert page.status == 403
    assert_page_rules(page)
    assert "Muat ulang" in page.body
    assert_problem(post_form(web_change, fields, accept="application/json"), 403, "undo_form_invalid")
    assert everything(scan) == before


def test_a_json_post_answers_the_outcome_then_undo_used(web_change: str) -> None:
    answer = post_json(web_change)
    assert answer.status == 200
    assert answer.json()["status"] == "undone"
    assert answer.json()["number_changes_blocked_until"]

    assert_problem(post_json(web_change), 409, "undo_used")


def test_an_unknown_link_is_a_page_saying_who_to_contact(aws: Any) -> None:
    page = get("T" * 43)
    assert page.status == 404
    assert_page_rules(page)
    assert "Tautan tidak berlaku" in page.body
    assert "hubungi layanan JSS" in page.body
    assert_problem(get("T" * 43, {"accept": "application/json"}), 404, "undo_not_found")
    assert_problem(post_json("T" * 43), 404, "undo_not_found")


def test_the_page_and_the_undo_make_few_aws_calls_all_granted_to_the_function(
    web_change: str, aws_calls: test_round_trips.AwsCalls
) -> None:
    """Each AWS call is a round trip on Lambda; neither moto nor DynamoDB Local checks IAM."""
    from tests.test_template import grants

    aws_calls.made.clear()
    assert get(web_change).status == 200
    assert aws_calls.made == ["dynamodb.GetItem[TokensTable]", "dynamodb.BatchGetItem[AccountsTable]"]
    aws_calls.made.clear()
    assert post_json(web_change).status == 200
    # the link; the account + the previous number's claim; the undo; the email; the WhatsApp notice
    assert aws_calls.made == [
        "dynamodb.GetItem[TokensTable]",
        "dynamodb.BatchGetItem[AccountsTable]",
        "dynamodb.TransactWriteItems[AccountsTable,AuditTable,OutboxTable,TokensTable]",
        "sesv2.SendEmail",
        "sqs.SendMessage",
    ]
    assert aws_calls.grants_needed - grants("UndoChangeFunction") == set()
