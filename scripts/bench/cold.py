"""Cold starts as Lambda has them: a fresh interpreter on the unpacked function and layer (no
``site``, nothing else on the path, no bytecode written: the sandbox is read-only), the template's
environment with the secrets in SSM and Secrets Manager, tracing on. It imports the handler and
answers its main route's first request on DynamoDB Local.

The floor, in the same sandbox and the same rounds: import boto3, make one DynamoDB client, one
``GetItem``. Both are timed inside the process, from the first import to the answer.

Under SnapStart's hooks (the runtime's own library, run as Lambda runs them: before the snapshot, then
after a restore) the time from the restore to the answer is taken too; the restore is Lambda's own.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from devserver import template
from scripts.bench.journeys import Call, Journeys, new_mobile_number
from scripts.bench.package import WORK, Deployment
from scripts.bench.stats import Pair

# Runs in the sandbox; the event comes in on stdin, the figures go to the file named in argv[1]
# (the handler's own logs and metrics go to stdout, as on Lambda).
_FUNCTION_PROBE = """
import importlib, json, sys, time
spec = json.load(sys.stdin)
class Context:
    function_name = spec["function"]; function_version = "1"; memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:ap-southeast-3:000000000000:function:" + spec["function"]
    aws_request_id = "bench"
    def get_remaining_time_in_millis(self): return spec["timeout_ms"]
if spec.get("profile"):
    import cProfile, io, pstats
    profile = cProfile.Profile()
    profile.enable()
if spec.get("snapstart"):  # the runtime ships this library; here it comes from the bench's own
    sys.path.append(spec["snapstart"])
started = time.perf_counter()
handler = getattr(importlib.import_module(spec["module"]), spec["handler"])
imported = time.perf_counter()
if spec.get("snapstart"):  # as Lambda does: the hooks before the snapshot, then after a restore
    import snapshot_restore_py as hooks
    for hook, args, kwargs in hooks.get_before_snapshot():
        hook(*args, **kwargs)
    imported = time.perf_counter()  # the snapshot is taken here; a restore resumes from it
    for hook, args, kwargs in hooks.get_after_restore():
        hook(*args, **kwargs)
answer = handler(spec["event"], Context())
answered = time.perf_counter()
figures = {"import": imported - started, "total": answered - started, "answer": answer, "restored": answered - imported}
if spec.get("profile"):
    profile.disable()
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(spec["profile"])
    figures["profile"] = text.getvalue()
with open(sys.argv[1], "w") as out:
    json.dump(figures, out)
"""

_REGION = "ap-southeast-3"
_FLOOR_PROBE = """
import json, sys, time
spec = json.load(sys.stdin)
started = time.perf_counter()
import boto3
imported = time.perf_counter()
item = boto3.client("dynamodb").get_item(TableName=spec["table"], Key=spec["key"], ConsistentRead=True)
answered = time.perf_counter()
assert "Item" in item
with open(sys.argv[1], "w") as out:
    json.dump({"import": imported - started, "total": answered - started}, out)
