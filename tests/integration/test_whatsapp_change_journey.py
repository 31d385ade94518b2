"""Journey B1 over HTTP on the local stack: message, blue link, password, **Ubah**."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.integration.conftest import Api, Citizen, WhatsApp, at_the_same_moment, random_mobile

CHANGED = "Pergantian No. WhatsApp Berhasil"
JSON = {"Accept": "application/json"}


def start(api: Api, citizen: Citizen) -> dict[str, str]:
    response = api.call("POST", "/v1/number-changes", citizen)
    assert response.status_code == 201, response.text
    return dict(response.json())


def status(api: Api, citizen: Citizen, flow_id: str) -> dict[str, Any]:
    response = api.call("GET", f"/v1/number-changes/{flow_id}", citizen)
    assert response.status_code == 200, response.text
    return dict(response.json())


def csrf_from(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no password form"
    return found.group(1)


def submit(api: Api, path: str, password: str, csrf: str | None) -> Any:
    """Posts the page's form as a browser does, following the 303 to the page (with its cookie)."""
    form = {"password": password}
    if csrf is not None:
        form["csrf_token"] = csrf
    answer = api.call("POST", path, data=form)
    if answer.history:  # Post/Redirect/Get: the post was answered with a 303 to the link page itself
        assert [(step.status_code, urlsplit(step.headers["Location"]).path) for step in answer.history] == [(303, path)]
    return answer


def ready_for_password(
    api: Api, whatsapp: WhatsApp, citizen: Citizen, new_number: str | None = None
) -> tuple[str, str]:
    """Starts a change and sends the message; returns the link path and the new number."""
    started = start(api, citizen)
    number = new_number or random_mobile()
    whatsapp.send(started["message"], number)
    return urlsplit(started["link_url"]).path, number


@pytest.mark.parametrize("hash_kind", ["bcrypt-2y", "argon2id"])
def test_the_whole_journey(api: Api, whatsapp: WhatsApp, hash_kind: str) -> None:
    citizen = api.citizen(whatsapp=True, hash_kind=hash_kind)
    old_number = citizen.whatsapp_number
    started = start(api, citizen)
    assert urlsplit(started["link_url"]).path.startswith("/c/")
    assert "mengganti Nomor WhatsApp" in started["message"]
    path = urlsplit(started["link_url"]).path

    waiting = api.call("GET", path)
    assert "Menunggu pesan WhatsApp" in waiting.text
    assert 'http-equiv="refresh"' in waiting.text

    new_number = random_mobile()
    whatsapp.send(started["message"], new_number)
    assert status(api, citizen, started["flow_id"])["status"] == "awaiting_password"
    assert api.contact(citizen)["whatsapp_number"] == old_number  # nothing changes before the password

    form_page = api.call("GET", path)
    assert form_page.status_code == 200
    assert '<label for="password">' in form_page.text
    assert ">Ubah</button>" in form_page.text
    assert new_number[-3:] in form_page.text
    assert new_number not in form_page.text
    assert "frame-ancestors 'none'" in form_page.headers["Content-Security-Policy"]

    done = submit(api, path, citizen.password, csrf_from(form_page.text))
    assert done.status_code == 200
    assert done.history  # a 303: Back and reload never post again
    assert f">{CHANGED}</h1>" in done.text
    assert citizen.password not in done.text

    contact = api.contact(citizen)
    assert contact["whatsapp_number"] == new_number
    assert contact["whatsapp_verified"] is True
    assert status(api, citizen, started["flow_id"])["status"] == "completed"
    notices = [m for m in api.mailbox() if citizen.email in m["to"] and CHANGED in m["subject"]]
    assert len(notices) == 1
    # The old number is released and can be claimed by someone else.
    from tests.integration.test_email_change_journey import api_owner

    assert api_owner(old_number) is None  # type: ignore[arg-type]
    assert api_owner(new_number) == citizen.account_id


def test_json_clients_confirm_with_json(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen(whatsapp=True)
    path, _number = ready_for_password(api, whatsapp, citizen)
    view = api.call("GET", path, headers=JSON).json()
    assert view["status"] == "awaiting_password"
    answer = api.call("POST", path, headers=JSON, json={"password": citizen.password, "csrf_token": view["csrf_token"]})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["message"]) == ("completed", CHANGED)


