"""Fault injection in the middle of the journeys: DynamoDB unreachable, hung or throttling, SES
refusing or timing out (``/__dev/faults``, ``devserver/faults.py``).

Each time: a clear 503 problem with ``Retry-After`` within a few seconds (never a 500, never a hang
until the function's timeout), nothing half-written, and the same request tried again after the
fault works.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from tests.integration.conftest import Api, Stack, WhatsApp, random_mobile
from tests.integration.test_email_change_journey import change, code_from_mailbox, permit_for, request_code, verify
from tests.integration.test_migration_journey import _audit_records
from tests.integration.test_races import until_not_busy
from tests.integration.test_whatsapp_change_journey import JSON, ready_for_password

# The service's clients give up after 2 attempts of at most 1 s connect + 2 s read
# (shared/adapters/aws.py); with the gateway around it, an answer comes well within this.
FEW_SECONDS = 8.0


@contextmanager
def fault(stack: Stack, **modes: str) -> Iterator[None]:
    """Sets the modes (``dynamodb="down"``, ``ses="frozen"``, ...) and always puts everything back up."""
    answer = requests.post(stack.url("/__dev/faults"), json=modes, timeout=10)
    assert answer.status_code == 200, answer.text
    try:
        yield
    finally:
        requests.post(stack.url("/__dev/faults"), json=dict.fromkeys(modes, "up"), timeout=10).raise_for_status()


def timed(call: Callable[[], requests.Response]) -> tuple[requests.Response, float]:
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


def assert_unavailable(answer: requests.Response, seconds: float, code: str = "service_unavailable") -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code
    assert int(answer.headers["Retry-After"]) > 0
    assert seconds < FEW_SECONDS, f"answered after {seconds:.1f} s"


@pytest.mark.parametrize("mode", ["down", "frozen", "throttle"])
def test_dynamodb_failing_when_b2_sets_the_number(api: Api, stack: Stack, mode: str) -> None:
    citizen = api.citizen(whatsapp=True)
    token = permit_for(api, citizen)
    number = random_mobile()

    with fault(stack, dynamodb=mode):
        answer, seconds = timed(lambda: change(api, citizen, token, number))

    assert_unavailable(answer, seconds)
    assert api.account(citizen.account_id).whatsapp_number == citizen.whatsapp_number  # nothing half-written
    assert _audit_records(citizen.account_id) == []
    assert api.call("GET", "/v1/contact", citizen).json()["whatsapp_number"] == citizen.whatsapp_number
    again = change(api, citizen, token, number)  # the change token was not used up
    assert again.status_code == 200, again.text
    assert api.account(citizen.account_id).whatsapp_number == number


@pytest.mark.parametrize("mode", ["down", "frozen", "throttle"])
def test_dynamodb_failing_when_meta_delivers_the_message(api: Api, stack: Stack, whatsapp: WhatsApp, mode: str) -> None:
    citizen = api.citizen()
    started = api.call("POST", "/v1/migrations", citizen).json()
    sender = random_mobile()
    delivery = whatsapp.delivery(whatsapp.value([whatsapp.text_message(started["message"], sender)]))

    with fault(stack, dynamodb=mode):
        answer, seconds = timed(lambda: whatsapp.post(delivery))

    # Not a 2xx, so Meta delivers it again; and quickly, so Meta does not give up on the endpoint.
    assert_unavailable(answer, seconds)
    assert api.account(citizen.account_id).whatsapp_number is None
    retried = until_not_busy(lambda: whatsapp.post(delivery))  # Meta's retry
    assert retried.status_code == 200, retried.text
    assert retried.json()["outcomes"] == ["completed"]
    assert api.account(citizen.account_id).whatsapp_number == sender
    assert len(_audit_records(citizen.account_id)) == 1


@pytest.mark.parametrize("mode", ["down", "throttle"])
def test_dynamodb_failing_when_the_password_is_confirmed(api: Api, stack: Stack, whatsapp: WhatsApp, mode: str) -> None:
    citizen = api.citizen(whatsapp=True)
    path, number = ready_for_password(api, whatsapp, citizen)

    def confirm() -> requests.Response:
        return api.call("POST", path, headers=JSON, json={"password": citizen.password})

    with fault(stack, dynamodb=mode):
        answer, seconds = timed(confirm)

    assert_unavailable(answer, seconds)
    assert api.account(citizen.account_id).whatsapp_number == citizen.whatsapp_number
    assert confirm().json()["status"] == "completed"
    assert api.account(citizen.account_id).whatsapp_number == number


@pytest.mark.parametrize("mode", ["refuse", "throttle", "frozen", "down"])
def test_ses_failing_when_the_code_is_sent(api: Api, stack: Stack, mode: str) -> None:
    citizen = api.citizen(whatsapp=True)

    with fault(stack, ses=mode):
        answer, seconds = timed(lambda: api.call("POST", "/v1/email-verifications", citizen))

    assert_unavailable(answer, seconds, code="email_send_failed")
    assert not [m for m in api.mailbox() if citizen.email in m["to"]]
    # No code was left usable and the failed try did not count against the resend limit.
    sent = request_code(api, citizen)
    assert verify(api, citizen, sent["verification_id"], code_from_mailbox(api, citizen)).status_code == 200


def test_a_change_stands_when_its_notification_cannot_be_sent(api: Api, stack: Stack) -> None:
    citizen = api.citizen(whatsapp=True)
    token = permit_for(api, citizen)
    number = random_mobile()

    with fault(stack, ses="frozen"):
        answer, seconds = timed(lambda: change(api, citizen, token, number))

    assert answer.status_code == 200, answer.text  # the number did change: the notice is best effort
    assert seconds < FEW_SECONDS
    assert api.account(citizen.account_id).whatsapp_number == number
    assert len(_audit_records(citizen.account_id)) == 1


def test_the_faults_route_says_what_is_failing(stack: Stack) -> None:
    with fault(stack, dynamodb="throttle", ses="refuse"):
        state: dict[str, Any] = requests.get(stack.url("/__dev/faults"), timeout=10).json()
        assert state == {"dynamodb": "throttle", "ses": "refuse", "eventbridge": "up", "whatsapp": "ok"}
    assert requests.get(stack.url("/__dev/faults"), timeout=10).json()["dynamodb"] == "up"
