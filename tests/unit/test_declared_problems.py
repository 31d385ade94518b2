"""The guard holding routes to the problem codes the API document declares (declared_problems.py), and
the refusals it would not otherwise see, provoked through their routes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from shared.config import settings
from shared.domain.accounts import Account, AccountRegistry
from tests.unit.declared_problems import problem_in, undeclared
from tests.unit.lambdas import FakeLambdaContext, load_function
from tests.unit.test_web import (
    PASSWORD,
    Answer,
    assert_problem,
    call,
    http_event,
    send_email_code,
    token_of,
    verify_email_code,
    web,  # noqa: F401 - the accounts the refusals start from
)

# Refusals publish no metrics, and Powertools says so (shared.observability silences it outside tests).
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

LINK = "/c/" + "A" * 32


def test_a_code_declared_for_the_operation_and_status_passes() -> None:
    assert undeclared("POST", LINK, 403, "wrong_password") is None


def test_a_code_of_another_operation_or_status_is_named() -> None:
    why = undeclared("GET", f"/v1/migrations/{uuid.uuid4()}", 404, "link_not_found")
    assert why is not None
    assert "getMigration" in why
    assert "404 link_not_found" in why
    assert undeclared("POST", LINK, 409, "wrong_password") is not None


def test_a_request_no_route_takes_is_left_to_api_gateway() -> None:
    assert undeclared("GET", "/v1/nowhere", 404, "not_found") is None
    assert undeclared("DELETE", "/v1/contact", 404, "not_found") is None


def test_the_status_and_code_are_read_from_a_resolver_answer(aws: Any) -> None:
    contact = load_function("contact").lambda_handler
    refused = contact(http_event("GET", "/v1/contact", sub="nobody"), FakeLambdaContext())
    assert problem_in(refused) == (404, "account_not_found")
    page = load_function("migrate").lambda_handler(http_event("GET", "/m/abc"), FakeLambdaContext())
    assert page["statusCode"] == 404
    assert problem_in(page) is None  # the error page a browser gets


# ----------------------------------------------------------------- refusals walked through the routes
# The guard judges only answers the suite provokes through a route, and many refusals are tested on the
# domain alone: each of these provokes one through its route (the guard holds it to the document).

CHANGER, MIGRATING = "jss-5005", "jss-1001"  # the `web` fixture's accounts
JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}
HOLDER_NUMBER = "+6281311112222"
STARTS = "/v1/number-changes"
MIGRATION, CHANGE = f"/v1/migrations/{uuid.uuid4()}", f"{STARTS}/{uuid.uuid4()}"

Mailbox = Callable[[], list[Any]]
Provoke = Callable[[AccountRegistry, Mailbox], Answer]


def request(function: str, method: str, path: str, body: dict[str, Any] | None = None, **event: Any) -> Answer:
    content = json.dumps(body) if body is not None else None
    return call(function, http_event(method, path, headers=JSON_HEADERS, body=content, **event))


def send_code(sub: str = CHANGER) -> Answer:
    return request("verify_email", "POST", "/v1/email-verifications", sub=sub)


def set_number(change_token: str, number: str) -> Answer:
    body = {"change_token": change_token, "whatsapp_number": number}
    return request("verify_email", "PUT", "/v1/whatsapp-number", body, sub=CHANGER)


def change_token(mail: Mailbox) -> str:
    verification_id, code = send_email_code(mail)
    return str(verify_email_code(verification_id, code).json()["change_token"])


def account_without_email(accounts: AccountRegistry, mail: Mailbox) -> Answer:
    accounts.save(Account("jss-7007", whatsapp_number=HOLDER_NUMBER, whatsapp_verified_via="whatsapp"))
    return send_code("jss-7007")


def second_code_at_once(accounts: AccountRegistry, mail: Mailbox) -> Answer:
    send_code()
    return send_code()


def used_code(accounts: AccountRegistry, mail: Mailbox) -> Answer:
    verification_id, code = send_email_code(mail)
    verify_email_code(verification_id, code)
    return verify_email_code(verification_id, code)


def exhausted_code(accounts: AccountRegistry, mail: Mailbox) -> Answer:
    verification_id, code = send_email_code(mail)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(settings().email_code_tries - 1):
        verify_email_code(verification_id, wrong)
    return verify_email_code(verification_id, wrong)


def number_of_another_account(accounts: AccountRegistry, mail: Mailbox) -> Answer:
    account_without_email(accounts, mail)
    return set_number(change_token(mail), HOLDER_NUMBER)


def too_many_changes(accounts: AccountRegistry, mail: Mailbox) -> Answer:
    for _ in range(settings().flow_start_limit):
        request("change_number", "POST", STARTS, sub=CHANGER)
    return request("change_number", "POST", STARTS, sub=CHANGER)


def password_before_the_message(accounts: AccountRegistry, mail: Mailbox) -> Answer:
    started = request("change_number", "POST", STARTS, sub=CHANGER).json()
    return request("change_number", "POST", f"/c/{token_of(started)}", {"password": PASSWORD})


def route(function: str, method: str, path: str, body: dict[str, Any] | None = None, **event: Any) -> Provoke:
    """One request, nothing before it."""
    return lambda accounts, mail: request(function, method, path, body, **event)


def refusal(operation_id: str, status: int, code: str, provoke: Provoke) -> Any:
    return pytest.param(status, code, provoke, id=f"{operation_id}-{code}")


REFUSALS = [
    refusal("getMigration", 401, "unauthorized", route("migrate", "GET", MIGRATION, claims={})),
    refusal("getMigration", 404, "not_found", route("migrate", "GET", '/v1/migrations/a"b', sub=MIGRATING)),
    refusal("openMigrationLink", 404, "not_found", route("migrate", "GET", "/m/a`b")),
    refusal("openMigrationLink", 422, "invalid_request", route("migrate", "GET", "/m/abc", query={"open": "x"})),
    refusal("startNumberChange", 401, "unauthorized", route("change_number", "POST", STARTS, claims={})),
    refusal("startNumberChange", 404, "account_not_found", route("change_number", "POST", STARTS, sub="jss-9999")),
    refusal("startNumberChange", 409, "migration_required", route("change_number", "POST", STARTS, sub=MIGRATING)),
    refusal("startNumberChange", 429, "too_many_starts", too_many_changes),
    refusal("getNumberChange", 401, "unauthorized", route("change_number", "GET", CHANGE, claims={})),
    refusal("getNumberChange", 404, "flow_not_found", route("change_number", "GET", CHANGE, sub=CHANGER)),
    refusal("getNumberChange", 422, "invalid_request", route("change_number", "GET", f"{STARTS}/x", sub=CHANGER)),
    refusal("openNumberChangeLink", 404, "link_not_found", route("change_number", "GET", LINK)),
    refusal("openNumberChangeLink", 422, "invalid_request", route("change_number", "GET", LINK, query={"open": "x"})),
    refusal("confirmNumberChange", 404, "link_not_found", route("change_number", "POST", LINK, {"password": "x"})),
    refusal("confirmNumberChange", 409, "flow_awaiting_message", password_before_the_message),
    refusal("sendEmailCode", 401, "unauthorized", lambda accounts, mail: send_code("")),
    refusal("sendEmailCode", 404, "account_not_found", lambda accounts, mail: send_code("jss-9999")),
    refusal("sendEmailCode", 409, "email_not_registered", account_without_email),
    refusal("sendEmailCode", 409, "migration_required", lambda accounts, mail: send_code(MIGRATING)),
    refusal("sendEmailCode", 429, "code_resend_too_soon", second_code_at_once),
    refusal(
        "verifyEmailCode",
        404,
        "verification_not_found",
        lambda accounts, mail: verify_email_code(str(uuid.uuid4()), "123456"),
    ),
    refusal("verifyEmailCode", 409, "code_used", used_code),
    refusal("verifyEmailCode", 410, "code_exhausted", exhausted_code),
    refusal(
        "setWhatsAppNumber", 403, "change_token_invalid", lambda accounts, mail: set_number("t" * 32, HOLDER_NUMBER)
    ),
    refusal("setWhatsAppNumber", 409, "whatsapp_number_taken", number_of_another_account),
    refusal(
        "setWhatsAppNumber",
        409,
        "whatsapp_number_unchanged",
        lambda accounts, mail: set_number(change_token(mail), "+6285712345678"),
    ),
    refusal("setWhatsAppNumber", 422, "whatsapp_number_invalid", lambda accounts, mail: set_number("t" * 32, "0812")),
    refusal(
        "setWhatsAppNumber",
        422,
        "whatsapp_number_is_city",
        lambda accounts, mail: set_number("t" * 32, settings().whatsapp_business_number),
    ),
    refusal("getContact", 401, "unauthorized", route("contact", "GET", "/v1/contact", claims={})),
    refusal(
        "verifyWebhook",
        422,
        "invalid_request",
        route("whatsapp_webhook", "GET", "/whatsapp/webhook", query={"hub.challenge": "9" * 300}),
    ),
]


@pytest.mark.usefixtures("web")
@pytest.mark.parametrize(("status", "code", "provoke"), REFUSALS)
def test_a_route_refuses_with_its_declared_code(
    registry: AccountRegistry,
    sent_mail: Mailbox,
    status: int,
    code: str,
    provoke: Provoke,
) -> None:
    assert_problem(provoke(registry, sent_mail), status, code)