def test_a_wrong_password_says_how_many_tries_are_left_and_five_lock_the_flow(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen(whatsapp=True)
    path, _ = ready_for_password(api, whatsapp, citizen)
    page = api.call("GET", path).text
    for tries_left in (4, 3, 2, 1):
        answer = submit(api, path, "salah-" + str(tries_left), csrf_from(page))
        assert answer.status_code == 200
        assert answer.history
        assert f"Sisa percobaan: {tries_left}" in answer.text
        assert "salah-" not in answer.text  # never echoed
        page = answer.text
    locked = submit(api, path, "salah-lagi", csrf_from(page))
    assert locked.history
    assert "Proses dikunci" in locked.text
    assert "<form" not in locked.text
    right_too_late = api.call(
        "POST", path, headers=JSON, json={"password": citizen.password, "csrf_token": csrf_from(page)}
    )
    assert right_too_late.status_code == 423
    assert right_too_late.json()["code"] == "flow_locked"
    assert api.contact(citizen)["whatsapp_number"] == citizen.whatsapp_number


def test_ten_wrong_passwords_across_flows_lock_the_account_for_a_while(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen(whatsapp=True)
    wrong = 0
    while wrong < 10:
        path, _ = ready_for_password(api, whatsapp, citizen)
        csrf = api.call("GET", path, headers=JSON).json()["csrf_token"]
        for _ in range(min(4, 10 - wrong)):
            answer = api.call("POST", path, headers=JSON, json={"password": "bukan-ini", "csrf_token": csrf})
            assert answer.json()["code"] == "wrong_password"
            wrong += 1
        _reset_start_limit(citizen)
    path, _ = ready_for_password(api, whatsapp, citizen)
    csrf = api.call("GET", path, headers=JSON).json()["csrf_token"]
    locked = api.call("POST", path, headers=JSON, json={"password": citizen.password, "csrf_token": csrf})
    assert locked.status_code == 429
    problem = locked.json()
    assert problem["code"] == "password_locked"
    from datetime import datetime

    from shared.clock import wib_time

    until = datetime.fromisoformat(problem["locked_until"].replace("Z", "+00:00")).timestamp()
    assert f"sampai pukul {wib_time(until)}" in problem["detail"]  # citizens read Yogyakarta time
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    assert api.contact(citizen)["whatsapp_number"] == citizen.whatsapp_number


def _reset_start_limit(citizen: Citizen) -> None:
    from shared.adapters.dynamo import Dynamo

    Dynamo().delete("TokensTable", {"pk": f"LIMIT#start#number_change#{citizen.account_id}"})


def test_an_expired_flow_cannot_be_confirmed(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen(whatsapp=True)
    started = start(api, citizen)
    whatsapp.send(started["message"], random_mobile())
    path = urlsplit(started["link_url"]).path
    csrf = csrf_from(api.call("GET", path).text)
    api.expire_flow(started["flow_id"])
    answer = submit(api, path, citizen.password, csrf)
    assert answer.status_code == 404
    assert "Tautan tidak berlaku" in answer.text
    assert status(api, citizen, started["flow_id"])["status"] == "expired"
    assert api.contact(citizen)["whatsapp_number"] == citizen.whatsapp_number


def test_a_message_from_the_current_number_fails_the_flow(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen(whatsapp=True)
    started = start(api, citizen)
    whatsapp.send(started["message"], citizen.whatsapp_number)
    state = status(api, citizen, started["flow_id"])
    assert (state["status"], state["reason"]) == ("failed", "same_number")
    page = api.call("GET", urlsplit(started["link_url"]).path)
    assert "kirim pesan dari WhatsApp di nomor yang baru" in page.text


def test_a_number_held_by_another_account_fails_the_flow(api: Api, whatsapp: WhatsApp) -> None:
    holder, citizen = api.citizen(whatsapp=True), api.citizen(whatsapp=True)
    started = start(api, citizen)
    whatsapp.send(started["message"], holder.whatsapp_number)
    state = status(api, citizen, started["flow_id"])
    assert (state["status"], state["reason"]) == ("failed", "number_taken")


def test_two_submissions_at_the_same_moment_change_the_number_once(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen(whatsapp=True)
    path, number = ready_for_password(api, whatsapp, citizen)
    csrf = api.call("GET", path, headers=JSON).json()["csrf_token"]

    def confirm() -> tuple[int, str]:
        answer = api.call("POST", path, headers=JSON, json={"password": citizen.password, "csrf_token": csrf})
        return answer.status_code, answer.json().get("status", "")

    answers = at_the_same_moment(confirm, confirm, confirm)
    assert answers == [(200, "completed")] * 3  # the others see the done state
    from tests.integration.test_migration_journey import _audit_records

    assert len(_audit_records(citizen.account_id)) == 1
    assert len([m for m in api.mailbox() if citizen.email in m["to"] and CHANGED in m["subject"]]) == 1
    assert api.contact(citizen)["whatsapp_number"] == number


def test_a_post_without_the_anti_forgery_value_is_refused(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen(whatsapp=True)
    path, _ = ready_for_password(api, whatsapp, citizen)
    for csrf in (None, "", "123.abc", "9999999999." + "0" * 64):
        answer = submit(api, path, citizen.password, csrf)
        assert answer.status_code == 403
        assert "Formulir ini tidak berasal dari halaman tautan Anda" in answer.text
    other_path, _ = ready_for_password(api, whatsapp, api.citizen(whatsapp=True))
    borrowed = csrf_from(api.call("GET", other_path).text)  # valid, but for another link
    assert submit(api, path, citizen.password, borrowed).status_code == 403
    assert api.contact(citizen)["whatsapp_number"] == citizen.whatsapp_number


def test_a_password_before_the_message_arrived_is_refused(api: Api) -> None:
    citizen = api.citizen(whatsapp=True)
    started = start(api, citizen)
    path = urlsplit(started["link_url"]).path
    answer = api.call("POST", path, json={"password": citizen.password})
    assert (answer.status_code, answer.json()["code"]) == (409, "flow_awaiting_message")
    assert status_of_link(api, path) == "pending"


def test_json_clients_need_no_anti_forgery_value(api: Api, whatsapp: WhatsApp) -> None:
    """api.md: POST /c/{token} takes JSON {"password": ...}; the form's value is for form posts."""
    citizen = api.citizen(whatsapp=True)
    path, number = ready_for_password(api, whatsapp, citizen)
    answer = api.call("POST", path, json={"password": citizen.password})
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")  # asked in JSON, answered in JSON
    assert answer.json()["message"] == CHANGED
    assert api.contact(citizen)["whatsapp_number"] == number


def test_racing_wrong_passwords_never_pass_and_lock_the_flow(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen(whatsapp=True)
    path, _ = ready_for_password(api, whatsapp, citizen)

    def wrong_try() -> tuple[int, str]:
        answer = api.call("POST", path, json={"password": "tebakan-salah"})
        return answer.status_code, answer.json().get("code", "")

    codes = at_the_same_moment(*[wrong_try] * 8)
    # Every try is refused: wrong, locked, or (under this burst) "busy, try again"; none passes.
    assert {code for _, code in codes} <= {"wrong_password", "flow_locked", "busy"}, codes
    assert all(status in (403, 423, 429) for status, _ in codes), codes
    assert sum(code == "wrong_password" for _, code in codes) <= 4
    assert status_of_link(api, path) == "locked"
    assert api.contact(citizen)["whatsapp_number"] == citizen.whatsapp_number


def test_the_proposed_number_is_never_stored_in_clear(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen(whatsapp=True)
    path, number = ready_for_password(api, whatsapp, citizen)
    assert not _tables_containing(number), "the proposed number sits in clear in the database"
    api.call("POST", path, json={"password": citizen.password})
    assert _tables_containing(number) == {"AccountsTable"}  # now it is the account's number


def _tables_containing(text: str) -> set[str]:
    from shared.adapters.dynamo import Dynamo

    client = Dynamo().client
    found = set()
    for table in ("AccountsTable", "TokensTable", "AuditTable", "IdempotencyTable"):
        for page in client.get_paginator("scan").paginate(TableName=table):
            if any(text in str(item) for item in page["Items"]):
                found.add(table)
    return found


def test_a_form_body_that_is_not_utf8_is_a_clear_4xx(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen(whatsapp=True)
    path, _ = ready_for_password(api, whatsapp, citizen)
    answer = api.call(
        "POST",
        path,
        data=b"password=\xff\xfe&csrf_token=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 400  # body_unreadable: the bytes are not UTF-8
    assert "tidak dapat dibaca" in answer.text
    assert status_of_link(api, path) == "awaiting_password"


def test_an_account_without_whatsapp_is_offered_the_migration(api: Api) -> None:
    answer = api.call("POST", "/v1/number-changes", api.citizen())
    assert (answer.status_code, answer.json()["code"]) == (409, "migration_required")


def test_another_accounts_change_does_not_exist_for_you(api: Api) -> None:
    owner, other = api.citizen(whatsapp=True), api.citizen(whatsapp=True)
    started = start(api, owner)
    answer = api.call("GET", f"/v1/number-changes/{started['flow_id']}", other)
    assert (answer.status_code, answer.json()["code"]) == (404, "flow_not_found")


def test_a_migration_link_is_not_a_change_link(api: Api) -> None:
    citizen = api.citizen()
    migration = api.call("POST", "/v1/migrations", citizen).json()
    token = urlsplit(migration["link_url"]).path.rsplit("/", 1)[1]
    assert api.call("GET", f"/c/{token}").status_code == 404


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("application/json", b"{not json", 400, "body_unreadable"),
        ("application/json", b'{"password": ""}', 422, "invalid_request"),
        ("application/json", b'{"password": "x", "extra": 1}', 422, "invalid_request"),
        ("application/x-www-form-urlencoded", b"pass=x", 422, "invalid_request"),
        ("text/plain;charset=UTF-8", b'{"password": "x"}', 415, "unsupported_media_type"),
    ],
)
def test_a_malformed_confirmation_is_a_clear_4xx(
    api: Api, whatsapp: WhatsApp, content_type: str, body: bytes, status: int, code: str
) -> None:
    citizen = api.citizen(whatsapp=True)
    path, _ = ready_for_password(api, whatsapp, citizen)
    answer = api.call("POST", path, data=body, headers={"Content-Type": content_type, **JSON})
    assert answer.status_code == status
    assert answer.json()["code"] == code
    assert status_of_link(api, path) == "awaiting_password"


def status_of_link(api: Api, path: str) -> str:
    return str(api.call("GET", path, headers=JSON).json()["status"])
