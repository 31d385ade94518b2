"""Journey A over HTTP on the local stack (DynamoDB Local, moto's SES), with signed Meta deliveries."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.integration.conftest import Api, Citizen, WhatsApp, at_the_same_moment, random_mobile

MIGRATED = "Migrasi akun aplikasi Jogja Smart Service berhasil"
JSON = {"Accept": "application/json"}


def start(api: Api, citizen: Citizen) -> dict[str, str]:
    response = api.call("POST", "/v1/migrations", citizen)
    assert response.status_code == 201, response.text
    return dict(response.json())


def link_state(api: Api, link_url: str) -> dict[str, object]:
    response = api.call("GET", urlsplit(link_url).path, headers=JSON)
    assert response.status_code == 200, response.text
    return dict(response.json())


def flow_status(api: Api, citizen: Citizen, flow_id: str) -> dict[str, object]:
    response = api.call("GET", f"/v1/migrations/{flow_id}", citizen)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_whole_journey(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen()
    started = start(api, citizen)

    # The app opens WhatsApp on the city's number with the prepared message, which holds the link.
    url = urlsplit(started["whatsapp_url"])
    assert (url.scheme, url.netloc, url.path) == ("https", "wa.me", "/6281100000000")
    assert parse_qs(url.query)["text"] == [started["message"]]
    assert started["link_url"] in started["message"]
    assert urlsplit(started["link_url"]).path.startswith("/m/")
    assert started["status"] == "pending"
    assert link_state(api, started["link_url"])["status"] == "pending"
    waiting = api.call("GET", urlsplit(started["link_url"]).path)
    assert 'http-equiv="refresh"' in waiting.text

    new_number = random_mobile()
    whatsapp.send(started["message"], new_number)

    page = api.call("GET", urlsplit(started["link_url"]).path)
    assert page.status_code == 200
    assert f">{MIGRATED}</h1>" in page.text
    assert new_number[-3:] in page.text
    assert new_number not in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert flow_status(api, citizen, started["flow_id"])["status"] == "completed"

    # Step 6 of the guide: the profile now shows the WhatsApp number in place of the phone number.
    contact = api.contact(citizen)
    assert contact["whatsapp_number"] == new_number
    assert contact["phone_number"] == new_number
    assert contact["whatsapp_verified"] is True

    mail = [m for m in api.mailbox() if citizen.email in m["to"]]
    assert len(mail) == 1
    assert MIGRATED in mail[0]["subject"]
    assert new_number not in mail[0]["text"]


def test_the_link_page_never_changes_state(api: Api) -> None:
    citizen = api.citizen()
    started = start(api, citizen)
    path = urlsplit(started["link_url"]).path
    for _ in range(3):
        assert api.call("GET", path).status_code == 200
        assert api.call("GET", path, headers=JSON).status_code == 200
    assert flow_status(api, citizen, started["flow_id"])["status"] == "pending"


def test_the_link_page_speaks_english_when_preferred(api: Api) -> None:
    started = start(api, api.citizen())
    path = urlsplit(started["link_url"]).path
    english = api.call("GET", path, headers={"Accept-Language": "en-GB,en;q=0.9,id;q=0.5"})
    assert 'lang="en"' in english.text
    assert "Waiting for your WhatsApp message" in english.text
    indonesian = api.call("GET", path, headers={"Accept-Language": "id-ID,id;q=0.9,en;q=0.8"})
    assert 'lang="id"' in indonesian.text


def test_unknown_used_and_expired_links_look_the_same(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen()
    expired = start(api, citizen)
    api.expire_flow(expired["flow_id"])
    unknown = api.call("GET", "/m/" + "A" * 32)
    garbage = api.call("GET", "/m/not-a-token")
    gone = api.call("GET", urlsplit(expired["link_url"]).path)
    assert unknown.status_code == garbage.status_code == gone.status_code == 404
    assert unknown.text.split("<main>")[1] == gone.text.split("<main>")[1]
    as_json = api.call("GET", "/m/" + "A" * 32, headers=JSON)
    assert as_json.headers["Content-Type"].startswith("application/problem+json")
    assert as_json.json()["code"] == "link_not_found"


def test_a_status_update_and_other_message_types_are_acknowledged_and_ignored(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen()
    started = start(api, citizen)
    status_value = whatsapp.value([])
    status_value["statuses"] = [
        {"id": "wamid.x", "status": "delivered", "timestamp": "1700000000", "recipient_id": "6281234567890"}
    ]
    image = {
        "from": "6281234567891",
        "id": "wamid.img",
        "timestamp": "1700000000",
        "type": "image",
        "image": {"id": "1", "mime_type": "image/jpeg", "caption": started["message"]},
    }
    response = whatsapp.post(whatsapp.delivery(status_value, whatsapp.value([image])))
    assert response.status_code == 200
    assert flow_status(api, citizen, started["flow_id"])["status"] == "pending"


def test_several_entries_in_one_delivery_are_all_applied(api: Api, whatsapp: WhatsApp) -> None:
    first, second = api.citizen(), api.citizen()
    a, b = start(api, first), start(api, second)
    number_a, number_b = random_mobile(), random_mobile()
    delivery = whatsapp.delivery(
        whatsapp.value([whatsapp.text_message(a["message"], number_a)]),
        whatsapp.value([whatsapp.text_message(b["message"], number_b)]),
    )
    response = whatsapp.post(delivery)
    assert response.status_code == 200
    assert response.json()["outcomes"] == ["completed", "completed"]
    assert api.contact(first)["whatsapp_number"] == number_a
    assert api.contact(second)["whatsapp_number"] == number_b


def test_a_duplicate_delivery_has_one_effect(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen()
    started = start(api, citizen)
    delivery = whatsapp.delivery(whatsapp.value([whatsapp.text_message(started["message"], random_mobile())]))
    assert whatsapp.post(delivery).json()["outcomes"] == ["completed"]
    again = whatsapp.post(delivery)
    assert again.status_code == 200
    assert again.json()["outcomes"] == ["completed"]  # the stored result of the first time
    assert len([m for m in api.mailbox() if citizen.email in m["to"]]) == 1


def test_two_deliveries_of_the_same_message_at_the_same_moment_have_one_effect(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen()
    started = start(api, citizen)
    delivery = json.dumps(
        whatsapp.delivery(whatsapp.value([whatsapp.text_message(started["message"], random_mobile())]))
    ).encode()
    answers = at_the_same_moment(*[lambda: whatsapp.post(delivery).status_code] * 4)
    assert answers == [200, 200, 200, 200]
    audit = _audit_records(citizen.account_id)
    assert len(audit) == 1
    assert len([m for m in api.mailbox() if citizen.email in m["to"]]) == 1


def test_a_flow_whose_account_is_gone_does_not_stop_the_rest_of_the_delivery(api: Api, whatsapp: WhatsApp) -> None:
    from shared.adapters.dynamo import Dynamo

    gone, citizen = api.citizen(), api.citizen()
    orphan, live = start(api, gone), start(api, citizen)
    Dynamo().delete("AccountsTable", {"pk": f"ACCOUNT#{gone.account_id}"})
    number = random_mobile()
    delivery = whatsapp.delivery(
        whatsapp.value(
            [whatsapp.text_message(orphan["message"], random_mobile()), whatsapp.text_message(live["message"], number)]
        )
    )
    response = whatsapp.post(delivery)
    assert response.status_code == 200  # a signed delivery is never refused for a business outcome
    assert response.json()["outcomes"] == ["account_not_found", "completed"]
    assert api.contact(citizen)["whatsapp_number"] == number
    assert whatsapp.post(delivery).json()["outcomes"] == ["account_not_found", "completed"]  # Meta's retry


def test_json_answers_are_never_cached(api: Api) -> None:
    citizen = api.citizen()
    started = start(api, citizen)
    for path in ("/v1/contact", f"/v1/migrations/{started['flow_id']}"):
        assert api.call("GET", path, citizen).headers["Cache-Control"] == "no-store", path


def test_the_audit_keeps_the_phone_number_a_migration_replaced(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen()
    started = start(api, citizen)
    whatsapp.send(started["message"], random_mobile())
    (record,) = _audit_records(citizen.account_id)
    assert record["method"] == "whatsapp_migration"
    assert record["phone_number_replaced"] is True
    assert record["old_phone_masked"].endswith(citizen.phone_number[-3:])  # type: ignore[index]
    assert citizen.phone_number not in str(record)


def test_messages_for_another_business_number_are_ignored(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen()
    started = start(api, citizen)
    value = whatsapp.value([whatsapp.text_message(started["message"], random_mobile())], phone_number_id="999")
    response = whatsapp.post(whatsapp.delivery(value))
    assert response.status_code == 200
    assert response.json()["received"] == 0
    assert flow_status(api, citizen, started["flow_id"])["status"] == "pending"


def test_a_sender_without_a_phone_number_is_asked_for_it_and_the_flow_waits(api: Api, whatsapp: WhatsApp) -> None:
    """WhatsApp names a sender with a username by a user id only: nothing is proven yet. The city's
    number asks for the number (tests/integration/test_whatsapp_outbox.py follows it to the end)."""
    citizen = api.citizen()
    started = start(api, citizen)
    sent = whatsapp.send(started["message"], None)
    assert sent.json()["outcomes"] == ["awaiting_shared_number"]
    state = flow_status(api, citizen, started["flow_id"])
    assert state["status"] == "pending"
    assert api.contact(citizen)["whatsapp_number"] is None


def test_a_forwarded_message_is_rejected(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen()
    started = start(api, citizen)
    whatsapp.send(started["message"], random_mobile(), forwarded=True)
    state = flow_status(api, citizen, started["flow_id"])
    assert (state["status"], state["reason"]) == ("failed", "forwarded_message")
    assert api.contact(citizen)["whatsapp_number"] is None


def test_a_number_held_by_another_account_is_rejected(api: Api, whatsapp: WhatsApp) -> None:
    holder = api.citizen(whatsapp=True)
    citizen = api.citizen()
    started = start(api, citizen)
    whatsapp.send(started["message"], holder.whatsapp_number)
    state = flow_status(api, citizen, started["flow_id"])
    assert (state["status"], state["reason"]) == ("failed", "number_taken")
    assert api.contact(citizen)["whatsapp_number"] is None
    assert api.contact(holder)["whatsapp_number"] == holder.whatsapp_number


def test_a_message_after_the_flow_expired_is_rejected(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen()
    started = start(api, citizen)
    api.expire_flow(started["flow_id"])
    assert flow_status(api, citizen, started["flow_id"])["status"] == "expired"
    whatsapp.send(started["message"], random_mobile())
    assert flow_status(api, citizen, started["flow_id"])["status"] == "expired"
    assert api.contact(citizen)["whatsapp_number"] is None


def test_starting_again_replaces_the_pending_flow(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen()
    first = start(api, citizen)
    second = start(api, citizen)
    assert api.call("GET", urlsplit(first["link_url"]).path).status_code == 404
    whatsapp.send(first["message"], random_mobile())
    assert api.contact(citizen)["whatsapp_number"] is None
    assert flow_status(api, citizen, first["flow_id"])["reason"] == "replaced_by_newer_request"
    number = random_mobile()
    whatsapp.send(second["message"], number)
    assert api.contact(citizen)["whatsapp_number"] == number


def test_the_sixth_start_within_ten_minutes_is_refused(api: Api) -> None:
    citizen = api.citizen()
    for _ in range(5):
        start(api, citizen)
    refused = api.call("POST", "/v1/migrations", citizen)
    assert refused.status_code == 429
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert refused.json()["code"] == "too_many_starts"
    assert 0 < int(refused.headers["Retry-After"]) <= 600


def test_an_account_with_whatsapp_already_is_sent_to_the_change_journey(api: Api) -> None:
    refused = api.call("POST", "/v1/migrations", api.citizen(whatsapp=True))
    assert refused.status_code == 409
    assert refused.json()["code"] == "whatsapp_already_linked"


def test_another_accounts_flow_does_not_exist_for_you(api: Api) -> None:
    owner, other = api.citizen(), api.citizen()
    started = start(api, owner)
    response = api.call("GET", f"/v1/migrations/{started['flow_id']}", other)
    assert response.status_code == 404
    assert response.json()["code"] == "flow_not_found"
    malformed = api.call("GET", "/v1/migrations/not-a-uuid", owner)
    assert malformed.status_code == 422
    assert malformed.json()["code"] == "invalid_request"


def test_the_api_needs_a_valid_token(api: Api) -> None:
    assert api.call("POST", "/v1/migrations").status_code == 401
    forged = api.call("POST", "/v1/migrations", headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."})
    assert forged.status_code == 401


def test_a_bad_signature_is_refused_and_nothing_is_processed(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen()
    started = start(api, citizen)
    delivery = json.dumps(
        whatsapp.delivery(whatsapp.value([whatsapp.text_message(started["message"], random_mobile())]))
    ).encode()
    for signature in (None, "sha256=" + "0" * 64, whatsapp.sign(delivery, "wrong-secret"), "md5=abc"):
        response = whatsapp.post(delivery, signature=signature)
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_signature"
    tampered = delivery.replace(b"Halo", b"Hola")
    assert whatsapp.post(tampered, signature=whatsapp.sign(delivery)).status_code == 401
    assert flow_status(api, citizen, started["flow_id"])["status"] == "pending"


def test_a_signed_delivery_that_makes_no_sense_is_still_acknowledged(whatsapp: WhatsApp) -> None:
    assert whatsapp.post(b"not json at all").status_code == 200
    assert whatsapp.post({"object": "whatsapp_business_account", "entry": "oops"}).status_code == 200
    unknown = whatsapp.post(
        whatsapp.delivery(whatsapp.value([whatsapp.text_message("halo " + "B" * 32, "6281234567890")]))
    )
    assert unknown.status_code == 200
    assert unknown.json()["outcomes"] == ["no_token"]


def test_the_subscription_handshake(api: Api) -> None:
    from tests.integration.conftest import VERIFY_TOKEN

    ok = api.call(
        "GET",
        "/whatsapp/webhook",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
    )
    assert (ok.status_code, ok.text) == (200, "1158201444")
    assert ok.headers["Content-Type"].startswith("text/plain")
    wrong = api.call(
        "GET",
        "/whatsapp/webhook",
        params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1158201444"},
    )
    assert wrong.status_code == 403


def test_a_base64_encoded_body_is_checked_on_its_decoded_bytes(api: Api, stack: object) -> None:
    """API Gateway base64-encodes bodies it takes for binary; the signature is over the raw bytes."""
    from tests.integration.conftest import WhatsApp as Meta

    citizen = api.citizen()
    started = start(api, citizen)
    body = json.dumps(Meta.delivery(Meta.value([Meta.text_message(started["message"], random_mobile())]))).encode()
    # An octet-stream body is passed to the function base64-encoded, as API Gateway does.
    response = api.call(
        "POST",
        "/whatsapp/webhook",
        data=body,
        headers={"Content-Type": "application/octet-stream", "X-Hub-Signature-256": Meta.sign(body)},
    )
    assert response.status_code == 200, response.text
    assert base64.b64encode(body)  # the body really travelled as bytes
    assert flow_status(api, citizen, started["flow_id"])["status"] == "completed"


@pytest.mark.parametrize("path", ["/v1/migrations", "/v1/contact"])
def test_errors_are_problem_documents_in_indonesian(api: Api, path: str) -> None:
    from tests.integration.conftest import Citizen

    ghost = Citizen("ghost", "", None, None, None, api.token("no-such-account"))
    response = api.call("POST" if path == "/v1/migrations" else "GET", path, ghost)
    assert response.status_code == 404
    problem = response.json()
    assert problem["code"] == "account_not_found"
    assert problem["status"] == 404
    assert "tidak ditemukan" in problem["detail"]


def _audit_records(account_id: str) -> list[dict[str, object]]:
    from shared.adapters.dynamo import Dynamo, from_attributes

    response = Dynamo().client.query(
        TableName="AuditTable",
        KeyConditionExpression="account_id = :a",
        ExpressionAttributeValues={":a": {"S": account_id}},
    )
    return [from_attributes(item) for item in response["Items"]]