"""


@dataclass
class ColdStart:
    function: str
    total: Pair = field(default_factory=Pair)
    imported: Pair = field(default_factory=Pair)
    restored: Pair = field(default_factory=Pair)
    """With SnapStart: from the restore to the answer (the restore itself is AWS's, not measured)."""


def _timeout_ms(name: str) -> int:
    """What Lambda's context says is left at the start of an invocation: the function's timeout."""
    return template.functions(template.load())[name].timeout * 1000


def lambda_environment(name: str, deployment: Deployment, base: dict[str, str]) -> dict[str, str]:
    """What the Lambda runtime sets, over the template's variables (``base``) and the function's own."""
    parsed = template.load()
    resource = parsed["Resources"][name]["Properties"]
    own = resource.get("Environment", {}).get("Variables", {})
    memory = resource.get("MemorySize") or parsed["Globals"]["Function"]["MemorySize"]
    return {
        **base,
        **{k: v for k, v in own.items() if isinstance(v, str)},
        "PATH": os.environ["PATH"],
        "PYTHONPATH": deployment.python_path(),
        "LAMBDA_TASK_ROOT": str(deployment.task),
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_LAMBDA_FUNCTION_VERSION": "1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "_HANDLER": resource["Handler"],
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    }


def _run(probe: str, spec: dict[str, Any], environment: dict[str, str], cwd: Path) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        finished = subprocess.run(  # noqa: S603 - our own interpreter and probe
            [sys.executable, "-S", "-B", "-c", probe, out.name],
            input=json.dumps(spec),
            env=environment,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
        if finished.returncode != 0:
            raise RuntimeError(f"probe failed in {cwd.name}:\n{finished.stderr[-3000:]}")
        figures = dict(json.loads(Path(out.name).read_text()))
        figures["logs"] = finished.stdout
        return figures


class FirstRequests:
    """The main route's first request of every function (its first event, for the event-driven
    ones), on new data each round, with a check of the answer it must give."""

    def __init__(self) -> None:
        self.journeys = Journeys()

    def for_function(self, name: str) -> tuple[Call, Callable[[Any], bool]]:
        j = self.journeys
        if name == "MigrateFunction":
            return j.http("POST", "/v1/migrations", account_id=j.account(whatsapp=False)), _status(201)
        if name == "ChangeNumberFunction":
            return j.http("POST", "/v1/number-changes", account_id=j.account(whatsapp=True)), _status(201)
        if name == "VerifyEmailFunction":
            return j.http("POST", "/v1/email-verifications", account_id=j.account(whatsapp=True)), _status(202)
        if name == "ContactFunction":
            return j.http("GET", "/v1/contact", account_id=j.account(whatsapp=True)), _status(200)
        if name == "WhatsAppWebhookFunction":
            return self._prepared_message(), _status(200)
        if name == "AccountSyncFunction":
            return Call(name, {"Records": [_sqs_record(self._password_changed())]}), _no_batch_failure
        if name == "ChangeEventRelayFunction":
            return Call(name, {"Records": [_stream_record(self._pending_event())]}), _no_batch_failure
        if name == "ChangeEventSweepFunction":
            return Call(name, _schedule_event()), lambda answer: answer.get("failed") == 0
        if name == "UndoChangeFunction":
            return j.http("GET", f"/u/{self._undo_token()}", accept="text/html"), _status(200)
        if name == "WhatsAppSenderFunction":
            return Call(name, {"Records": [_sqs_record(self._reply())]}), _no_batch_failure
        raise LookupError(name)

    def _undo_token(self) -> str:
        """The "Bukan saya" token of a B2 change just committed (in-process), as its email carries it."""
        from shared.domain.accounts import ChangeMethod
        from shared.domain.number_change import NumberChanges
        from shared.services import accounts

        done = NumberChanges(accounts()).commit(
            self.journeys.account(whatsapp=True),
            new_mobile_number(),
            ChangeMethod.EMAIL_CHANGE,
            f"bench-{uuid.uuid4().hex}",
            clock=time.time,
            check=lambda _account: None,
            stage=lambda _tx, _now: None,
        )
        if done.undo_token is None:
            raise RuntimeError("a B2 change of a number issues an undo link")
        return done.undo_token

    def _reply(self) -> dict[str, Any]:
        """A reply the webhook queued, to a new number, inside its window (to the local Graph API)."""
        return {
            "key": f"reply:wamid.bench{uuid.uuid4().hex}",
            "to": new_mobile_number(),
            "read_message_id": f"wamid.bench{uuid.uuid4().hex}",
            "text": "Pesan Anda sudah kami terima.",
            "send_before": int(time.time()) + 3600,
        }

    def _prepared_message(self) -> Call:
        """A migration's prepared message from a new number (the flow started here, in-process)."""
        from shared.domain.flows import FlowKind
        from shared.services import whatsapp_flows

        started = whatsapp_flows().start(self.journeys.account(whatsapp=False), FlowKind.MIGRATION)
        return self.journeys.delivery(started.message, new_mobile_number())

    def _password_changed(self) -> dict[str, Any]:
        return {
            "type": "account.password_changed",
            "account_id": self.journeys.account(whatsapp=True),
            "updated_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "password_hash": self.journeys.password_hash,
        }

    def _pending_event(self) -> dict[str, Any]:
        """A WhatsAppNumberChanged event in the outbox, as a journey's transaction leaves it."""
        from shared.adapters.dynamo import to_attributes
        from shared.domain.change_events import NumberChanged, outbox_key, stage_event
        from shared.services import dynamo

        event = NumberChanged(
            account_id=self.journeys.account(whatsapp=True),
            audit_id="v000000000001",
            whatsapp_number=new_mobile_number(),
            whatsapp_verified=True,
            previous_number_masked=None,
            journey="whatsapp_migration",
            phone_number_replaced=True,
            changed_at=int(time.time()),
        )
        tx = dynamo().transaction()
        stage_event(tx, os.environ["OUTBOX_TABLE"], event)
        tx.commit()
        return to_attributes(dynamo().get(os.environ["OUTBOX_TABLE"], outbox_key(event.event_id)) or {})


def _status(expected: int) -> Callable[[Any], bool]:
    return lambda answer: isinstance(answer, dict) and answer.get("statusCode") == expected


def _no_batch_failure(answer: Any) -> bool:
    return isinstance(answer, dict) and answer.get("batchItemFailures") == []


def _sqs_record(message: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(message)
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "bench",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000))},
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{_REGION}:000000000000:AccountSyncQueue",
        "awsRegion": _REGION,
    }


