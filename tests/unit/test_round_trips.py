"""How many AWS calls each step of the journeys makes, through its function's handler.

On Lambda every AWS call is a network round trip, so a step's count is most of the time it waits.
For one scenario the count is exact (moto answers every call, nothing runs in the background), so a
step that grows a call fails here, showing the calls it made. Each budget is what the step needs:
what it reads, the one transaction that changes it, and the mail that tells the citizen.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import botocore.client
import pytest

from shared.adapters.dynamo import Dynamo
from shared.config import Settings
from shared.domain import password_confirmation
from shared.domain.accounts import Account, AccountRegistry, account_key
from shared.domain.flows import FailureReason, FlowKind, FlowStatus, InboundMessage, link_key
from shared.domain.whatsapp_flows import WhatsAppFlows
from shared.errors import ServiceError
from tests.test_template import grants
from tests.unit.test_web import (
    PASSWORD,
    SENDER,
    Answer,
    call,
    confirm,
    http_event,
    post_webhook,
    send_email_code,
    signature,
    signed_delivery,
    token_of,
    verify_email_code,
    web,  # noqa: F401 - the fixture (moto, jss-1001 without WhatsApp, jss-5005 with it)
)

# Calls per step; the webhook's include the two of Powertools Idempotency (the message id is
# recorded as in progress, then as applied) and the reply put on the WhatsApp outbox queue; the
# binding's own are budgeted apart. A change that replaces a number queues the old number's warning.
BUDGETS = {
    "A1 start": 3,  # account + start limit + open flow in one batch read; the limit; the flow
    "A link page (pending)": 2,  # the link; flow + account in one batch read
    "A webhook delivery": 7,
    "A webhook binding": 5,  # the link; flow + account; the change; the mail; the reply
    "A link page (completed)": 2,
    "B1.1 start": 3,
    "B1 link page (pending)": 2,
    "B1 webhook delivery": 6,
    "B1 webhook binding": 4,  # the link; flow + account + the sender's claim; the flow; the reply
    "B1 link page (awaiting_password)": 2,
    "B1.4 right password": 8,  # link; flow + account + tries; a try on the flow, on the account;
    # the tries cleared; the change; the warning; the mail
    "B1 link page (completed)": 2,
    "B2 request code": 5,  # account + limit + open code; the limit; the code; the mail; the switch
    "B2 confirm code": 3,  # the code; a try; the change token
    "B2 change number": 4,  # permit + account; the change; the warning; the mail
}
MESSAGE_IDS = "IdempotencyTable"
# The function each step runs in (by the step's name). Neither moto nor DynamoDB Local checks IAM, so
# a call template.yaml does not grant would fail on AWS only, as AccessDenied: checked here instead.
FUNCTION_OF = {
    "A1 ": "MigrateFunction",
    "A link page": "MigrateFunction",
    "A webhook": "WhatsAppWebhookFunction",
    "B1.1 ": "ChangeNumberFunction",
    "B1 link page": "ChangeNumberFunction",
    "B1 webhook": "WhatsAppWebhookFunction",
    "B1.4 ": "ChangeNumberFunction",
    "B2 ": "VerifyEmailFunction",
}
# What IAM calls the items of a transaction.
_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def dynamodb_grants_needed(operation: str, params: dict[str, Any]) -> set[str]:
    """The IAM grants (``action table``, as tests/test_template.py writes them) a DynamoDB call needs."""
    if operation == "TransactWriteItems":
        return {
            f"dynamodb:{_ITEM_ACTIONS[kind]} {part['TableName']}"
            for item in params["TransactItems"]
            for kind, part in item.items()
        }
    if "RequestItems" in params:
        return {f"dynamodb:{operation} {table}" for table in params["RequestItems"]}
    return {f"dynamodb:{operation} {params['TableName']}"}


class AwsCalls:
    """Every AWS API call made through botocore, by any client, as ``service.Operation[tables]``."""

    def __init__(self) -> None:
        self.made: list[str] = []
        self.grants_needed: set[str] = set()

    def record(self, client: Any, operation: str, params: dict[str, Any]) -> None:
        if client.meta.service_model.service_name == "dynamodb":
            self.grants_needed |= dynamodb_grants_needed(operation, params)
        tables = {params.get("TableName")} | set(params.get("RequestItems", {}))
        tables |= {next(iter(part.values()))["TableName"] for part in params.get("TransactItems", [])}
        named = ",".join(sorted(t for t in tables if t))
        self.made.append(f"{client.meta.service_model.service_name}.{operation}" + (f"[{named}]" if named else ""))

    def of(self, step: str, action: Callable[[], Any]) -> tuple[Any, list[str]]:
        """What ``action`` answered and the calls it made; checks them against the step's budget."""
        self.made.clear()
        self.grants_needed.clear()
        answer = action()
        made = list(self.made)
        assert len(made) <= BUDGETS[step], f"{step}: {len(made)} AWS calls, budget {BUDGETS[step]}: {made}"
        function = next(name for prefix, name in FUNCTION_OF.items() if step.startswith(prefix))
        missing = self.grants_needed - grants(function)
        assert not missing, f"{step}: {function} is not granted {sorted(missing)} in template.yaml"
        return answer, made


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> AwsCalls:
    calls = AwsCalls()
    original = botocore.client.BaseClient._make_api_call

    def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
        calls.record(client, operation, params)
        return original(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counted)
    return calls


