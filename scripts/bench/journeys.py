"""The requests of the three journeys, as API Gateway hands them to the functions: fresh accounts in
the tables, events built from the template's routes, signed WhatsApp deliveries, the email's code."""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import uuid
from dataclasses import dataclass
from typing import Any

from devserver import meta, template
from devserver.gateway import Request, build_event
from devserver.seed import password_hash

PASSWORD = "Malioboro#2020"  # noqa: S105 - a bench account's password
_numbers = itertools.count(random.randrange(10**7))  # noqa: S311 - only unique, not secret


def new_mobile_number() -> str:
    return f"+62812{next(_numbers) % 10**8:08d}"


@dataclass(frozen=True)
class Call:
    """One request to one function: the logical id of the function and its event."""

    function: str
    event: dict[str, Any]


class Journeys:
    def __init__(self) -> None:
        from shared.services import accounts

        self.registry = accounts()
        self.routes = template.routes(template.load())
        self.password_hash = password_hash(PASSWORD, "bcrypt-2y")  # cost 10, as Laravel writes it

    def account(self, *, whatsapp: bool) -> str:
        """A new account as JSS holds them: email, phone, a bcrypt password; with a WhatsApp number
        proven through WhatsApp, or none yet (journey A)."""
        from shared.domain.accounts import Account

        account_id = f"bench-{uuid.uuid4().hex[:12]}"
        phone = new_mobile_number()
        self.registry.save(
            Account(
                account_id=account_id,
                name="Warga Bench",
                email=f"{account_id}@example.com",
                phone_number=phone,
                whatsapp_number=phone if whatsapp else None,
                whatsapp_verified_via="whatsapp" if whatsapp else None,
                password_hash=self.password_hash,
            )
        )
        return account_id

    def http(
        self, method: str, path: str, *, account_id: str | None = None, body: Any = None, accept: str | None = None
    ) -> Call:
        raw = json.dumps(body).encode() if body is not None else b""
        headers = {"host": "bench.invalid", "user-agent": "bench"}
        if raw:
            headers["content-type"] = "application/json"
        if accept:
            headers["accept"] = accept
        return self._route(Request(method, path, "", headers, raw, "127.0.0.1"), account_id)

    def delivery(self, text: str, sender: str) -> Call:
        """Meta's webhook delivery of one text from ``sender``, signed with the app secret."""
        message = meta.text_message(text, sender)
        body = json.dumps(meta.delivery(meta.value([message], os.environ["WHATSAPP_PHONE_NUMBER_ID"]))).encode()
        headers = {
            "content-type": "application/json",
            "x-hub-signature-256": meta.signature(body, os.environ["WHATSAPP_APP_SECRET"]),
        }
        return self._route(Request("POST", "/whatsapp/webhook", "", headers, body, "127.0.0.1"), None)

    def _route(self, request: Request, account_id: str | None) -> Call:
        for route in self.routes:
            if (params := route.match(request.method, request.path)) is not None:
                claims = {"sub": account_id} if account_id else None
                return Call(route.function.name, build_event(request, route, params, claims))
        raise LookupError(f"no route for {request.method} {request.path}")


def link_token(answer: dict[str, Any]) -> str:
    """The token at the end of the blue link a start answer carries."""
    return str(json.loads(answer["body"])["link_url"]).rsplit("/", 1)[1]


def code_in_mail(send_email_params: dict[str, Any]) -> str:
    """The 6-digit code of an SES ``SendEmail`` request (plain-text part)."""
    text = send_email_params["Content"]["Simple"]["Body"]["Text"]["Data"]
    found = re.search(r"\b(\d{6})\b", text)
    if not found:
        raise LookupError("no code in the email")
    return found.group(1)
