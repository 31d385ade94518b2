"""The "Bukan saya" link over HTTP on the local stack: a B2 change, its undo link from the email, the
page that changes nothing, the form post that puts the previous number back, and the day's block."""

from __future__ import annotations

import re
from typing import Any

import requests

from tests.integration.conftest import Api, Citizen, Stack, eventually, random_mobile
from tests.integration.test_email_change_journey import UPDATED, change, code_from_mailbox, request_code, verify


def changed_by_email(api: Api, citizen: Citizen, number: str) -> None:
    """Journey B2 from the code to the new number, as the app does it."""
    sent = request_code(api, citizen)
    permit = verify(api, citizen, sent["verification_id"], code_from_mailbox(api, citizen))
    assert permit.status_code == 200, permit.text
    done = change(api, citizen, permit.json()["change_token"], number)
    assert done.status_code == 200, done.text


def undo_link_in_mail(api: Api, stack: Stack, citizen: Citizen) -> str:
    [notice] = [m for m in api.mailbox() if citizen.email in m["to"] and UPDATED in m["subject"]]
    [link] = set(re.findall(re.escape(stack.base_url) + r"/u/[A-Za-z0-9_-]+", notice["text"]))
    return link


def dev_account(stack: Stack, account_id: str) -> dict[str, Any]:
    answer = requests.get(stack.url("/__dev/accounts"), params={"id": account_id}, timeout=10)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def masked(number: str) -> str:
    """As the service masks a number, by whole groups: ``0812-****-7890``."""
    from shared.domain.phone import mask_number

    return mask_number(number)


def whatsapp_sent_to(stack: Stack, number: str, template: str) -> list[dict[str, Any]]:
    """What the Graph API emulator accepted for ``number`` with ``template``, newest first."""
    sent = requests.get(stack.url("/__dev/whatsapp/outbox"), timeout=10).json()
    return [m for m in sent if m.get("to") == number and m.get("template") == template]


def test_a_b2_change_undone_through_the_link_in_its_email(api: Api, stack: Stack) -> None:
    citizen = api.citizen(whatsapp=True)
    old, new = citizen.whatsapp_number or "", random_mobile()
    changed_by_email(api, citizen, new)

    link = undo_link_in_mail(api, stack, citizen)
    [notice] = [m for m in api.mailbox() if citizen.email in m["to"] and UPDATED in m["subject"]]
    assert masked(new) in notice["text"]
    assert masked(old) in notice["text"]  # what the link puts back
    assert f'href="{link}"' in notice["html"]
    # The replaced number hears of it on WhatsApp, with the same link (queue, sender, Graph API).
    warning = eventually(lambda: whatsapp_sent_to(stack, old, "jss_nomor_whatsapp_diganti"), what="the warning")
    assert link in warning[0]["parameters"]
    assert masked(new) in warning[0]["parameters"]

    # Opening it (a browser, a mail scanner, a chat preview) changes nothing.
    page = requests.get(link, timeout=10)
    assert page.status_code == 200
    assert "Batalkan penggantian Nomor WhatsApp?" in page.text
    assert masked(old) in page.text
    assert masked(new) in page.text
    assert old[3:] not in page.text
    assert dev_account(stack, citizen.account_id)["whatsapp_number"] == new
    [value] = re.findall(r'name="csrf_token" value="([^"]+)"', page.text)

    posted = requests.post(link, data={"csrf_token": value}, allow_redirects=False, timeout=10)
    assert posted.status_code == 303
    assert posted.headers["Location"] == link
    after = requests.get(link, timeout=10)
    assert "Perubahan dibatalkan" in after.text
    assert dev_account(stack, citizen.account_id)["whatsapp_number"] == old
    contact = api.contact(citizen)
    assert (contact["whatsapp_number"], contact["whatsapp_verified_via"]) == (old, "whatsapp")

    again = requests.post(link, json={}, headers={"Accept": "application/json"}, timeout=10)
    assert (again.status_code, again.json()["code"]) == (409, "undo_used")

    restored = [m for m in api.mailbox() if citizen.email in m["to"] and "dipulihkan" in m["subject"]]
    assert len(restored) == 1
    assert "password" in restored[0]["text"]
    eventually(lambda: whatsapp_sent_to(stack, old, "jss_nomor_whatsapp_dipulihkan"), what="the restored notice")
    # JSS hears of it as a change back, and ends the account's sessions.
    undone = eventually(
        lambda: [e for e in api.events_for(citizen.account_id) if e["detail"]["journey"] == "undo"],
        what="the undo's event",
    )
    assert undone[0]["detail"]["end_sessions"] is True
    assert undone[0]["detail"]["whatsapp_number"] == old


def test_no_number_change_for_a_day_after_an_undo(api: Api, stack: Stack) -> None:
    citizen = api.citizen(whatsapp=True)
    changed_by_email(api, citizen, random_mobile())
    undone = requests.post(undo_link_in_mail(api, stack, citizen), json={}, timeout=10)
    assert undone.status_code == 200, undone.text
    from tests.integration.test_email_change_journey import forget_resend_limit

    forget_resend_limit(citizen)

    for refused in (
        api.call("POST", "/v1/email-verifications", citizen),  # B2
        api.call("POST", "/v1/number-changes", citizen),  # B1
    ):
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "number_changes_blocked"
        assert 86_000 < int(refused.headers["Retry-After"]) <= 86_400
        assert "Demi keamanan" in refused.json()["detail"]


def test_a_link_that_is_not_known_says_who_to_contact(stack: Stack) -> None:
    page = requests.get(stack.url("/u/" + "Z" * 43), timeout=10)
    assert page.status_code == 404
    assert page.headers["Content-Type"].startswith("text/html")
    assert "hubungi layanan JSS" in page.text
    problem = requests.get(stack.url("/u/" + "Z" * 43), headers={"Accept": "application/json"}, timeout=10)
    assert (problem.status_code, problem.json()["code"]) == (404, "undo_not_found")