def ok(answer: Answer, status: int = 200) -> Answer:
    assert answer.status == status, answer.body
    return answer


def page(prefix: str, token: str) -> Answer:
    return ok(call("migrate" if prefix == "m" else "change_number", http_event("GET", f"/{prefix}/{token}")))


def deliver(message: str, sender: str = SENDER) -> list[str]:
    body = signed_delivery(message, sender=sender)
    outcomes: list[str] = ok(post_webhook(body, signature(body))).json()["outcomes"]
    return outcomes


def binding_only(step: str, delivery: list[str]) -> list[str]:
    """The delivery's calls but those of the message-id store, against the binding's budget."""
    own = [c for c in delivery if MESSAGE_IDS not in c]
    assert len(own) <= BUDGETS[step], f"{step}: {len(own)} AWS calls, budget {BUDGETS[step]}: {own}"
    return own


# ----------------------------------------------------------------- the journeys, step by step


def start_and_send(aws_calls: AwsCalls, journey: str, start_step: str, start: str, sub: str, outcome: str) -> str:
    """A journey's start, its waiting page and the citizen's message, each within its budget; the
    link token."""
    function, prefix = ("migrate", "m") if journey == "A" else ("change_number", "c")
    event = http_event("POST", start, sub=sub)
    started, _ = aws_calls.of(start_step, lambda: ok(call(function, event), 201).json())
    token = token_of(started)
    aws_calls.of(f"{journey} link page (pending)", lambda: page(prefix, token))
    outcomes, made = aws_calls.of(f"{journey} webhook delivery", lambda: deliver(started["message"]))
    assert outcomes == [outcome]
    binding_only(f"{journey} webhook binding", made)
    return token


@pytest.mark.usefixtures("web")
def test_journey_a(aws_calls: AwsCalls) -> None:
    token = start_and_send(aws_calls, "A", "A1 start", "/v1/migrations", "jss-1001", "completed")
    done, _ = aws_calls.of("A link page (completed)", lambda: page("m", token))
    assert "Migrasi akun aplikasi Jogja Smart Service berhasil" in done.body


@pytest.mark.usefixtures("web")
def test_journey_b1(aws_calls: AwsCalls, registry: AccountRegistry) -> None:
    token = start_and_send(aws_calls, "B1", "B1.1 start", "/v1/number-changes", "jss-5005", "awaiting_password")
    form, _ = aws_calls.of("B1 link page (awaiting_password)", lambda: page("c", token))
    assert ">Ubah</button>" in form.body

    answer, made = aws_calls.of("B1.4 right password", lambda: ok(confirm(token, {"password": PASSWORD}, as_json=True)))
    assert answer.json()["status"] == "completed"
    # The page after the change is built from what the change committed: nothing is read again.
    change = "dynamodb.TransactWriteItems[AccountsTable,AuditTable,OutboxTable,TokensTable]"
    assert made[-3:] == [change, "sqs.SendMessage", "sesv2.SendEmail"]
    assert registry.get("jss-5005").whatsapp_number == "+" + SENDER  # type: ignore[union-attr]

    done, _ = aws_calls.of("B1 link page (completed)", lambda: page("c", token))
    assert "Pergantian No. WhatsApp Berhasil" in done.body


@pytest.mark.usefixtures("web")
def test_journey_b2(aws_calls: AwsCalls, sent_mail: Callable[[], list[Any]], registry: AccountRegistry) -> None:
    (verification_id, code), _ = aws_calls.of("B2 request code", lambda: send_email_code(sent_mail))
    permit, _ = aws_calls.of("B2 confirm code", lambda: ok(verify_email_code(verification_id, code)).json())
    change = {"change_token": permit["change_token"], "whatsapp_number": "0813-1111-9999"}
    event = http_event(
        "PUT",
        "/v1/whatsapp-number",
        sub="jss-5005",
        headers={"content-type": "application/json"},
        body=json.dumps(change),
    )
    aws_calls.of("B2 change number", lambda: ok(call("verify_email", event)))
    assert registry.get("jss-5005").whatsapp_number == "+6281311119999"  # type: ignore[union-attr]


# ----------------------------------------------------------------- what is still read, and when

CURRENT = "+6285712345678"
NEW = "+6281234567890"


