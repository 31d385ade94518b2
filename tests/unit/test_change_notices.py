"""What is told to whom once a number change committed (``shared.domain.change_notices``): the email
with the "Bukan saya" link, the WhatsApp template to the replaced number, and the notices of an undo.
A mail or queue failure never undoes the change."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

from shared.adapters.dynamo import Dynamo
from shared.adapters.keys import keyed_hash
from shared.adapters.mail import Mailer
from shared.adapters.whatsapp_outbox import WhatsAppOutbox
from shared.clock import wib_datetime
from shared.config import Settings
from shared.domain.accounts import Account, AccountRegistry, VerifiedVia
from shared.domain.change_notices import ChangeNotices
from shared.domain.email_change import EMAIL_CHANGE_SUCCESS, EmailNumberChange
from shared.domain.flows import CHANGE_SUCCESS, FlowKind
from shared.domain.notifications import number_changed_email
from shared.domain.number_change import CommittedChange, IssuedUndo
from shared.domain.undo.records import UndoRecord
from shared.domain.whatsapp_flows import WhatsAppFlows
from shared.domain.whatsapp_messages import OutboundMessage
from tests.unit.test_flows import PASSWORD, awaiting_password, message_for

OLD_WA = "+6285712345678"  # the number a change replaces
NEW_WA = "+6281234567890"
MakeAccount = Callable[..., Account]
SentMail = Callable[[], list[Any]]
UNDO_URL = re.compile(r"https://jss\.example/u/([A-Za-z0-9_-]{43})")


class RecordingOutbox:
    """The WhatsApp outbox as the journeys see it: ``put`` never raises; ``refuse`` makes it say no,
    as an unreachable SQS does."""

    def __init__(self) -> None:
        self.messages: list[OutboundMessage] = []
        self.refuse = False

    def put(self, message: OutboundMessage) -> bool:
        if self.refuse:
            return False
        self.messages.append(message)
        return True


@pytest.fixture
def outbox() -> RecordingOutbox:
    """The journeys' WhatsApp outbox, recording."""
    return RecordingOutbox()


@pytest.fixture
def email_change(
    db: Dynamo, config: Settings, mailer: Mailer, clock: Any, outbox: RecordingOutbox
) -> EmailNumberChange:
    return EmailNumberChange(db, config, mailer, clock=clock, outbox=cast(WhatsAppOutbox, outbox))


@pytest.fixture
def flows(db: Dynamo, config: Settings, mailer: Mailer, clock: Any, outbox: RecordingOutbox) -> WhatsAppFlows:
    return WhatsAppFlows(db, config, mailer, clock=clock, outbox=cast(WhatsAppOutbox, outbox))


def change_by_email(service: EmailNumberChange, sent_mail: SentMail, account_id: str, number: str = NEW_WA) -> None:
    """B2 from the code to the new number, as the citizen does it."""
    sent = service.send_code(account_id)
    [code] = re.findall(r"\b\d{6}\b", sent_mail()[-1].body)
    permit = service.verify_code(account_id, sent.verification_id, code)
    service.change_number(account_id, permit.change_token, number)


def undo_token_in(body: str) -> str:
    [token] = set(UNDO_URL.findall(body))
    return token


# ----------------------------------------------------------------- after a B1 or B2 change


def test_a_b2_change_warns_the_replaced_number_on_whatsapp_with_the_undo_link(
    email_change: EmailNumberChange,
    make_account: MakeAccount,
    outbox: RecordingOutbox,
    sent_mail: SentMail,
    config: Settings,
    clock: Any,
) -> None:
    citizen = make_account("jss-2001", whatsapp_number=OLD_WA)

    change_by_email(email_change, sent_mail, citizen.account_id)

    [warning] = outbox.messages
    assert warning.to == OLD_WA  # the old number hears of it: it may be the owner's only channel
    assert warning.key == f"warning:{citizen.account_id}:v{citizen.version + 1:012d}"
    assert warning.template is not None
    assert warning.template.name == config.number_changed_template == "jss_nomor_whatsapp_diganti"
    assert warning.template.language == "id"
    masked, when, url = warning.template.body_parameters
    assert (masked, when) == ("0812-****-7890", wib_datetime(clock.now))
    assert url == f"https://jss.example/u/{undo_token_in(url)}"


