"""Journey B2 over HTTP on the local stack: the code really goes out through moto's SES API."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import boto3
import pytest

from tests.integration.conftest import Api, Citizen, Stack, at_the_same_moment, random_mobile

UPDATED = "Data No. Whatsapp Berhasil diperbarui"
MAIL_FROM = "no-reply@jss.jogjakota.go.id"


def request_code(api: Api, citizen: Citizen) -> dict[str, Any]:
    response = api.call("POST", "/v1/email-verifications", citizen)
    assert response.status_code == 202, response.text
    return dict(response.json())


def code_from_mailbox(api: Api, citizen: Citizen) -> str:
    mails = [m for m in api.mailbox() if citizen.email in m["to"] and "Kode verifikasi" in m["subject"]]
    assert mails, "no verification email was sent"
    found = re.search(r"\b(\d{6})\b", mails[0]["text"])  # newest first
    assert found, mails[0]["text"]
    return found.group(1)


def verify(api: Api, citizen: Citizen, verification_id: str, code: str) -> Any:
    return api.call("POST", f"/v1/email-verifications/{verification_id}/verify", citizen, json={"code": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def change(api: Api, citizen: Citizen, token: str, number: str) -> Any:
    return api.call("PUT", "/v1/whatsapp-number", citizen, json={"change_token": token, "whatsapp_number": number})


def forget_resend_limit(citizen: Citizen) -> None:
    """Lets a test ask for a second code without waiting out the 60 seconds."""
    from shared.adapters.dynamo import Dynamo

    Dynamo().delete("TokensTable", {"pk": f"LIMIT#email_code#{citizen.account_id}"})


def test_the_whole_journey(api: Api) -> None:
    citizen = api.citizen(whatsapp=True)
    sent = request_code(api, citizen)
    local, domain = citizen.email.split("@")  # type: ignore[union-attr]
    assert sent["sent_to"] == f"{local[0]}***{local[-1]}@{domain}"
    assert set(sent) >= {"verification_id", "expires_at", "resend_after"}

    code = code_from_mailbox(api, citizen)
    mail = next(m for m in api.mailbox() if citizen.email in m["to"])
    assert mail["from"] == MAIL_FROM
    assert "<p>" in mail["html"]  # sent with an HTML part as well as text

    permit = verify(api, citizen, sent["verification_id"], code)
    assert permit.status_code == 200, permit.text
    token = permit.json()["change_token"]

    new_number = random_mobile()
    typed = f"0{new_number[3:6]}-{new_number[6:10]}-{new_number[10:]}"
    done = change(api, citizen, token, typed)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["message"] == UPDATED
    assert body["whatsapp_number"] == new_number
    assert body["whatsapp_number_display"] == typed  # as people write it

    contact = api.contact(citizen)
    assert contact["whatsapp_number"] == new_number
    assert contact["whatsapp_verified"] is False  # changed by email, not proved through WhatsApp
    assert contact["whatsapp_verified_via"] == "email"
    notices = [m for m in api.mailbox() if citizen.email in m["to"] and UPDATED in m["subject"]]
    assert len(notices) == 1
    # The old number is free again for whoever owns it next.
    assert api.account(citizen.account_id).whatsapp_number == new_number


def test_five_wrong_codes_kill_the_code(api: Api) -> None:
    citizen = api.citizen(whatsapp=True)
    sent = request_code(api, citizen)
    code = code_from_mailbox(api, citizen)
    for tries_left in (4, 3, 2, 1):
        answer = verify(api, citizen, sent["verification_id"], wrong(code))
        assert answer.status_code == 422
        assert (answer.json()["code"], answer.json()["tries_left"]) == ("code_wrong", tries_left)
    fifth = verify(api, citizen, sent["verification_id"], wrong(code))
    assert fifth.json()["code"] == "code_exhausted"
    right_too_late = verify(api, citizen, sent["verification_id"], code)
    assert right_too_late.status_code == 410
    assert right_too_late.json()["code"] == "code_exhausted"
    assert "kode baru" in right_too_late.json()["detail"]


def test_an_expired_code_is_refused(api: Api) -> None:
    from shared.adapters.dynamo import Dynamo

    citizen = api.citizen(whatsapp=True)
    sent = request_code(api, citizen)
    code = code_from_mailbox(api, citizen)
    Dynamo().update(
        "TokensTable",
        {"pk": f"VERIFICATION#{sent['verification_id']}"},
        "SET expires_at = :past",
        past=int(time.time()) - 1,
    )
    answer = verify(api, citizen, sent["verification_id"], code)
    assert (answer.status_code, answer.json()["code"]) == (410, "code_expired")


def test_a_used_code_cannot_be_used_again(api: Api) -> None:
    citizen = api.citizen(whatsapp=True)
    sent = request_code(api, citizen)
    code = code_from_mailbox(api, citizen)
    assert verify(api, citizen, sent["verification_id"], code).status_code == 200
    again = verify(api, citizen, sent["verification_id"], code)
    assert (again.status_code, again.json()["code"]) == (409, "code_used")


def test_a_new_code_makes_the_previous_one_useless(api: Api) -> None:
    citizen = api.citizen(whatsapp=True)
    first = request_code(api, citizen)
    first_code = code_from_mailbox(api, citizen)
    forget_resend_limit(citizen)
    second = request_code(api, citizen)
    second_code = code_from_mailbox(api, citizen)
    old = verify(api, citizen, first["verification_id"], first_code)
    assert (old.status_code, old.json()["code"]) == (410, "code_superseded")
    assert verify(api, citizen, second["verification_id"], second_code).status_code == 200


def test_a_new_code_sooner_than_a_minute_is_refused(api: Api) -> None:
    citizen = api.citizen(whatsapp=True)
    request_code(api, citizen)
    again = api.call("POST", "/v1/email-verifications", citizen)
    assert again.status_code == 429
    assert again.json()["code"] == "code_resend_too_soon"
    assert 0 < int(again.headers["Retry-After"]) <= 60


def test_at_most_five_codes_an_hour(api: Api) -> None:
    citizen = api.citizen(whatsapp=True)
    for _ in range(5):
        request_code(api, citizen)
        _shift_resend_window(citizen)
    refused = api.call("POST", "/v1/email-verifications", citizen)
    assert refused.status_code == 429
    assert refused.json()["code"] == "code_hourly_limit"
    assert 60 < int(refused.headers["Retry-After"]) <= 3600


def _shift_resend_window(citizen: Citizen) -> None:
    """Moves the latest request 61 s into the past, as if the citizen had waited a minute."""
    from shared.adapters.dynamo import Dynamo

    db = Dynamo()
    key = {"pk": f"LIMIT#email_code#{citizen.account_id}"}
    item = db.get("TokensTable", key)
    assert item is not None
    hits = sorted(item["hits"])
    hits[-1] -= 61
    db.update("TokensTable", key, "SET hits = :hits", hits=hits)


@contextmanager
def ses_refusing(stack: Stack) -> Iterator[None]:
    """SES refuses mail from an unverified sender: take the local sender identity away for a while."""
    ses = boto3.client(
        "sesv2",
        endpoint_url=stack.moto_endpoint,
        region_name="ap-southeast-3",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    ses.delete_email_identity(EmailIdentity=MAIL_FROM)
    try:
        yield
    finally:
        ses.create_email_identity(EmailIdentity=MAIL_FROM)


def test_when_ses_refuses_the_citizen_can_simply_try_again(api: Api, stack: Stack) -> None:
    citizen = api.citizen(whatsapp=True)
    with ses_refusing(stack):
        refused = api.call("POST", "/v1/email-verifications", citizen)
    assert refused.status_code == 503
    assert refused.json()["code"] == "email_send_failed"
    assert "coba lagi" in refused.json()["detail"]
    assert not [m for m in api.mailbox() if citizen.email in m["to"]]
    # No code was left active and the failed try did not count against the resend limit.
    sent = request_code(api, citizen)
    assert verify(api, citizen, sent["verification_id"], code_from_mailbox(api, citizen)).status_code == 200


def test_an_account_without_email_is_told_so(api: Api) -> None:
    answer = api.call("POST", "/v1/email-verifications", api.citizen(whatsapp=True, email=False))
    assert (answer.status_code, answer.json()["code"]) == (409, "email_not_registered")


def test_another_accounts_verification_does_not_exist_for_you(api: Api) -> None:
    owner, other = api.citizen(whatsapp=True), api.citizen(whatsapp=True)
    sent = request_code(api, owner)
    code = code_from_mailbox(api, owner)
    answer = verify(api, other, sent["verification_id"], code)
    assert (answer.status_code, answer.json()["code"]) == (404, "verification_not_found")
    assert verify(api, owner, sent["verification_id"], code).status_code == 200  # untouched by that


def permit_for(api: Api, citizen: Citizen) -> str:
    sent = request_code(api, citizen)
    answer = verify(api, citizen, sent["verification_id"], code_from_mailbox(api, citizen))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["change_token"])


def test_a_change_token_works_once(api: Api) -> None:
    citizen = api.citizen(whatsapp=True)
    token = permit_for(api, citizen)
    assert change(api, citizen, token, random_mobile()).status_code == 200
    reused = change(api, citizen, token, random_mobile())
    assert (reused.status_code, reused.json()["code"]) == (403, "change_token_invalid")


def test_another_accounts_change_token_is_refused(api: Api) -> None:
    owner, thief = api.citizen(whatsapp=True), api.citizen(whatsapp=True)
    token = permit_for(api, owner)
    stolen = change(api, thief, token, random_mobile())
    assert (stolen.status_code, stolen.json()["code"]) == (403, "change_token_invalid")
    assert api.contact(thief)["whatsapp_number"] == thief.whatsapp_number
    assert change(api, owner, token, random_mobile()).status_code == 200  # still the owner's


def test_one_token_used_twice_at_the_same_moment_changes_the_number_once(api: Api) -> None:
    citizen = api.citizen(whatsapp=True)
    token = permit_for(api, citizen)
    numbers = [random_mobile() for _ in range(4)]
    statuses = at_the_same_moment(*[partial(lambda n: change(api, citizen, token, n).status_code, n) for n in numbers])
    answers = dict(zip(numbers, statuses, strict=True))
    assert sorted(answers.values()) == [200, 403, 403, 403]
    winner = next(n for n, status in answers.items() if status == 200)
    assert api.contact(citizen)["whatsapp_number"] == winner
    losers = [n for n in numbers if n != winner]
    assert all(api_owner(n) is None for n in losers)


def api_owner(number: str) -> str | None:
    from shared.adapters.dynamo import Dynamo
    from shared.config import Settings
    from shared.domain.accounts import AccountRegistry

    return AccountRegistry(Dynamo(), Settings.from_environment()).owner_of(number)


def test_a_number_held_by_another_account_is_refused(api: Api) -> None:
    holder, citizen = api.citizen(whatsapp=True), api.citizen(whatsapp=True)
    token = permit_for(api, citizen)
    taken = change(api, citizen, token, holder.whatsapp_number)  # type: ignore[arg-type]
    assert (taken.status_code, taken.json()["code"]) == (409, "whatsapp_number_taken")
    # Nothing was consumed: the same token still works for a free number.
    assert change(api, citizen, token, random_mobile()).status_code == 200


def test_the_same_number_is_refused(api: Api) -> None:
    citizen = api.citizen(whatsapp=True)
    token = permit_for(api, citizen)
    same = change(api, citizen, token, citizen.whatsapp_number)  # type: ignore[arg-type]
    assert (same.status_code, same.json()["code"]) == (409, "whatsapp_number_unchanged")


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("0800-1-234567", "bebas pulsa"),  # toll-free: not a number WhatsApp can be on
        ("112", "terlalu pendek"),
        ("0812-3456-7890-1234", "terlalu panjang"),
        ("nomor saya", "tidak dapat dibaca"),
    ],
)
def test_numbers_whatsapp_cannot_be_on_get_a_reason(api: Api, typed: str, says: str) -> None:
    citizen = api.citizen(whatsapp=True)
    answer = change(api, citizen, "x" * 43, typed)
    assert answer.status_code == 422
    assert answer.json()["code"] == "whatsapp_number_invalid"
    assert says in answer.json()["detail"]


@pytest.mark.parametrize("body", [{}, {"code": "12345"}, {"code": "abcdef"}, {"code": 123456}, {"code": "1234567"}])
def test_a_malformed_code_is_a_clear_422(api: Api, body: dict[str, Any]) -> None:
    citizen = api.citizen(whatsapp=True)
    sent = request_code(api, citizen)
    answer = api.call("POST", f"/v1/email-verifications/{sent['verification_id']}/verify", citizen, json=body)
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_request"
    assert "12345" not in answer.text  # the rejected input is not echoed back
