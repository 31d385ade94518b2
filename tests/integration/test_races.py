"""Races at 50 concurrent requests against the local stack: exactly one winner, no number on two
accounts, and claims and audit records that tell one consistent story.

- one B1 flow confirmed 50 times at once;
- one number claimed by 20 accounts at once, through every journey (A, B1, B2);
- one account changed through 5 change tokens (B2) at once.

A request that loses a race may answer the documented "busy, try again" (429 with Retry-After) and
must then succeed when tried again, as a client would; it never answers 5xx.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

from shared.adapters.dynamo import Dynamo, from_attributes
from shared.adapters.keys import number_fingerprint
from tests.integration.conftest import Api, Citizen, WhatsApp, at_the_same_moment, random_mobile
from tests.integration.test_email_change_journey import change, forget_resend_limit, permit_for
from tests.integration.test_whatsapp_change_journey import JSON, ready_for_password

RETRYABLE = {409: "message_in_progress", 429: "busy"}


def audit_of(account_id: str) -> list[dict[str, Any]]:
    response = Dynamo().client.query(
        TableName="AuditTable",
        KeyConditionExpression="account_id = :a",
        ExpressionAttributeValues={":a": {"S": account_id}},
        ConsistentRead=True,
    )
    return sorted((from_attributes(item) for item in response["Items"]), key=lambda record: record["event"])


def claim_owner(number: str) -> str | None:
    item = Dynamo().get("AccountsTable", {"pk": f"NUMBER#{number_fingerprint(number)}"})
    return str(item["account_id"]) if item else None


def assert_consistent(api: Api, citizen: Citizen) -> None:
    """The account's audit records form one chain from its first number to its current one, and its
    current number is claimed by it."""
    records = audit_of(citizen.account_id)
    first = number_fingerprint(citizen.whatsapp_number) if citizen.whatsapp_number else None
    chain = [first, *(record.get("new_number_hash") for record in records)]
    assert [record.get("old_number_hash") for record in records] == chain[:-1], records
    current = api.account(citizen.account_id).whatsapp_number
    assert chain[-1] == (number_fingerprint(current) if current else None)
    if current:
        assert claim_owner(current) == citizen.account_id


def until_not_busy(call: Callable[[], requests.Response], seconds: float = 30) -> requests.Response:
    """What a client does with "busy, try again": waits Retry-After and tries again."""
    deadline = time.monotonic() + seconds
    while True:
        answer = call()
        assert answer.status_code < 500, answer.text
        retry = answer.status_code in RETRYABLE and answer.json().get("code") == RETRYABLE[answer.status_code]
        if not retry or time.monotonic() > deadline:
            return answer
        assert int(answer.headers["Retry-After"]) > 0
        time.sleep(min(1.0, int(answer.headers["Retry-After"])))


def test_one_flow_confirmed_fifty_times_at_once_changes_the_number_once(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen(whatsapp=True)
    path, number = ready_for_password(api, whatsapp, citizen)

    def confirm() -> requests.Response:
        return api.call("POST", path, headers=JSON, json={"password": citizen.password})

    answers = at_the_same_moment(*[confirm] * 50)

    for answer in answers:
        assert answer.status_code in (200, 429), answer.text
        if answer.status_code == 429:
            assert answer.json()["code"] == "busy"
            assert int(answer.headers["Retry-After"]) > 0
    assert any(answer.json().get("status") == "completed" for answer in answers)
    changes = [record for record in audit_of(citizen.account_id) if record["method"] == "whatsapp_change"]
    assert len(changes) == 1
    assert api.contact(citizen)["whatsapp_number"] == number
    assert until_not_busy(confirm).json()["status"] == "completed"  # busy ones, tried again, see the result
    assert_consistent(api, citizen)


def test_one_number_claimed_by_twenty_accounts_through_every_journey(api: Api, whatsapp: WhatsApp) -> None:
    number = random_mobile()
    migrating = [api.citizen() for _ in range(7)]
    changing = [api.citizen(whatsapp=True) for _ in range(7)]
    emailing = [api.citizen(whatsapp=True) for _ in range(6)]
    migrations = [api.call("POST", "/v1/migrations", c).json() for c in migrating]
    # B1 flows wait for their password: the number was proposed while nobody had proven it.
    links = [ready_for_password(api, whatsapp, c, number)[0] for c in changing]
    tokens = [permit_for(api, c) for c in emailing]

    def deliver(started: dict[str, Any]) -> Callable[[], requests.Response]:
        delivery = whatsapp.delivery(whatsapp.value([whatsapp.text_message(started["message"], number)]))
        return lambda: until_not_busy(lambda: whatsapp.post(delivery))  # Meta retries what is not a 200

    def confirm(citizen: Citizen, path: str) -> Callable[[], requests.Response]:
        return lambda: until_not_busy(lambda: api.call("POST", path, headers=JSON, json={"password": citizen.password}))

    def set_by_email(citizen: Citizen, token: str) -> Callable[[], requests.Response]:
        return lambda: until_not_busy(lambda: change(api, citizen, token, number))

    answers = at_the_same_moment(
        *[deliver(started) for started in migrations],
        *[confirm(c, path) for c, path in zip(changing, links, strict=True)],
        *[set_by_email(c, token) for c, token in zip(emailing, tokens, strict=True)],
    )

    assert all(answer.status_code < 500 for answer in answers)
    everyone = [*migrating, *changing, *emailing]
    holders = [c for c in everyone if api.account(c.account_id).whatsapp_number == number]
    assert len(holders) == 1, "the number must end on exactly one account"
    [holder] = holders
    assert claim_owner(number) == holder.account_id
    # WhatsApp proof beats an email claim, so the one holder is the one proof that won.
    assert api.account(holder.account_id).whatsapp_verified
    fingerprint = number_fingerprint(number)
    proofs = [
        (c.account_id, r["method"])
        for c in everyone
        for r in audit_of(c.account_id)
        if r.get("new_number_hash") == fingerprint and r["method"] != "email_change"
    ]
    assert [account for account, _ in proofs] == [holder.account_id]
    for citizen in emailing:  # every email claim that landed was taken over by the proof, audited
        methods = [r["method"] for r in audit_of(citizen.account_id)]
        assert methods.count("email_change") == methods.count("taken_over_by_whatsapp_proof")
    for citizen in everyone:
        assert_consistent(api, citizen)


def test_one_account_changed_through_five_tokens_at_once(api: Api) -> None:
    citizen = api.citizen(whatsapp=True)
    tokens = []
    for _ in range(5):
        tokens.append(permit_for(api, citizen))
        forget_resend_limit(citizen)
    numbers = [random_mobile() for _ in tokens]

    def use(token: str, number: str) -> Callable[[], requests.Response]:
        return lambda: change(api, citizen, token, number)

    answers = at_the_same_moment(*[use(t, n) for t, n in zip(tokens, numbers, strict=True)])

    for answer in answers:
        assert answer.status_code in (200, 429), answer.text
        if answer.status_code == 429:
            assert answer.json()["code"] == "busy"
            assert int(answer.headers["Retry-After"]) > 0
    # Nothing was consumed by a busy answer: tried again, every token changes the number once.
    for answer, token, number in zip(answers, tokens, numbers, strict=True):
        if answer.status_code == 429:
            assert until_not_busy(use(token, number)).status_code == 200
    records = audit_of(citizen.account_id)
    assert sorted(r["new_number_hash"] for r in records) == sorted(number_fingerprint(n) for n in numbers)
    final = api.account(citizen.account_id).whatsapp_number
    assert [claim_owner(n) for n in numbers] == [citizen.account_id if n == final else None for n in numbers]
    assert_consistent(api, citizen)
