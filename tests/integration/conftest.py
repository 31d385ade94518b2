"""The local stack (``python -m devserver``) started once per test session, and HTTP helpers.

Tests talk to it over HTTP only, as a front end and Meta would. Setting up fresh accounts and moving
time forward (making a flow expire) go straight to DynamoDB Local, as an operator could.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import phonenumbers
import pytest
import requests

from devserver import meta
from devserver.seed import password_hash
from scripts.fake_export import FIELDS
from tests.integration import browser_support

ROOT = Path(__file__).resolve().parents[2]
# The browser tests' fixtures, for every test module here.
browser, desktop, phone = browser_support.browser, browser_support.desktop, browser_support.phone
T = TypeVar("T")
APP_SECRET = "integration-app-secret"
VERIFY_TOKEN = "integration-verify-token"
PHONE_NUMBER_ID = "100000000000001"
HMAC_KEY = "integration-hmac-key"
NUMBER_KEY = "integration-number-key"


def _free_port() -> int:
    from devserver.services import free_port

    return free_port()


@dataclass
class Stack:
    base_url: str
    dynamodb_endpoint: str
    moto_endpoint: str
    process: subprocess.Popen[bytes]
    state_file: Path

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    port, dynamodb_port, moto_port = _free_port(), _free_port(), _free_port()
    state_file = tmp_path_factory.mktemp("stack") / "local-stack.json"  # not the one of a `make run`
    environment = {
        "LOCAL_STACK_STATE": str(state_file),
        **os.environ,
        "PORT": str(port),
        "DYNAMODB_LOCAL_PORT": str(dynamodb_port),
        "MOTO_PORT": str(moto_port),
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "TOKEN_HMAC_KEY": HMAC_KEY,
        "NUMBER_HASH_KEY": NUMBER_KEY,
        "LOG_LEVEL": "WARNING",
    }
    log = (ROOT / ".pytest_cache" / "devserver.log").open("wb") if (ROOT / ".pytest_cache").exists() else None
    process = subprocess.Popen(
        [sys.executable, "-m", "devserver", "--quiet", "--port", str(port)],
        cwd=ROOT,
        env=environment,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            pytest.fail(f"the local stack exited with {process.returncode}; see .pytest_cache/devserver.log")
        try:
            if requests.get(base_url + "/__dev/accounts", timeout=1).ok:
                break
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the local stack did not start within 90 s")
        time.sleep(0.3)
    _point_this_process_at(f"http://127.0.0.1:{dynamodb_port}")
    yield Stack(base_url, f"http://127.0.0.1:{dynamodb_port}", f"http://127.0.0.1:{moto_port}", process, state_file)
    process.send_signal(signal.SIGINT)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
    if log:
        log.close()


def _point_this_process_at(dynamodb_endpoint: str) -> None:
    """Lets tests read and arrange DynamoDB Local with the project's own data classes."""
    os.environ.update(
        {
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
            "AWS_DEFAULT_REGION": "ap-southeast-3",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "ACCOUNTS_TABLE": "AccountsTable",
            "TOKENS_TABLE": "TokensTable",
            "AUDIT_TABLE": "AuditTable",
            "IDEMPOTENCY_TABLE": "IdempotencyTable",
            "OUTBOX_TABLE": "OutboxTable",
            "EVENT_BUS_NAME": "AccountEventBus",
            "PUBLIC_BASE_URL": "http://unused",
            "WHATSAPP_BUSINESS_NUMBER": "+6281100000000",
            "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
            "TOKEN_HMAC_KEY": HMAC_KEY,
            "NUMBER_HASH_KEY": NUMBER_KEY,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )


def eventually(check: Callable[[], T], seconds: float = 30, what: str = "the condition") -> T:
    """Polls ``check`` until it returns something truthy (queues and streams work in the background)."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds} s")
        time.sleep(0.25)


def at_the_same_moment(*calls: Callable[[], T]) -> list[T]:
    """Runs the calls in parallel threads released together by a barrier; their results in order."""
    barrier = threading.Barrier(len(calls))

    def released(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(released, calls))


def random_mobile() -> str:
    """A fresh valid Indonesian mobile number in E.164 (Telkomsel's 0812 range)."""
    while True:
        candidate = "+62812" + "".join(random.choices("0123456789", k=7))
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            return candidate


@dataclass
class Citizen:
    """A JSS account created for one test, with a local JWT."""

    account_id: str
    password: str
    email: str | None
    phone_number: str | None
    whatsapp_number: str | None
    token: str


class Api:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def call(self, method: str, path: str, citizen: Citizen | None = None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if citizen is not None:
            headers["Authorization"] = f"Bearer {citizen.token}"
        return requests.request(method, self.stack.url(path), headers=headers, timeout=30, **kwargs)

    def token(self, account_id: str) -> str:
        response = requests.post(self.stack.url("/__dev/token"), json={"sub": account_id}, timeout=10)
        response.raise_for_status()
        return str(response.json()["token"])

    def citizen(
        self,
        *,
        whatsapp: bool = False,
        email: bool = True,
        password: str = "Rahasia-Jogja-2020",
        hash_kind: str = "bcrypt-2y",
    ) -> Citizen:
        from shared.adapters.dynamo import Dynamo
        from shared.config import Settings
        from shared.domain.accounts import Account, AccountRegistry

        account_id = f"it-{uuid.uuid4().hex[:12]}"
        phone = random_mobile()
        account = Account(
            account_id=account_id,
            email=f"{account_id}@example.com" if email else None,
            phone_number=phone,
            whatsapp_number=phone if whatsapp else None,
            whatsapp_verified_via="whatsapp" if whatsapp else None,
            password_hash=password_hash(password, hash_kind),
        )
        AccountRegistry(Dynamo(), Settings.from_environment()).save(account)
        return Citizen(account_id, password, account.email, phone, account.whatsapp_number, self.token(account_id))

    def account(self, account_id: str) -> Any:
        from shared.adapters.dynamo import Dynamo
        from shared.config import Settings
        from shared.domain.accounts import AccountRegistry

        return AccountRegistry(Dynamo(), Settings.from_environment()).get(account_id)

    def contact(self, citizen: Citizen) -> dict[str, Any]:
        response = self.call("GET", "/v1/contact", citizen)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def expire_flow(self, flow_id: str) -> None:
        """Moves a flow's expiry into the past, as if its ten minutes had run out."""
        from shared.adapters.dynamo import Dynamo

        Dynamo().update("TokensTable", {"pk": f"FLOW#{flow_id}"}, "SET expires_at = :past", past=int(time.time()) - 1)

    def mailbox(self) -> list[dict[str, Any]]:
        return list(requests.get(self.stack.url("/__dev/mailbox"), timeout=10).json())

    def events_for(self, account_id: str) -> list[dict[str, Any]]:
        """The WhatsAppNumberChanged events JSS received for the account, newest first."""
        received = requests.get(self.stack.url("/__dev/events"), timeout=10).json()
        return [event for event in received if event["detail"]["account_id"] == account_id]

    def from_jss(self, message: dict[str, Any]) -> None:
        """JSS puts a message on the account-sync queue."""
        response = requests.post(self.stack.url("/__dev/jss/messages"), json=message, timeout=10)
        assert response.status_code == 202, response.text

    def eventbridge(self, state: str) -> None:
        response = requests.post(self.stack.url("/__dev/faults"), json={"eventbridge": state}, timeout=10)
        assert response.status_code == 200, response.text

    def stored(self, account_id: str) -> dict[str, Any] | None:
        """The account item as stored, tombstone or not."""
        from shared.adapters.dynamo import Dynamo

        return Dynamo().get("AccountsTable", {"pk": f"ACCOUNT#{account_id}"})


@pytest.fixture
def api(stack: Stack) -> Api:
    return Api(stack)


class WhatsApp:
    """Plays Meta's WhatsApp Cloud API: deliveries in Meta's format, signed with the app secret."""

    text_message = staticmethod(meta.text_message)
    delivery = staticmethod(meta.delivery)

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    @staticmethod
    def value(messages: list[dict[str, Any]], phone_number_id: str = PHONE_NUMBER_ID) -> dict[str, Any]:
        return meta.value(messages, phone_number_id)

    @staticmethod
    def sign(body: bytes, secret: str = APP_SECRET) -> str:
        return meta.signature(body, secret)

    def post(self, payload: dict[str, Any] | bytes, signature: str | None = "auto") -> requests.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "auto":
            signature = self.sign(body)
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        return requests.post(self.stack.url("/whatsapp/webhook"), data=body, headers=headers, timeout=30)

    def send(self, body: str, sender: str | None, **options: Any) -> requests.Response:
        response = self.post(self.delivery(self.value([self.text_message(body, sender, **options)])))
        assert response.status_code == 200, response.text
        return response


@pytest.fixture
def whatsapp(stack: Stack) -> WhatsApp:
    return WhatsApp(stack)


# ----------------------------------------------------------------- JSS exports and the import command


def jss_time(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) - timedelta(days=1) + delta).isoformat(timespec="milliseconds")


def export_row(password: str = "Rahasia-Jogja-2020", *, whatsapp: bool = False, **overrides: Any) -> dict[str, str]:
    phone = random_mobile()
    account_id = f"imp-{uuid.uuid4().hex[:10]}"
    row = {
        "account_id": account_id,
        "name": "Sri Wahyuni",
        "email": f"{account_id}@example.com",
        "phone_number": f"0{phone[3:6]}-{phone[6:10]}-{phone[10:]}",  # as citizens typed it into JSS
        "whatsapp_number": phone if whatsapp else "",
        "password_hash": password_hash(password, "bcrypt-2y"),
        "updated_at": jss_time(),
        "whatsapp_verified": "false",
    }
    return {**row, **overrides}


def write_export(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def run_import(stack: Stack, export: Path) -> subprocess.CompletedProcess[str]:
    """``make import FILE=...`` as a developer runs it, finding the running stack on its own."""
    return subprocess.run(
        [sys.executable, "-m", "scripts.import_accounts", str(export), "--quiet"],
        cwd=ROOT,
        env={**os.environ, "LOCAL_STACK_STATE": str(stack.state_file)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def imported_citizen(api: Api, row: dict[str, str], password: str = "Rahasia-Jogja-2020") -> Citizen:
    phone = "+62" + row["phone_number"].replace("-", "")[1:]
    whatsapp = row["whatsapp_number"] or None
    return Citizen(row["account_id"], password, row["email"], phone, whatsapp, api.token(row["account_id"]))