def test_a_number_whatsapp_said_its_user_left_is_not_warned_but_the_email_still_is(
    email_change: EmailNumberChange, make_account: MakeAccount, outbox: RecordingOutbox, sent_mail: SentMail
) -> None:
    """The old number may be someone else's by now: the link must not reach them."""
    citizen = make_account("jss-2001", whatsapp_number=OLD_WA, whatsapp_verified_via=VerifiedVia.MOVED_AWAY)

    change_by_email(email_change, sent_mail, citizen.account_id)

    assert outbox.messages == []
    assert undo_token_in(sent_mail()[-1].body)


def test_the_b2_change_email_carries_the_same_undo_link_and_says_what_changed(
    email_change: EmailNumberChange,
    make_account: MakeAccount,
    outbox: RecordingOutbox,
    sent_mail: SentMail,
    db: Dynamo,
    config: Settings,
    clock: Any,
) -> None:
    citizen = make_account("jss-2001", whatsapp_number=OLD_WA)
    changed_at = int(clock.now)

    change_by_email(email_change, sent_mail, citizen.account_id)

    notice = sent_mail()[-1]
    assert notice.destinations["ToAddresses"] == [citizen.email]
    assert notice.subject == f"{EMAIL_CHANGE_SUCCESS} - Jogja Smart Service"
    assert "0812-****-7890" in notice.body
    assert wib_datetime(changed_at) in notice.body
    assert "Bukan Anda yang mengganti nomor?" in notice.body
    assert "0857-****-5678" in notice.body  # what the link puts back, masked
    assert wib_datetime(changed_at + 7 * 24 * 3600) in notice.body  # valid for a week
    token = undo_token_in(notice.body)
    [warning] = outbox.messages
    assert warning.template is not None
    assert warning.template.body_parameters[2].endswith(token)  # one link, both channels
    assert db.get(config.tokens_table, {"pk": f"UNDO#{keyed_hash('undo', token)}"}) is not None
    assert OLD_WA[3:] not in notice.body
    assert NEW_WA[3:] not in notice.body  # masked only


def test_the_email_shows_the_link_as_a_link() -> None:
    from shared.domain.notifications import UndoLink

    url = "https://jss.example/u/" + "T" * 43
    email = number_changed_email("Data No. Whatsapp Berhasil diperbarui", "0812-****-7890", 1_750_000_000, None)
    assert "/u/" not in email.text  # a change that replaced nothing has no link
    email = number_changed_email(
        "Data No. Whatsapp Berhasil diperbarui", "0812-****-7890", 1_750_000_000, UndoLink(url, "0857-****-5678", 0)
    )
    assert f'<a href="{url}">{url}</a>' in email.html
    assert f"\n{url}\n" in email.text  # alone on its line: mail apps make it a link


def test_a_b1_change_warns_the_replaced_number_too(
    flows: WhatsAppFlows, make_account: MakeAccount, outbox: RecordingOutbox, sent_mail: SentMail, clock: Any
) -> None:
    citizen = make_account("jss-5005", password=PASSWORD, whatsapp_number=OLD_WA)
    _, token = awaiting_password(flows, clock, citizen.account_id, sender=NEW_WA)

    flows.confirm_password(token, PASSWORD)

    [warning] = outbox.messages
    assert warning.to == OLD_WA
    assert warning.template is not None
    assert warning.template.body_parameters[0] == "0812-****-7890"
    notice = sent_mail()[-1]
    assert notice.subject == f"{CHANGE_SUCCESS} - Jogja Smart Service"
    assert warning.template.body_parameters[2].endswith(undo_token_in(notice.body))


def test_a_migration_replaces_no_number_so_it_has_no_link_and_no_warning(
    flows: WhatsAppFlows, make_account: MakeAccount, outbox: RecordingOutbox, sent_mail: SentMail, clock: Any
) -> None:
    citizen = make_account("jss-1001", whatsapp_number=None)
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)

    assert flows.receive(message_for(started, clock, NEW_WA))["outcome"] == "completed"

    assert outbox.messages == []
    assert "/u/" not in sent_mail()[-1].body
    assert "Jika Anda tidak melakukan perubahan ini" in sent_mail()[-1].body


