"""JSS's side of the integration, played by the local stack.

- JSS receives the ``WhatsAppNumberChanged`` events through the rule ``docs/events.md`` gives it (the
  account events bus to a queue of JSS's own); they are kept for ``GET /__dev/events``, newest first.
- JSS publishes account changes to the account-sync queue: ``POST /__dev/jss/messages`` sends a message
  as given, or, for ``{"type": "account.password_changed", "account_id", "password"}``, hashes the
  password as JSS (Laravel) does and stamps the time, so the console can change a password "in JSS".
- The event bus can be taken away and brought back (``POST /__dev/faults {"eventbridge": "down"}``,
  ``devserver.faults``), to watch the outbox retry.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

from devserver import services
from devserver.gateway import LocalResponse, Request, json_response
from shared.domain.change_events import DETAIL_TYPES, EVENT_SOURCE

# The pattern of the rule docs/events.md gives JSS.
JSS_RULE_PATTERN = {"source": [EVENT_SOURCE], "detail-type": list(DETAIL_TYPES)}
_TAP_QUEUE = "jss-core-events"
_RULE = "jss-core-whatsapp-number-changed"


class LocalJss:
    def __init__(self, moto_endpoint: str, bus_name: str, sync_queue: services.Queue) -> None:
        self.events_client = services.client("events", moto_endpoint)
        self.sqs = services.client("sqs", moto_endpoint)
        self.bus_name = bus_name
        self.sync_queue = sync_queue
        self.received: list[dict[str, Any]] = []
        self.bus_up = True
        self._stopped = threading.Event()
        url = self.sqs.create_queue(QueueName=_TAP_QUEUE)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._tap = services.Queue(url, arn)

    def start(self) -> None:
        self._subscribe()
        threading.Thread(target=self._collect, name="jss-core-events", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()

    def _subscribe(self) -> None:
        self.events_client.put_rule(Name=_RULE, EventBusName=self.bus_name, EventPattern=json.dumps(JSS_RULE_PATTERN))
        target = {"Id": "jss-core", "Arn": self._tap.arn}
        self.events_client.put_targets(Rule=_RULE, EventBusName=self.bus_name, Targets=[target])

    def _collect(self) -> None:
        while not self._stopped.is_set():
            try:
                answer = self.sqs.receive_message(QueueUrl=self._tap.url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            except Exception:  # moto is stopping with the stack
                self._stopped.wait(1)
                continue
            for message in answer.get("Messages", []):
                self.received.append({"received_at": time.time(), **json.loads(message["Body"])})
                self.sqs.delete_message(QueueUrl=self._tap.url, ReceiptHandle=message["ReceiptHandle"])

    # ----------------------------------------------------------------- dev routes

    def events(self, _: Request) -> LocalResponse:
        return json_response(200, list(reversed(self.received)))

    def send_message(self, request: Request) -> LocalResponse:
        try:
            message = request.json()
        except ValueError:
            return json_response(422, {"message": "body must be a JSON account-sync message"})
        if isinstance(message, dict) and "password" in message:
            message = self._password_changed(message)
            if message is None:
                return json_response(422, {"message": 'body must be {"account_id": ..., "password": ...}'})
        sent = self.sqs.send_message(QueueUrl=self.sync_queue.url, MessageBody=json.dumps(message))
        return json_response(202, {"message_id": sent["MessageId"], "message": message})

    @staticmethod
    def _password_changed(given: dict[str, Any]) -> dict[str, Any] | None:
        from devserver.seed import password_hash

        account_id, password = given.get("account_id"), given.get("password")
        if not isinstance(account_id, str) or not isinstance(password, str) or not password:
            return None
        return {
            "type": "account.password_changed",
            "account_id": account_id,
            "updated_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "password_hash": password_hash(password, "bcrypt-2y"),
        }

    # ----------------------------------------------------------------- the event bus outage

    def take_bus_away(self) -> None:
        """Deletes the bus with JSS's rule and target: events published meanwhile fail, as in an outage."""
        if self.bus_up:
            self.events_client.remove_targets(Rule=_RULE, EventBusName=self.bus_name, Ids=["jss-core"])
            self.events_client.delete_rule(Name=_RULE, EventBusName=self.bus_name)
            self.events_client.delete_event_bus(Name=self.bus_name)
            self.bus_up = False

    def bring_bus_back(self) -> None:
        if not self.bus_up:
            self.events_client.create_event_bus(Name=self.bus_name)
            self._subscribe()
            self.bus_up = True
