"""The account-sync consumer on moto: ``AccountSync.apply`` for one queue message (the four message
types, duplicates, messages out of order, a change for an account not yet created, refused
messages), and the Lambda function ``account_sync`` with SQS batches in Lambda's format (partial
batch failures: only the records that could not be applied come back)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from shared.adapters.dynamo import Dynamo, from_attributes
from shared.domain.account_mirror import AccountMirror, ImportInProgress, NumberHeldElsewhere
from shared.domain.account_sync import AccountNotYetKnown, AccountSync, MessageRefused
from shared.domain.accounts import Account, AccountRegistry, account_key, number_claim_key
from tests.unit.conftest import FakeClock
from tests.unit.lambdas import FakeLambdaContext, load_function

TABLE = "AccountsTable"
ACCOUNT = "jss-1001"
PHONE = "+6281298765432"
NUMBER = "+6285712345678"
OTHER_NUMBER = "+6281234567890"
T0 = "2025-06-01T08:00:00+07:00"
T1 = "2025-06-02T08:00:00+07:00"
T2 = "2025-06-03T08:00:00+07:00"
T3 = "2025-06-04T08:00:00+07:00"
QUEUE_ARN = "arn:aws:sqs:ap-southeast-3:123456789012:AccountSyncQueue"

Scan = Callable[[str], list[dict[str, Any]]]
MakeAccount = Callable[..., Account]
Hash = Callable[[str], str]


@pytest.fixture
def sync(db: Dynamo, clock: FakeClock) -> AccountSync:
    return AccountSync(AccountMirror(db, TABLE, clock=clock))


def created(
    php_bcrypt: Hash, at: str = T0, password: str = "rahasia-JSS-2024", account_id: str = ACCOUNT, **account: Any
) -> str:
    fields: dict[str, Any] = {
        "name": "Budi Santoso",
        "email": "budi@example.com",
        "phone_number": "0812-9876-5432",
        "whatsapp_number": "0857-1234-5678",
        "whatsapp_verified": True,
        "password_hash": php_bcrypt(password),
    }
    fields.update(account)
    return body("created", at, account_id, account=fields)


def body(kind: str, at: str, account_id: str = ACCOUNT, **fields: Any) -> str:
    return json.dumps({"type": f"account.{kind}", "account_id": account_id, "updated_at": at, **fields})


def items(scan: Scan) -> dict[str, dict[str, Any]]:
    return {str(item["pk"]): item for item in (from_attributes(raw) for raw in scan(TABLE))}


def owner(db: Dynamo, number: str) -> str | None:
    claim = db.get(TABLE, number_claim_key(number))
    return None if claim is None else str(claim["account_id"])


def the_account(registry: AccountRegistry, account_id: str = ACCOUNT) -> Account:
    account = registry.get(account_id)
    assert account is not None
    return account


# ================================================================= AccountSync.apply


def test_account_created_creates_the_account_with_its_claim(
    sync: AccountSync, registry: AccountRegistry, db: Dynamo, php_bcrypt: Hash
) -> None:
    assert sync.apply(created(php_bcrypt)) == "created"
    assert the_account(registry) == Account(
        account_id=ACCOUNT,
        name="Budi Santoso",
        email="budi@example.com",
        phone_number=PHONE,
        whatsapp_number=NUMBER,
        whatsapp_verified_via="whatsapp",
        password_hash=php_bcrypt("rahasia-JSS-2024"),
        version=1,
    )
    assert owner(db, NUMBER) == ACCOUNT


def test_contact_changed_changes_only_the_fields_it_carries(
    sync: AccountSync, registry: AccountRegistry, db: Dynamo, php_bcrypt: Hash
) -> None:
    sync.apply(created(php_bcrypt))
    before = the_account(registry)

    changes = {"email": None, "whatsapp_number": "0812-3456-7890", "whatsapp_verified": False}
    assert sync.apply(body("contact_changed", T1, changes=changes)) == "updated"

    assert the_account(registry) == replace(
        before, email=None, whatsapp_number=OTHER_NUMBER, whatsapp_verified_via="jss", version=2
    )
    assert (owner(db, OTHER_NUMBER), owner(db, NUMBER)) == (ACCOUNT, None)


def test_password_changed_replaces_the_hash(sync: AccountSync, registry: AccountRegistry, php_bcrypt: Hash) -> None:
    sync.apply(created(php_bcrypt))
    new_hash = php_bcrypt("kata-sandi-baru-2025")
    assert sync.apply(body("password_changed", T1, password_hash=new_hash)) == "updated"
    account = the_account(registry)
    assert (account.password_hash, account.version, account.email) == (new_hash, 2, "budi@example.com")


def test_account_deleted_removes_the_account_and_releases_its_number(
    sync: AccountSync, registry: AccountRegistry, db: Dynamo, php_bcrypt: Hash, scan: Scan
) -> None:
    sync.apply(created(php_bcrypt))

    assert sync.apply(body("deleted", T1)) == "updated"

    assert registry.get(ACCOUNT) is None
    assert registry.owner_of(NUMBER) is None
    assert owner(db, NUMBER) is None
    assert items(scan) == {
        f"ACCOUNT#{ACCOUNT}": {
            "pk": f"ACCOUNT#{ACCOUNT}",
            "account_id": ACCOUNT,
            "deleted_ms": 1_748_826_000_000,
            "jss_changed_ms": 1_748_826_000_000,
            "version": 2,
        }
    }


@pytest.mark.parametrize("kind", ["created", "contact_changed", "password_changed", "deleted"])
def test_the_same_message_twice_changes_nothing(sync: AccountSync, php_bcrypt: Hash, scan: Scan, kind: str) -> None:
    sync.apply(created(php_bcrypt))
    message = {
        "created": created(php_bcrypt),
        "contact_changed": body("contact_changed", T1, changes={"name": "Budi S."}),
        "password_changed": body("password_changed", T1, password_hash=php_bcrypt("kata-sandi-baru-2025")),
        "deleted": body("deleted", T1),
    }[kind]
    sync.apply(message)
    before = items(scan)

    assert sync.apply(message) == "unchanged"
    assert items(scan) == before


def test_an_older_created_does_not_undo_a_newer_password_change(
    sync: AccountSync, registry: AccountRegistry, php_bcrypt: Hash
) -> None:
    sync.apply(created(php_bcrypt, at=T0))
    newer_hash = php_bcrypt("kata-sandi-baru-2025")
    sync.apply(body("password_changed", T2, password_hash=newer_hash))

    assert sync.apply(created(php_bcrypt, at=T1, password="kata-sandi-lama", name="Budi S.")) == "updated"

    account = the_account(registry)
    assert (account.password_hash, account.name) == (newer_hash, "Budi S.")


def test_a_password_change_before_its_account_waits_and_then_wins(
    sync: AccountSync, registry: AccountRegistry, php_bcrypt: Hash, scan: Scan
) -> None:
    newer_hash = php_bcrypt("kata-sandi-baru-2025")
    password_changed = body("password_changed", T2, password_hash=newer_hash)
    with pytest.raises(AccountNotYetKnown):
        sync.apply(password_changed)
    assert items(scan) == {}

    assert sync.apply(created(php_bcrypt, at=T1)) == "created"
    assert sync.apply(password_changed) == "updated"  # the queue hands it back later

    assert the_account(registry).password_hash == newer_hash


def test_a_contact_change_before_its_account_is_created_fails_to_be_retried(
    sync: AccountSync, php_bcrypt: Hash, scan: Scan
) -> None:
    with pytest.raises(AccountNotYetKnown, match=ACCOUNT):
        sync.apply(body("contact_changed", T1, changes={"name": "Budi S."}))
    assert items(scan) == {}


def test_a_deleted_account_is_not_brought_back_by_an_older_created(
    sync: AccountSync, registry: AccountRegistry, db: Dynamo, php_bcrypt: Hash
) -> None:
    sync.apply(body("deleted", T2))  # its deletion overtook its creation
    assert sync.apply(created(php_bcrypt, at=T1)) == "unchanged"
    assert sync.apply(body("contact_changed", T3, changes={"name": "Budi S."})) == "unchanged"
    assert registry.get(ACCOUNT) is None
    assert owner(db, NUMBER) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "record_malformed"),
        ("", "record_malformed"),
        ('["account.deleted"]', "record_malformed"),
        (json.dumps({"type": "account.renamed", "account_id": ACCOUNT, "updated_at": T0}), "type_unknown"),
        (body("contact_changed", T0, changes={}), "changes_empty"),
        (body("contact_changed", T0, changes={"whatsapp_verified": True}), "whatsapp_verified_without_number"),
        (body("contact_changed", T0, changes={"email": "budi.example.com"}), "email_invalid"),
        (body("password_changed", T0, password_hash="5f4dcc3b5aa765d61d8327deb882cf99"), "password_hash_unsupported"),
        (body("deleted", "kemarin"), "updated_at_invalid"),
        (body("deleted", T0, colour="merah"), "field_unknown"),
        (body("deleted", T0, account_id="jss 1001"), "account_id_invalid"),
    ],
)
def test_an_invalid_message_is_refused_with_its_reason_code(
    sync: AccountSync, scan: Scan, text: str, reason: str
) -> None:
    with pytest.raises(MessageRefused) as refused:
        sync.apply(text)
    assert refused.value.reason == reason
    assert items(scan) == {}


def test_a_refused_message_says_the_reason_and_field_never_the_value(sync: AccountSync) -> None:
    with pytest.raises(MessageRefused) as refused:
        sync.apply(body("contact_changed", T0, changes={"email": "siti.rahayu@@contoh.id"}))
    assert str(refused.value) == "email_invalid (email)"
    assert refused.value.__cause__ is None


def test_a_number_another_account_holds_fails_the_message(
    sync: AccountSync, db: Dynamo, make_account: MakeAccount, php_bcrypt: Hash
) -> None:
    make_account("jss-2002", whatsapp_number=NUMBER)
    with pytest.raises(NumberHeldElsewhere):
        sync.apply(created(php_bcrypt))
    assert db.get(TABLE, account_key(ACCOUNT)) is None
    assert owner(db, NUMBER) == "jss-2002"


def test_a_creation_during_an_import_fails_the_message(
    sync: AccountSync, db: Dynamo, clock: FakeClock, php_bcrypt: Hash
) -> None:
    db.put(TABLE, {"pk": "IMPORT#lease", "run_id": "an-import", "expires_ms": int(clock() * 1000) + 60_000})
    with pytest.raises(ImportInProgress):
        sync.apply(created(php_bcrypt))
    assert db.get(TABLE, account_key(ACCOUNT)) is None


# ================================================================= the Lambda function


def sqs_record(text: str, message_id: str) -> dict[str, Any]:
    """One SQS message as Lambda's event source mapping delivers it."""
    return {
        "messageId": message_id,
        "receiptHandle": f"AQEB{message_id.replace('-', '')}+receipt==",
        "body": text,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1750000000000",
            "SenderId": "AROAEXAMPLEJSSPUBLISHER:jss-core",
            "ApproximateFirstReceiveTimestamp": "1750000000123",
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(text.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "ap-southeast-3",
    }


def sqs_event(*texts: str) -> dict[str, Any]:
    return {"Records": [sqs_record(text, f"0a1b2c3d-0000-4000-8000-00000000000{i}") for i, text in enumerate(texts)]}


def handle(event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = load_function("account_sync").lambda_handler(event, FakeLambdaContext())
    return result


def test_a_batch_applies_every_message(aws: Any, registry: AccountRegistry, php_bcrypt: Hash) -> None:
    event = sqs_event(
        created(php_bcrypt),
        body("contact_changed", T1, changes={"name": "Budi S."}),
        body("deleted", T0, account_id="jss-2002"),
    )
    assert handle(event) == {"batchItemFailures": []}
    assert the_account(registry).name == "Budi S."
    assert registry.get("jss-2002") is None


def test_only_the_invalid_record_of_a_batch_comes_back(
    aws: Any, registry: AccountRegistry, db: Dynamo, php_bcrypt: Hash
) -> None:
    event = sqs_event(
        created(php_bcrypt),
        body("contact_changed", T1, changes={}),
        body("password_changed", T1, password_hash=php_bcrypt("kata-sandi-baru-2025")),
    )

    assert handle(event) == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}

    account = the_account(registry)
    assert (account.password_hash, account.version) == (php_bcrypt("kata-sandi-baru-2025"), 2)
    assert owner(db, NUMBER) == ACCOUNT


def test_a_change_for_an_account_not_yet_created_comes_back_for_a_retry(
    aws: Any, registry: AccountRegistry, php_bcrypt: Hash
) -> None:
    early = body("contact_changed", T1, changes={"name": "Budi S."})
    event = sqs_event(early, created(php_bcrypt))

    assert handle(event) == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert the_account(registry).name == "Budi Santoso"

    assert handle(sqs_event(early)) == {"batchItemFailures": []}  # redelivered after the created
    assert the_account(registry).name == "Budi S."


def test_a_record_whose_number_another_account_holds_comes_back(
    aws: Any, make_account: MakeAccount, registry: AccountRegistry, php_bcrypt: Hash
) -> None:
    make_account("jss-2002", whatsapp_number=NUMBER)
    event = sqs_event(
        created(php_bcrypt), created(php_bcrypt, account_id="jss-3003", whatsapp_number="", whatsapp_verified=False)
    )
    assert handle(event) == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert registry.get(ACCOUNT) is None
    assert the_account(registry, "jss-3003").whatsapp_number is None


def test_a_batch_in_which_every_record_fails_fails_the_invocation(aws: Any, scan: Scan) -> None:
    """Powertools raises when nothing of the batch could be applied: SQS hands every record back."""
    with pytest.raises(BatchProcessingError):
        handle(sqs_event("{not json", body("contact_changed", T0, changes={"name": "Budi"})))
    assert items(scan) == {}


def test_after_account_deleted_the_account_is_gone_and_its_number_free(
    aws: Any, registry: AccountRegistry, make_account: MakeAccount, php_bcrypt: Hash
) -> None:
    assert handle(sqs_event(created(php_bcrypt))) == {"batchItemFailures": []}
    assert registry.owner_of(NUMBER) == ACCOUNT

    assert handle(sqs_event(body("deleted", T1))) == {"batchItemFailures": []}

    assert registry.get(ACCOUNT) is None
    assert registry.owner_of(NUMBER) is None
    make_account("jss-2002", whatsapp_number=NUMBER)  # the number is free for another account
    assert registry.owner_of(NUMBER) == "jss-2002"
