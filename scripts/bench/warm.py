"""Warm requests, step by step through the three journeys, against the floor of their own AWS calls.

Each step runs through its function's handler (loaded once, as a warm container holds it) while every
AWS call it makes is recorded; right after, the floor sends exactly those requests again with plain
boto3 clients and nothing else: reads on the same tables, writes on twin tables (same schema, same
DynamoDB Local), so the journey's items stay as the step left them. The ratio is what the service
adds to its round trips:
routing, validation, rules, pages, QR codes, password hashing.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.client
from botocore.exceptions import ClientError

from devserver import services, template
from devserver.gateway import LambdaContext
from scripts.bench.journeys import PASSWORD, Call, Journeys, code_in_mail, link_token, new_mobile_number
from scripts.bench.stats import Pair

TWIN_SUFFIX = "Twin"
_DYNAMODB_READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}
_original_call = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AwsCall:
    service: str
    operation: str
    params: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.service}.{self.operation}"


@contextmanager
def recording() -> Iterator[list[AwsCall]]:
    """Every AWS API call made inside, by any client."""
    calls: list[AwsCall] = []

    def record(client: Any, operation: str, params: dict[str, Any]) -> Any:
        calls.append(AwsCall(client.meta.service_model.service_name, operation, copy.deepcopy(params)))
        return _original_call(client, operation, params)

    botocore.client.BaseClient._make_api_call = record  # type: ignore[attr-defined]
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = _original_call  # type: ignore[attr-defined]


@dataclass
class Step:
    name: str
    pair: Pair = field(default_factory=Pair)
    calls: list[str] = field(default_factory=list)


class WarmJourneys:
    def __init__(self) -> None:
        self.journeys = Journeys()
        self.handlers = _load_handlers()
        self.raw_clients: dict[str, Any] = {}
        self.steps: dict[str, Step] = {}

    def invoke(self, step: str, call: Call, expect: int) -> tuple[dict[str, Any], list[AwsCall]]:
        """Runs one step, then its floor; keeps both times and the step's calls."""
        handler = self.handlers[call.function]
        event = copy.deepcopy(call.event)
        with recording() as calls:
            started = time.perf_counter()
            answer = handler(event, LambdaContext(call.function))
            took = time.perf_counter() - started
        if answer.get("statusCode") != expect:
            raise RuntimeError(f"{step}: {answer.get('statusCode')} (expected {expect}): {answer.get('body')}")
        floor = self._replay(calls)
        record = self.steps.setdefault(step, Step(step))
        record.pair.measured.append(took)
        record.pair.floor.append(floor)
        record.calls = [str(c) for c in calls]
        return answer, calls

    def _replay(self, calls: list[AwsCall]) -> float:
        twins = [(call, _to_twin_tables(call.params) if _writes(call) else call.params) for call in calls]
        started = time.perf_counter()
        for call, params in twins:
            client = self.raw_clients.get(call.service) or self.raw_clients.setdefault(
                call.service,
                boto3.client(call.service),  # type: ignore[call-overload]
            )
            # A condition that held on the journey's items may not hold on the twins: same round trip.
            with contextlib.suppress(ClientError):
                _original_call(client, call.operation, params)
        return time.perf_counter() - started

    def run_once(self) -> None:
        """Journeys A, B1 and B2 once each, on new accounts, plus the contact card."""
        j = self.journeys
        # A: start, the waiting page, the WhatsApp message, the blue link's success page.
        account = j.account(whatsapp=False)
        started, _ = self.invoke("A1 start migration", j.http("POST", "/v1/migrations", account_id=account), 201)
        token = link_token(started)
        self.invoke("A link page (waiting)", j.http("GET", f"/m/{token}"), 200)
        message = json.loads(started["body"])["message"]
        self.invoke("A webhook binding", j.delivery(message, new_mobile_number()), 200)
        self.invoke("A link page (done)", j.http("GET", f"/m/{token}"), 200)
        self.invoke("contact card", j.http("GET", "/v1/contact", account_id=account), 200)
        # B1: start, the message, the password form, the password.
        account = j.account(whatsapp=True)
        started, _ = self.invoke("B1.1 start change", j.http("POST", "/v1/number-changes", account_id=account), 201)
        token = link_token(started)
        message = json.loads(started["body"])["message"]
        self.invoke("B1 webhook binding", j.delivery(message, new_mobile_number()), 200)
        self.invoke("B1 link page (password form)", j.http("GET", f"/c/{token}"), 200)
        confirm = j.http("POST", f"/c/{token}", body={"password": PASSWORD}, accept="application/json")
        self.invoke("B1.4 confirm password", confirm, 200)
        # B2: the code by email, the code, the new number.
        account = j.account(whatsapp=True)
        sent, calls = self.invoke("B2.1 email code", j.http("POST", "/v1/email-verifications", account_id=account), 202)
        code = code_in_mail(next(c.params for c in calls if c.operation == "SendEmail"))
        verification = json.loads(sent["body"])["verification_id"]
        check = j.http(
            "POST", f"/v1/email-verifications/{verification}/verify", account_id=account, body={"code": code}
        )
        permit, _ = self.invoke("B2.2 check code", check, 200)
        change = {"change_token": json.loads(permit["body"])["change_token"], "whatsapp_number": new_mobile_number()}
        self.invoke("B2.3 new number", j.http("PUT", "/v1/whatsapp-number", account_id=account, body=change), 200)


def _writes(call: AwsCall) -> bool:
    return call.service == "dynamodb" and call.operation not in _DYNAMODB_READS


def twin_table(table: str) -> str:
    return f"{table}{TWIN_SUFFIX}"


def _to_twin_tables(params: Any) -> Any:
    """The same request, on the twin tables: ``TableName`` values and ``RequestItems`` keys renamed."""
    if isinstance(params, list):
        return [_to_twin_tables(p) for p in params]
    if not isinstance(params, dict):
        return params
    renamed: dict[str, Any] = {}
    for key, value in params.items():
        if key == "TableName":
            renamed[key] = twin_table(value)
        elif key == "RequestItems":
            renamed[key] = {twin_table(table): _to_twin_tables(v) for table, v in value.items()}
        else:
            renamed[key] = _to_twin_tables(value)
    return renamed


def create_twin_tables(endpoint: str) -> None:
    tables = template.tables(template.load())
    services.create_tables(
        endpoint,
        {
            twin_table(name): {**request, "TableName": twin_table(request["TableName"])}
            for name, request in tables.items()
        },
    )


def _load_handlers() -> dict[str, Any]:
    """Each function's handler, imported once from its code directory, as a warm container holds it."""
    handlers = {}
    for name, function in template.functions(template.load()).items():
        module_name, attribute = function.handler.rsplit(".", 1)
        spec = importlib.util.spec_from_file_location(f"bench_{name}", function.code_dir / f"{module_name}.py")
        if spec is None or spec.loader is None:
            raise ImportError(function.code_dir)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        handlers[name] = getattr(module, attribute)
    return handlers


def run(rounds: int, warm_up: int = 2) -> list[Step]:
    create_twin_tables(os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
    warm = WarmJourneys()
    for _ in range(warm_up):
        warm.run_once()
    warm.steps.clear()
    for _ in range(rounds):
        warm.run_once()
    return list(warm.steps.values())