@pytest.mark.parametrize("failing", ["mail", "queue"])
def test_a_notice_that_cannot_go_out_never_undoes_the_change(
    email_change: EmailNumberChange,
    make_account: MakeAccount,
    outbox: RecordingOutbox,
    sent_mail: SentMail,
    registry: AccountRegistry,
    monkeypatch: pytest.MonkeyPatch,
    failing: str,
) -> None:
    citizen = make_account("jss-2001", whatsapp_number=OLD_WA)
    sent = email_change.send_code(citizen.account_id)
    [code] = re.findall(r"\b\d{6}\b", sent_mail()[-1].body)
    permit = email_change.verify_code(citizen.account_id, sent.verification_id, code)
    if failing == "queue":
        outbox.refuse = True
    else:
        throttled = ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow"}}, "SendEmail")

        def refuse(*_: Any, **__: Any) -> Any:
            raise throttled

        monkeypatch.setattr(email_change.mailer.client, "send_email", refuse)

    updated = email_change.change_number(citizen.account_id, permit.change_token, NEW_WA)

    assert updated.whatsapp_number == NEW_WA
    assert registry.get(citizen.account_id).whatsapp_number == NEW_WA  # type: ignore[union-attr]


def test_the_real_outbox_queues_the_warning_as_json(
    aws: Any, db: Dynamo, config: Settings, mailer: Mailer, clock: Any, make_account: MakeAccount, sent_mail: SentMail
) -> None:
    queue_url = aws.sqs.create_queue(QueueName="WhatsAppOutboxQueue")["QueueUrl"]
    email_change = EmailNumberChange(db, config, mailer, clock=clock, outbox=WhatsAppOutbox(queue_url, aws.sqs))
    citizen = make_account("jss-2001", whatsapp_number=OLD_WA)

    change_by_email(email_change, sent_mail, citizen.account_id)

    [queued] = aws.sqs.receive_message(QueueUrl=queue_url)["Messages"]
    message = OutboundMessage.model_validate_json(queued["Body"])
    assert message.to == OLD_WA
    assert message.template is not None
    assert message.template.name == "jss_nomor_whatsapp_diganti"


# ----------------------------------------------------------------- after an undo


def test_an_undo_tells_the_email_to_change_the_passwords_and_the_restored_number_on_whatsapp(
    mailer: Mailer, config: Settings, sent_mail: SentMail
) -> None:
    outbox = RecordingOutbox()
    account = Account("jss-2001", email="budi@example.com", whatsapp_number=NEW_WA, version=4)
    undone = UndoRecord(
        account_id="jss-2001",
        audit_id="v000000000004",
        method="email_change",
        changed_at=1_750_000_000,
        changed_ms=1_750_000_000_000,
        previous_sealed="",
        previous_masked="0857-****-5678",
        previous_hash="h1",
        new_masked="0812-****-7890",
        new_hash="h2",
        expires_at=1_750_604_800,
    )
    at = 1_750_003_600

    ChangeNotices(mailer, config, outbox).number_restored(account, OLD_WA, undone, "v000000000005", at)

    [email] = sent_mail()
    assert email.destinations["ToAddresses"] == ["budi@example.com"]
    assert "dipulihkan" in email.subject
    assert "kembali 0857-****-5678" in email.body
    assert "0812-****-7890" in email.body
    assert "ganti password akun JSS Anda dan password email Anda" in email.body
    assert wib_datetime(at + 24 * 3600) in email.body  # until when nothing can change it
    [notice] = outbox.messages
    assert notice.to == OLD_WA
    assert notice.key == "restored:jss-2001:v000000000005"
    assert notice.template is not None
    assert notice.template.name == "jss_nomor_whatsapp_dipulihkan"
    assert notice.template.body_parameters == ("0812-****-7890", wib_datetime(at))


def test_an_account_without_email_gets_the_whatsapp_notices_only(
    mailer: Mailer, config: Settings, sent_mail: SentMail
) -> None:
    outbox = RecordingOutbox()
    before = Account("jss-2001", email=None, whatsapp_number=OLD_WA, version=2)

    ChangeNotices(mailer, config, outbox).number_changed(
        CommittedChange(before, 1_750_000_000, undo=IssuedUndo("T" * 43, "UNDO#x", 1_750_604_800)),
        CHANGE_SUCCESS,
        NEW_WA,
    )

    assert sent_mail() == []
    [warning] = outbox.messages
    assert warning.key == "warning:jss-2001:v000000000003"
