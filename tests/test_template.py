"""template.yaml as an AWS reviewer reads it: the event sources behave as the code expects, and each
function may do what its code does with the JSS queue, the outbox and the bus."""

from __future__ import annotations

from typing import Any

import pytest

from devserver import template

TEMPLATE = template.load()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
GLOBAL_TIMEOUT = TEMPLATE["Globals"]["Function"]["Timeout"]


def function(name: str) -> dict[str, Any]:
    return dict(RESOURCES[name]["Properties"])


def statements(name: str) -> list[dict[str, Any]]:
    return [s for policy in function(name)["Policies"] if "Statement" in policy for s in policy["Statement"]]


def allows(name: str, action: str, resource: str) -> bool:
    for statement in statements(name):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if action in actions and template.logical_id(_resource(statement["Resource"])) == resource:
            return True
    return False


def _resource(value: Any) -> Any:
    if isinstance(value, dict) and "Fn::Sub" in value:  # "${OutboxTable.Arn}/index/..."
        return {"Fn::GetAtt": value["Fn::Sub"].split("${", 1)[1].split("}", 1)[0]}
    return value


@pytest.mark.parametrize("name", ["WhatsAppWebhookFunction", "ChangeNumberFunction", "VerifyEmailFunction"])
def test_every_function_that_changes_a_number_may_put_its_event_in_the_outbox(name: str) -> None:
    assert allows(name, "dynamodb:PutItem", "OutboxTable")


def test_the_account_sync_queue_is_consumed_with_partial_failures_and_dead_letters() -> None:
    [source] = [s for s in template.event_sources(TEMPLATE) if s.kind == "SQS"]
    assert source.function.name == "AccountSyncFunction"
    assert source.properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = RESOURCES[source.source or ""]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * GLOBAL_TIMEOUT  # Lambda's rule for SQS event sources
    assert template.logical_id(queue["RedrivePolicy"]["deadLetterTargetArn"]) == "AccountSyncDeadLetterQueue"
    assert queue["SqsManagedSseEnabled"] is True


def test_the_relay_reads_new_outbox_events_only_and_gives_up_into_a_queue() -> None:
    [source] = [s for s in template.event_sources(TEMPLATE) if s.kind == "DynamoDB"]
    assert (source.function.name, source.source) == ("ChangeEventRelayFunction", "OutboxTable")
    properties = source.properties
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["FilterCriteria"]["Filters"] == [{"Pattern": '{"eventName": ["INSERT"]}'}]
    assert properties["MaximumRetryAttempts"] >= 0  # bounded: the sweep takes over after
    destination = properties["DestinationConfig"]["OnFailure"]["Destination"]
    assert template.logical_id(destination) == "ChangeEventRelayDeadLetterQueue"


def test_the_outbox_streams_new_images_and_indexes_pending_events() -> None:
    table = RESOURCES["OutboxTable"]["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    [index] = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "PendingByAge"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["pending", "created_at"]


def test_the_publishers_may_put_events_on_the_bus_and_no_one_else() -> None:
    publishers = {
        name
        for name, resource in RESOURCES.items()
        if resource["Type"] == "AWS::Serverless::Function"
        and any("EventBridgePutEventsPolicy" in policy for policy in resource["Properties"]["Policies"])
    }
    assert publishers == {"ChangeEventRelayFunction", "ChangeEventSweepFunction"}


def test_the_sweep_reads_the_pending_index_and_runs_on_a_schedule() -> None:
    assert allows("ChangeEventSweepFunction", "dynamodb:Query", "OutboxTable")
    [source] = [s for s in template.event_sources(TEMPLATE) if s.kind == "Schedule"]
    assert source.function.name == "ChangeEventSweepFunction"


def test_the_sync_consumer_writes_only_the_accounts_table() -> None:
    resources = {template.logical_id(s["Resource"]) for s in statements("AccountSyncFunction")}
    assert resources == {"AccountsTable"}


def test_the_outputs_hand_jss_what_it_needs() -> None:
    outputs = TEMPLATE["Outputs"]
    for name in ("AccountsTableName", "AccountSyncQueueUrl", "AccountSyncQueueArn", "AccountEventBusArn"):
        assert name in outputs
