"""template.yaml as an AWS reviewer reads it: the event sources behave as the code expects, and each
function may do what its code does with the JSS queue, the outbox and the bus."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devserver import template
from scripts.sam_transform import transformed

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = template.load()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
GLOBAL_TIMEOUT = TEMPLATE["Globals"]["Function"]["Timeout"]


def function(name: str) -> dict[str, Any]:
    return dict(RESOURCES[name]["Properties"])


def statements(name: str) -> list[dict[str, Any]]:
    return [s for policy in function(name)["Policies"] if "Statement" in policy for s in policy["Statement"]]


def allows(name: str, action: str, resource: str) -> bool:
    return f"{action} {resource}" in grants(name)


@pytest.mark.parametrize("name", ["WhatsAppWebhookFunction", "ChangeNumberFunction", "VerifyEmailFunction"])
def test_every_function_that_changes_a_number_may_put_its_event_in_the_outbox(name: str) -> None:
    assert allows(name, "dynamodb:PutItem", "OutboxTable")


@pytest.mark.parametrize(
    ("function_name", "queue_name"),
    [("AccountSyncFunction", "AccountSyncQueue"), ("WhatsAppSenderFunction", "WhatsAppOutboxQueue")],
)
def test_each_queue_is_consumed_with_partial_failures_and_dead_letters(function_name: str, queue_name: str) -> None:
    [source] = [s for s in template.event_sources(TEMPLATE) if s.kind == "SQS" and s.function.name == function_name]
    assert source.source == queue_name
    assert source.properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = RESOURCES[queue_name]["Properties"]
    timeout = function(function_name).get("Timeout", GLOBAL_TIMEOUT)
    assert queue["VisibilityTimeout"] >= 6 * timeout  # Lambda's rule for SQS event sources
    assert template.logical_id(queue["RedrivePolicy"]["deadLetterTargetArn"]) == queue_name.replace(
        "Queue", "DeadLetterQueue"
    )
    assert queue["KmsMasterKeyId"] == {"Ref": "DataKey"}  # contact data, password hashes, numbers


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
    publishers = {name for name in FUNCTIONS if allows(name, "events:PutEvents", "AccountEventBus")}
    assert publishers == {"ChangeEventRelayFunction", "ChangeEventSweepFunction"}


def test_the_sweep_reads_the_pending_index_and_runs_on_a_schedule() -> None:
    assert allows("ChangeEventSweepFunction", "dynamodb:Query", "OutboxTable/index/PendingByAge")
    [source] = [s for s in template.event_sources(TEMPLATE) if s.kind == "Schedule"]
    assert source.function.name == "ChangeEventSweepFunction"


def test_the_sync_consumer_writes_only_the_accounts_table() -> None:
    writes = {
        grant for grant in grants("AccountSyncFunction") if grant.startswith("dynamodb:") and "GetItem" not in grant
    }
    assert {grant.split()[1] for grant in writes} == {"AccountsTable"}


def test_the_outputs_hand_jss_what_it_needs() -> None:
    outputs = TEMPLATE["Outputs"]
    for name in ("AccountsTableName", "AccountSyncQueueUrl", "AccountSyncQueueArn", "AccountEventBusArn"):
        assert name in outputs


# ----------------------------------------------------------------- least privilege

# Every grant of every function: "<action> <resource>", the resource named by its logical id, by the
# parameter naming it, or "sender identity" (the MailFrom address and its domain). What the code does
# with each: docs/data-model.md (access patterns) and the function's app.py.
# The number-hash key: in Secrets Manager under its KMS key, or in SSM (NumberHashKeyStore).
_NUMBER_KEY = {
    "ssm:GetParameter NumberHashKeyParameter",
    "secretsmanager:GetSecretValue NumberHashKeySecret",
    "kms:Decrypt NumberHashKeyEncryptionKey",
}
# The data key encrypts the tables and the sync queues: reading needs Decrypt, writing GenerateDataKey.
_DATA_KEY = {"kms:Decrypt DataKey", "kms:GenerateDataKey DataKey"}
# A journey reads its flow or permit with the account (and limit, claim) in one BatchGetItem.
_BATCH_READ = {"dynamodb:BatchGetItem TokensTable", "dynamodb:BatchGetItem AccountsTable"}
_TOKENS_FLOWS = {"dynamodb:GetItem TokensTable", "dynamodb:PutItem TokensTable", "dynamodb:UpdateItem TokensTable"}
_NUMBER_CHANGE = {
    *_BATCH_READ,
    "dynamodb:GetItem AccountsTable",
    "dynamodb:UpdateItem AccountsTable",  # the account on its version (and a displaced holder)
    "dynamodb:PutItem AccountsTable",  # the new number's claim
    "dynamodb:DeleteItem AccountsTable",  # the old number's claim
    "dynamodb:PutItem AuditTable",
    "dynamodb:PutItem OutboxTable",
    "ssm:GetParameter TokenHmacKeyParameter",
    *_NUMBER_KEY,
    "ses:SendEmail sender identity",
    "ses:SendEmail mail configuration set",
    *_DATA_KEY,
}
# The city's WhatsApp messages go through a queue to WhatsAppSenderFunction, never straight to Meta.
_WHATSAPP_OUTBOX = "sqs:SendMessage WhatsAppOutboxQueue"
LEAST_PRIVILEGE: dict[str, set[str]] = {
    "MigrateFunction": {
        *_BATCH_READ,
        "dynamodb:GetItem AccountsTable",
        *_TOKENS_FLOWS,
        "ssm:GetParameter TokenHmacKeyParameter",
        *_DATA_KEY,
    },
    "ChangeNumberFunction": {
        *_NUMBER_CHANGE,
        *_TOKENS_FLOWS,
        _WHATSAPP_OUTBOX,
    },  # a right password clears tries by UpdateItem
    "VerifyEmailFunction": {*_NUMBER_CHANGE, *_TOKENS_FLOWS, "dynamodb:DeleteItem TokensTable", _WHATSAPP_OUTBOX},
    "WhatsAppWebhookFunction": {
        *(_NUMBER_CHANGE - {"dynamodb:DeleteItem AccountsTable"}),  # a migration has no old number
        "dynamodb:GetItem TokensTable",
        "dynamodb:UpdateItem TokensTable",
        "dynamodb:PutItem TokensTable",  # a hidden sender's flow, waiting for the shared number
        *(f"dynamodb:{action} IdempotencyTable" for action in ("GetItem", "PutItem", "UpdateItem", "DeleteItem")),
        "ssm:GetParameter WhatsAppAppSecretParameter",
        "ssm:GetParameter WhatsAppVerifyTokenParameter",
        _WHATSAPP_OUTBOX,
    },
    # Reads the undo link with the account, uses it once, and changes the number back.
    "UndoChangeFunction": {
        *_NUMBER_CHANGE,
        "dynamodb:GetItem TokensTable",
        "dynamodb:BatchGetItem TokensTable",
        "dynamodb:UpdateItem TokensTable",
        _WHATSAPP_OUTBOX,
    },
    "WhatsAppSenderFunction": {
        *_DATA_KEY,
        *(f"dynamodb:{action} IdempotencyTable" for action in ("GetItem", "PutItem", "UpdateItem", "DeleteItem")),
        "ssm:GetParameter WhatsAppAccessTokenParameter",
    },
    "ContactFunction": {"dynamodb:GetItem AccountsTable", "kms:Decrypt DataKey"},
    "AccountSyncFunction": {
        *(f"dynamodb:{action} AccountsTable" for action in ("GetItem", "PutItem", "DeleteItem", "ConditionCheckItem")),
        *_NUMBER_KEY,
        *_DATA_KEY,
    },
    "ChangeEventRelayFunction": {
        *_DATA_KEY,
        "dynamodb:UpdateItem OutboxTable",
        *_NUMBER_KEY,
        "events:PutEvents AccountEventBus",
        "sqs:SendMessage ChangeEventRelayDeadLetterQueue",
    },
    "ChangeEventSweepFunction": {
        *_DATA_KEY,
        "dynamodb:Query OutboxTable/index/PendingByAge",
        "dynamodb:UpdateItem OutboxTable",
        *_NUMBER_KEY,
        "events:PutEvents AccountEventBus",
    },
}
FUNCTIONS = sorted(name for name, resource in RESOURCES.items() if resource["Type"] == "AWS::Serverless::Function")


def _resource_name(value: Any) -> str:
    if isinstance(value, dict) and ("Fn::GetAtt" in value or "Ref" in value):
        return str(template.logical_id(value))
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        if ":ses:" in text:
            return "mail configuration set" if "configuration-set/" in text else "sender identity"
        references = [r for r in re.findall(r"\$\{([\w.:]+)\}", text) if not r.startswith("AWS::")]
        suffix = text.rsplit("}", 1)[1]
        return references[-1].removesuffix(".Arn") + suffix
    raise AssertionError(f"a resource the least-privilege table cannot name: {value!r}")


def _branches(found: list[Any]) -> list[dict[str, Any]]:
    """Statements, those under a condition (``!If``) included, whichever way it goes."""
    flat = []
    for statement in found:
        if "Fn::If" in statement:
            flat += [s for s in statement["Fn::If"][1:] if s != {"Ref": "AWS::NoValue"}]
        else:
            flat.append(statement)
    return flat


def grants(name: str) -> set[str]:
    found = set()
    for statement in _branches(statements(name)):
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        found |= {f"{action} {_resource_name(resource)}" for action in actions for resource in resources}
    return found


def test_the_least_privilege_table_covers_every_function() -> None:
    assert sorted(LEAST_PRIVILEGE) == FUNCTIONS


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_function_is_granted_exactly_what_its_code_uses(name: str) -> None:
    # Only explicit statements: a SAM policy template would grant what this table cannot see.
    assert all(set(policy) == {"Statement"} for policy in function(name)["Policies"])
    assert grants(name) == LEAST_PRIVILEGE[name]


def test_the_audit_table_is_append_only_and_nothing_scans() -> None:
    everything = {grant for name in FUNCTIONS for grant in grants(name)}
    assert {grant for grant in everything if grant.endswith(" AuditTable")} == {"dynamodb:PutItem AuditTable"}
    assert not [grant for grant in everything if grant.startswith(("dynamodb:Scan", "dynamodb:*"))]


def test_the_metrics_namespace_follows_the_environment() -> None:
    """template.yaml sets POWERTOOLS_METRICS_NAMESPACE per Stage; the code must not hard-code it."""
    assert TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == {
        "Fn::Sub": "JSSWhatsApp/${Stage}"
    }
    code = "from shared.observability import metrics; print(metrics.namespace)"
    environment = {**os.environ, "POWERTOOLS_METRICS_NAMESPACE": "JSSWhatsApp/dev"}
    shown = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "JSSWhatsApp/dev"


# ----------------------------------------------------------------- operating it

ALARMS = {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def test_every_alarm_notifies_the_topic_when_one_is_given() -> None:
    assert len(ALARMS) >= 15
    for name, alarm in ALARMS.items():
        for key in ("AlarmActions", "OKActions"):
            assert alarm[key] == {"Fn::If": ["NotifiesSomeone", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}, (
                name
            )


def test_the_custom_metrics_watched_are_the_ones_the_code_emits() -> None:
    watched = set(re.findall(r"SUM\((\w+)\) FROM SCHEMA\(\\?\"JSSWhatsApp", json.dumps(TEMPLATE)))
    emitted = set()
    for source in (ROOT / "shared").rglob("*.py"):
        emitted |= set(re.findall(r'add_metric\(name="(\w+)"', source.read_text()))
    assert {"UnhandledError", "DependencyUnavailable", "NotificationNotSent", "WebhookUnreadable"} <= watched
    assert watched <= emitted, watched - emitted


def test_the_dashboard_body_is_json_once_substituted() -> None:
    body = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{[\w:.]+\}", "x", body))["widgets"]
    assert len(widgets) >= 10


def test_every_function_rolls_out_gradually_and_rolls_back_on_its_error_alarms() -> None:
    globals_ = TEMPLATE["Globals"]["Function"]
    assert globals_["AutoPublishAlias"] == "live"
    preference = globals_["DeploymentPreference"]
    assert preference["Type"] == {"Ref": "DeploymentStrategy"}
    assert preference["Alarms"] == [{"Ref": "FunctionErrorsAlarm"}, {"Ref": "UnhandledErrorsAlarm"}]


def test_every_function_logs_json_to_its_own_retained_group() -> None:
    for name in FUNCTIONS:
        config = function(name)["LoggingConfig"]
        assert config["LogFormat"] == "JSON"
        group = RESOURCES[template.logical_id(config["LogGroup"])]
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_the_access_log_never_holds_the_raw_path() -> None:
    settings = RESOURCES["Api"]["Properties"]["AccessLogSettings"]
    assert "$context.routeKey" in settings["Format"]
    assert "$context.path" not in settings["Format"]
    assert "rawPath" not in settings["Format"]


@pytest.mark.parametrize("domain", ["", "wa.jss.jogjakota.go.id"])
def test_the_api_has_a_custom_domain_only_when_one_is_given(domain: str) -> None:
    parameters = {"DomainName": domain, "CertificateArn": "arn:aws:acm:ap-southeast-3:111122223333:certificate/x"}
    resources = transformed(parameters)["Resources"]
    assert resources["ApiDomainMapping"]["Condition"] == "HasCustomDomain"
    assert resources["ApiDomainMapping"]["Properties"]["Stage"] == {"Ref": "ApiApiGatewayDefaultStage"}
    links = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["PUBLIC_BASE_URL"]
    assert links == {"Fn::If": ["HasCustomDomain", {"Fn::Sub": "https://${DomainName}"}, {"Ref": "PublicBaseUrl"}]}
    # every function deploys through CodeDeploy, gradually
    groups = [name for name, r in resources.items() if r["Type"] == "AWS::CodeDeploy::DeploymentGroup"]
    assert len(groups) == len(FUNCTIONS)


def test_the_number_hash_key_is_never_lost() -> None:
    secret, key = RESOURCES["NumberHashKeySecret"], RESOURCES["NumberHashKeyEncryptionKey"]
    assert secret["DeletionPolicy"] == key["DeletionPolicy"] == "Retain"
    assert secret["Properties"]["KmsKeyId"] == {"Ref": "NumberHashKeyEncryptionKey"}
    assert key["Properties"]["EnableKeyRotation"] is True
    [deny] = RESOURCES["NumberHashKeySecretPolicy"]["Properties"]["ResourcePolicy"]["Statement"]
    assert (deny["Effect"], deny["Action"], deny["Principal"]) == ("Deny", "secretsmanager:DeleteSecret", "*")


def test_every_route_has_a_p99_latency_alarm() -> None:
    watched = {
        (dims["Method"], dims["Resource"])
        for alarm in ALARMS.values()
        if alarm.get("MetricName") == "Latency" and alarm.get("ExtendedStatistic") == "p99"
        for dims in [{d["Name"]: d["Value"] for d in alarm["Dimensions"]}]
        if "Resource" in dims
    }
    assert watched == {(route.method, route.path) for route in template.routes(TEMPLATE)}


@pytest.mark.parametrize("web_acl", ["", "arn:aws:wafv2:us-east-1:111122223333:global/webacl/jss/1"])
def test_a_web_acl_puts_cloudfront_in_front_of_the_api(web_acl: str) -> None:
    resources = transformed({"EdgeWebAclArn": web_acl})["Resources"]
    edge = resources["EdgeDistribution"]
    assert edge["Condition"] == "HasEdgeProtection"
    config = edge["Properties"]["DistributionConfig"]
    assert config["WebACLId"] == {"Ref": "EdgeWebAclArn"}
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert config["Origins"][0]["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"


# IAM names SES's actions "ses:" for both of its APIs; the code calls SES v2.
_BOTOCORE_NAMES = {"ses": "sesv2"}


def _layer_botocore_services() -> set[str]:
    found = re.search(r"^BOTOCORE_SERVICES := (.+)$", (ROOT / "shared" / "Makefile").read_text(), re.MULTILINE)
    assert found, "shared/Makefile names the botocore models the layer keeps"
    return set(found.group(1).split())


def test_the_layer_keeps_the_api_model_of_every_service_a_function_may_call() -> None:
    """The layer drops botocore's models of the ~430 other services; a client of a dropped one fails."""
    granted = {grant.split(":", 1)[0] for name in FUNCTIONS for grant in grants(name)}
    granted -= {"kms"}  # DynamoDB, SSM and Secrets Manager call KMS for the functions
    assert {_BOTOCORE_NAMES.get(service, service) for service in granted} <= _layer_botocore_services()


def test_the_layer_keeps_the_api_model_of_every_client_the_code_makes() -> None:
    code = "\n".join(path.read_text() for path in (ROOT / "shared").rglob("*.py"))
    made = set(re.findall(r"""\.client\(\s*["']([a-z0-9-]+)["']""", code))
    assert made, "the pattern still finds the clients"
    assert made <= _layer_botocore_services()


def test_snapstart_is_one_switch_for_every_function_and_off_by_default() -> None:
    parameter = TEMPLATE["Parameters"]["SnapStart"]
    assert parameter["Default"] == "None"
    assert set(parameter["AllowedValues"]) == {"None", "PublishedVersions"}
    assert TEMPLATE["Globals"]["Function"]["SnapStart"] == {"ApplyOn": {"Ref": "SnapStart"}}
    assert all("SnapStart" not in function(name) for name in FUNCTIONS)


def test_the_password_function_has_the_cpu_for_a_bcrypt_check() -> None:
    """B1.4's bcrypt check is CPU: at 512 MB (0.29 vCPU) it took the citizen ~190 ms (README)."""
    assert function("ChangeNumberFunction")["MemorySize"] == 1024
    assert TEMPLATE["Globals"]["Function"]["MemorySize"] == 512