def _stream_record(new_image: dict[str, Any]) -> dict[str, Any]:
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": _REGION,
        "dynamodb": {
            "ApproximateCreationDateTime": time.time(),
            "Keys": {"pk": new_image["pk"]},
            "NewImage": new_image,
            "SequenceNumber": str(time.time_ns()),
            "SizeBytes": len(json.dumps(new_image)),
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": f"arn:aws:dynamodb:{_REGION}:000000000000:table/OutboxTable/stream/bench",
    }


def _schedule_event() -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": _REGION,
        "resources": [f"arn:aws:events:{_REGION}:000000000000:rule/bench"],
        "detail": {},
    }


def profile(name: str, deployment: Deployment, base_environment: dict[str, str], lines: int = 60) -> str:
    """cProfile's view of one cold start of ``name`` (import and first request), slowest first."""
    first = FirstRequests()
    module, handler = template.load()["Resources"][name]["Properties"]["Handler"].rsplit(".", 1)
    environment = lambda_environment(name, deployment, base_environment)
    for _ in range(3):  # DynamoDB Local warms up too
        call, _ = first.for_function(name)
        spec = {"function": name, "module": module, "handler": handler, "event": call.event, "profile": lines}
        spec["timeout_ms"] = _timeout_ms(name)
        figures = _run(_FUNCTION_PROBE, spec, environment, deployment.task)
    took = f"import {1000 * figures['import']:.0f} ms, with the first request {1000 * figures['total']:.0f} ms"
    return f"{took}\n{figures['profile']}"


def run(
    deployments: dict[str, Deployment], base_environment: dict[str, str], floor_key: dict[str, Any], rounds: int
) -> list[ColdStart]:
    """Each round, for every function: a cold start, one under SnapStart's hooks, and the floor, in an
    order that turns with the rounds (each start on new data)."""
    first = FirstRequests()
    resources = template.load()["Resources"]
    results = {name: ColdStart(name) for name in deployments}
    some = next(iter(deployments))
    floor_environment = lambda_environment(some, deployments[some], base_environment)
    floor_spec = {"table": base_environment["ACCOUNTS_TABLE"], "key": floor_key}
    for round_ in range(rounds):
        for name, deployment in deployments.items():
            environment = lambda_environment(name, deployment, base_environment)
            handler = str(resources[name]["Properties"]["Handler"])
            probes: list[tuple[str, Callable[[], dict[str, Any]]]] = [
                ("cold", partial(_cold_start, first, name, handler, deployment, environment, snapstart=False)),
                ("snapstart", partial(_cold_start, first, name, handler, deployment, environment, snapstart=True)),
                ("floor", partial(_run, _FLOOR_PROBE, floor_spec, floor_environment, deployments[some].task)),
            ]
            turn = round_ % len(probes)
            figures = {label: probe() for label, probe in probes[turn:] + probes[:turn]}
            result = results[name]
            result.total.measured.append(figures["cold"]["total"])
            result.imported.measured.append(figures["cold"]["import"])
            result.restored.measured.append(figures["snapstart"]["restored"])
            for pair in (result.total, result.restored):
                pair.floor.append(figures["floor"]["total"])
            result.imported.floor.append(figures["floor"]["import"])
    return list(results.values())


def _cold_start(
    first: FirstRequests,
    name: str,
    handler: str,
    deployment: Deployment,
    environment: dict[str, str],
    *,
    snapstart: bool,
) -> dict[str, Any]:
    call, answered_right = first.for_function(name)
    module, attribute = handler.rsplit(".", 1)
    spec = {
        "function": name,
        "module": module,
        "handler": attribute,
        "event": call.event,
        "timeout_ms": _timeout_ms(name),
    }
    if snapstart:
        spec["snapstart"] = str(runtime_hooks())
    figures = _run(_FUNCTION_PROBE, spec, environment, deployment.task)
    if not answered_right(figures["answer"]):
        raise RuntimeError(f"{name} answered {figures['answer']}\n{figures['logs'][-4000:]}")
    return figures


def runtime_hooks() -> Path:
    """A directory with only the hooks library Lambda's Python runtime ships (for SnapStart)."""
    import snapshot_restore_py

    directory = WORK / "runtime"
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(snapshot_restore_py.__file__, directory)
    return directory
