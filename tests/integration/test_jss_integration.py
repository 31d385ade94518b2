"""The service connected to JSS, over the local stack: accounts imported from an export with the import
command, kept up to date through the account-sync queue (moto's SQS, delivered by the local event
source mapping), and every number change published once to JSS through the outbox, DynamoDB Local's
stream and EventBridge (moto), even across an EventBridge outage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.integration.conftest import (
    ROOT,
    Api,
    Citizen,
    Stack,
    WhatsApp,
    eventually,
    export_row,
    imported_citizen,
    random_mobile,
    run_import,
    write_export,
)

MIGRATED = "Migrasi akun aplikasi Jogja Smart Service berhasil"
CHANGED = "Pergantian No. WhatsApp Berhasil"


def migrate(api: Api, whatsapp: WhatsApp, citizen: Citizen, sender: str) -> dict[str, Any]:
    started = api.call("POST", "/v1/migrations", citizen).json()
    whatsapp.send(started["message"], sender)
    return dict(started)


# ================================================================= import


def test_an_imported_citizen_walks_journey_a_and_jss_hears_of_it_once(
    api: Api, whatsapp: WhatsApp, stack: Stack, tmp_path: Path
) -> None:
    newcomer = export_row()
    verified = export_row(whatsapp=True, whatsapp_verified="true")
    refused = export_row(password_hash="5f4dcc3b5aa765d61d8327deb882cf99")  # an md5: never accepted
    export = write_export(tmp_path / "jss-export.csv", [newcomer, verified, refused])

    done = run_import(stack, export)

    assert done.returncode == 0, done.stderr
    assert "imported           2  (2 new, 0 updated)" in done.stdout
    assert "password_hash_unsupported" in done.stdout
    report = [json.loads(line) for line in Path(f"{export}.report.jsonl").read_text().splitlines()]
    assert report == [{"line": 4, "reason": "password_hash_unsupported", "field": "password_hash"}]
    assert api.account(refused["account_id"]) is None
    imported = imported_citizen(api, verified)
    assert api.contact(imported)["whatsapp_verified"] is True

    citizen = imported_citizen(api, newcomer)
    assert api.contact(citizen)["phone_number"] == citizen.phone_number  # normalized to E.164
    started = migrate(api, whatsapp, citizen, citizen.phone_number or "")
    page = api.call("GET", "/m/" + started["link_url"].rsplit("/", 1)[1])
    assert MIGRATED in page.text
    assert api.contact(citizen)["whatsapp_number"] == citizen.phone_number

    [event] = eventually(lambda: api.events_for(citizen.account_id), what="the WhatsAppNumberChanged event")
    assert event["detail-type"] == "WhatsAppNumberChanged"
    assert event["detail"]["whatsapp_number"] == citizen.phone_number
    assert event["detail"]["journey"] == "whatsapp_migration"
    assert run_import(stack, export).returncode == 0  # the same export again ...
    assert api.contact(citizen)["whatsapp_number"] == citizen.phone_number  # ... keeps the newer change
    assert len(api.events_for(citizen.account_id)) == 1  # and JSS heard of it once


def test_the_import_command_says_clearly_when_no_stack_is_running(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export.csv", [export_row()])
    done = subprocess.run(
        [sys.executable, "-m", "scripts.import_accounts", str(export)],
        cwd=ROOT,
        env={**os.environ, "LOCAL_STACK_STATE": str(tmp_path / "nothing-here.json")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "no local stack is running" in done.stderr


# ================================================================= sync


def test_a_password_changed_in_jss_is_the_one_the_b1_page_accepts(api: Api, whatsapp: WhatsApp, stack: Stack) -> None:
    citizen = api.citizen(whatsapp=True)
    before = api.stored(citizen.account_id)
    assert before is not None
    api.from_jss({"account_id": citizen.account_id, "password": "Password-Baru-dari-JSS"})
    eventually(
        lambda: (api.stored(citizen.account_id) or {}).get("password_hash") != before["password_hash"],
        what="the password change from the queue",
    )

    started = api.call("POST", "/v1/number-changes", citizen).json()
    new_number = random_mobile()
    whatsapp.send(started["message"], new_number)
    link = "/c/" + started["link_url"].rsplit("/", 1)[1]
    old = api.call("POST", link, json={"password": citizen.password}, headers={"Accept": "application/json"})
    assert old.json()["code"] == "wrong_password"
    new = api.call("POST", link, json={"password": "Password-Baru-dari-JSS"}, headers={"Accept": "application/json"})
    assert new.json()["status"] == "completed", new.text
    assert api.contact(citizen)["whatsapp_number"] == new_number
    [event] = eventually(lambda: api.events_for(citizen.account_id), what="the event of the change")
    assert (event["detail"]["journey"], event["detail"]["whatsapp_number"]) == ("whatsapp_change", new_number)


def test_an_account_created_in_jss_arrives_through_the_queue_and_duplicates_are_harmless(api: Api) -> None:
    row = export_row()
    account = {k: v for k, v in row.items() if k not in ("account_id", "updated_at")}
    message = {"type": "account.created", "account_id": row["account_id"], "updated_at": row["updated_at"]}
    message["account"] = account
    api.from_jss(message)
    api.from_jss(message)  # JSS published it twice
    stored = eventually(lambda: api.stored(row["account_id"]), what="the account from the queue")
    eventually(lambda: not _messages_waiting(api), seconds=10, what="the queue to drain")
    assert api.stored(row["account_id"]) == stored  # the second copy changed nothing
    assert stored["version"] == 1


def _messages_waiting(api: Api) -> int:
    return _queue_depth(api, "AccountSyncQueue")


def _queue_depth(api: Api, queue: str) -> int:
    """Messages in a local queue, visible or being handled."""
    import boto3

    sqs = boto3.client("sqs", endpoint_url=api.stack.moto_endpoint)
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_an_account_deleted_in_jss_stops_its_flows_and_frees_its_number(api: Api, whatsapp: WhatsApp) -> None:
    leaving = api.citizen(whatsapp=True)
    started = api.call("POST", "/v1/number-changes", leaving).json()
    deleted_at = (datetime.now(UTC)).isoformat()
    api.from_jss({"type": "account.deleted", "account_id": leaving.account_id, "updated_at": deleted_at})
    eventually(lambda: "deleted_ms" in (api.stored(leaving.account_id) or {}), what="the deletion")

    assert api.call("GET", "/v1/contact", leaving).json()["code"] == "account_not_found"
    link = api.call("GET", "/c/" + started["link_url"].rsplit("/", 1)[1], headers={"Accept": "application/json"})
    assert link.status_code == 404
    tombstone = api.stored(leaving.account_id) or {}
    assert {"email", "phone_number", "whatsapp_number", "password_hash", "name"}.isdisjoint(tombstone)

    newcomer = api.citizen()
    migrate(api, whatsapp, newcomer, leaving.whatsapp_number or "")
    assert api.contact(newcomer)["whatsapp_number"] == leaving.whatsapp_number  # the number was released


# ================================================================= events


def test_an_event_held_up_by_an_eventbridge_outage_is_published_once_it_is_back(api: Api, whatsapp: WhatsApp) -> None:
    citizen = api.citizen()
    given_up_before = _queue_depth(api, "ChangeEventRelayDeadLetterQueue")
    api.eventbridge("down")
    try:
        migrate(api, whatsapp, citizen, random_mobile())
        assert api.contact(citizen)["whatsapp_number"]  # the change itself does not wait for JSS
        pending = eventually(lambda: _pending_events(api, citizen.account_id), what="the event to be pending")
        eventually(
            lambda: _queue_depth(api, "ChangeEventRelayDeadLetterQueue") > given_up_before,
            what="the stream's retries to run out",
        )
        assert api.events_for(citizen.account_id) == []
    finally:
        api.eventbridge("up")
    [event] = eventually(lambda: api.events_for(citizen.account_id), seconds=45, what="the retried event")
    assert event["detail"]["event_id"] == pending[0]["event_id"]
    eventually(lambda: not _pending_events(api, citizen.account_id), what="the event to be marked published")
    assert len(api.events_for(citizen.account_id)) == 1


def _pending_events(api: Api, account_id: str) -> list[dict[str, Any]]:
    from shared.adapters.dynamo import Dynamo

    pending = Dynamo().query("OutboxTable", "pending = :pending", index="PendingByAge", pending="pending")
    return [item for item in pending if json.loads(item["event"])["account_id"] == account_id]


def test_a_refused_change_publishes_nothing(api: Api, whatsapp: WhatsApp) -> None:
    holder = api.citizen(whatsapp=True)
    citizen = api.citizen()
    migrate(api, whatsapp, citizen, holder.whatsapp_number or "")  # a number another account holds
    assert api.contact(citizen)["whatsapp_number"] is None
    assert _pending_events(api, citizen.account_id) == []
    assert api.events_for(citizen.account_id) == []


def test_a_few_hundred_generated_rows_import_with_every_refusal_reported_and_a_rerun_changes_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    from scripts.fake_export import generate, write

    export = tmp_path / "generated.jsonl"
    write(generate(300, seed=8, duplicates=5, invalid=12), export, "jsonl")

    first = run_import(stack, export)
    report = [json.loads(line) for line in Path(f"{export}.report.jsonl").read_text().splitlines()]
    again = run_import(stack, export)

    assert first.returncode == 0, first.stderr
    assert "imported         283  (283 new, 0 updated)" in first.stdout
    assert "refused           17" in first.stdout
    assert sum(entry["reason"] == "duplicate_whatsapp_number" for entry in report) == 5
    assert all(entry["first_line"] < entry["line"] for entry in report if "first_line" in entry)
    assert len(report) == 17
    assert "@" not in json.dumps(report)  # reasons and fields, never an email, number or hash
    assert again.returncode == 0, again.stderr
    assert "unchanged        283" in again.stdout