@pytest.fixture
def linked(make_account: Callable[..., Account]) -> Account:
    return make_account("jss-7007", password=PASSWORD, whatsapp_number=CURRENT)


def link_token(link_url: str) -> str:
    return link_url.rsplit("/", 1)[1]


def b1_awaiting(flows: WhatsAppFlows, clock: Any, account_id: str, sender: str = NEW) -> str:
    started = flows.start(account_id, FlowKind.NUMBER_CHANGE)
    message = InboundMessage("wamid.1", sender, started.message, forwarded=False, sent_at=int(clock.now))
    assert flows.receive(message)["outcome"] == "awaiting_password"
    return link_token(started.link_url)


def as_written_before(db: Dynamo, config: Settings, token: str) -> None:
    """The link item as links were written before they named the flow's account and kind."""
    link = db.get(config.tokens_table, link_key(token))
    assert link is not None
    assert {"account_id", "kind"} <= set(link)  # as links are written now
    db.put(config.tokens_table, {**link_key(token), "flow_id": link["flow_id"], "ttl": link["ttl"]})


def test_a_link_written_before_links_named_the_account_still_opens_its_page(
    flows: WhatsAppFlows, linked: Account, clock: Any, db: Dynamo, config: Settings, aws_calls: AwsCalls
) -> None:
    token = b1_awaiting(flows, clock, linked.account_id)
    aws_calls.made.clear()
    view = flows.view_link(token, FlowKind.NUMBER_CHANGE)
    assert len(aws_calls.made) == 2
    as_written_before(db, config, token)

    aws_calls.made.clear()
    assert flows.view_link(token, FlowKind.NUMBER_CHANGE) == view
    assert aws_calls.made == [  # the link, the flow, then its account and its password tries
        "dynamodb.GetItem[TokensTable]",
        "dynamodb.GetItem[TokensTable]",
        "dynamodb.BatchGetItem[AccountsTable,TokensTable]",
    ]
    result = flows.confirm_password(token, PASSWORD)
    assert (result.error, result.view.status) == (None, FlowStatus.COMPLETED)
    assert flows.accounts.get(linked.account_id).whatsapp_number == NEW  # type: ignore[union-attr]


def test_a_message_with_a_link_written_before_still_binds(
    flows: WhatsAppFlows,
    linked: Account,
    make_account: Callable[..., Account],
    clock: Any,
    db: Dynamo,
    config: Settings,
) -> None:
    make_account("jss-7008", email="lain@example.com", whatsapp_number=NEW)  # NEW is held, verified
    for sender, outcome in [(NEW, FailureReason.NUMBER_TAKEN), ("+6281311113333", "awaiting_password")]:
        started = flows.start(linked.account_id, FlowKind.NUMBER_CHANGE)
        as_written_before(db, config, link_token(started.link_url))
        message = InboundMessage("wamid.2", sender, started.message, forwarded=False, sent_at=int(clock.now))
        assert flows.receive(message)["outcome"] == outcome  # the claim is read with the account


def test_a_wrong_kind_of_link_is_not_found_with_or_without_the_kind_on_it(
    flows: WhatsAppFlows, linked: Account, clock: Any, db: Dynamo, config: Settings
) -> None:
    token = b1_awaiting(flows, clock, linked.account_id)
    for written_before in (False, True):
        if written_before:
            as_written_before(db, config, token)
        with pytest.raises(ServiceError) as caught:
            flows.view_link(token, FlowKind.MIGRATION)
        assert caught.value.code == "link_not_found"


def test_the_change_reads_the_account_again_only_when_it_changed_since_it_was_read(
    flows: WhatsAppFlows,
    linked: Account,
    clock: Any,
    db: Dynamo,
    config: Settings,
    aws_calls: AwsCalls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = b1_awaiting(flows, clock, linked.account_id)
    verify = password_confirmation.verify_password

    def meanwhile_the_account_changes(password: str, hashed: str | None) -> bool:
        # JSS renames the account between the read and the change: its version moves on.
        db.update(config.accounts_table, account_key(linked.account_id), "SET #name = :n, version = version + :one",
                  n="Budi S.", one=1)  # fmt: skip
        return verify(password, hashed)

    monkeypatch.setattr(password_confirmation, "verify_password", meanwhile_the_account_changes)
    aws_calls.made.clear()
    result = flows.confirm_password(token, PASSWORD)

    assert (result.error, result.view.status) == (None, FlowStatus.COMPLETED)
    transactions = [i for i, c in enumerate(aws_calls.made) if c.startswith("dynamodb.TransactWriteItems")]
    assert len(transactions) == 2  # the first lost to the newer version, nothing of it was written
    assert aws_calls.made[transactions[0] + 1] == "dynamodb.GetItem[AccountsTable]"  # read again, then retried
    account = flows.accounts.get(linked.account_id)
    assert account is not None
    assert (account.name, account.whatsapp_number, account.version) == ("Budi S.", NEW, 2)
