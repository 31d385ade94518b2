"""Property-based fuzzing on the local stack: every operation of the OpenAPI document through
schemathesis, and, through Hypothesis, correctly signed webhook deliveries and malformed request bodies.

What holds for every answer: no 5xx, and every error an RFC 9457 problem document
(``fuzzing_support.problem_failure`` says which answers are exempt and why). Runs are reproducible
(derandomized, no example database) and bounded: the file takes about two minutes on two cores.

schemathesis swaps out Hypothesis' printer of falsifying examples for the whole process, so the
hand-written properties put the request they sent into their assertion messages themselves.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.conftest import PHONE_NUMBER_ID, VERIFY_TOKEN, Api, Citizen, Stack, WhatsApp, random_mobile
from tests.integration.fuzzing_support import (
    OPENAPI,
    PROBLEM_JSON,
    gateway_answer,
    media_type,
    needs_jwt,
    problem_failure,
)

# ------------------------------------------------------------------------------------ schemathesis

VALID_BUT_REFUSED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]  # positive_data_acceptance's own
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 9457,
        "generation": {
            "mode": "all",  # data the schema allows and data it forbids
            "max-examples": 1000,  # per operation, fuzzing phase; the coverage phase adds its own fixed set
            "deterministic": True,
            "database": "none",
        },
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}, "fuzzing": {"enabled": True}},
        "checks": {
            # API Gateway answers a method without a route with its own 404 {"message":"Not Found"}, never 405.
            "unsupported_method": {"enabled": False},
        },
        "operations": [
            {
                # A code of six digits can be wrong (422 code_wrong) or spent (410 code_exhausted, ...).
                "include-path": "/v1/email-verifications/{verification_id}/verify",
                "checks": {"positive_data_acceptance": {"expected-statuses": [*VALID_BUT_REFUSED, "410", "422"]}},
            },
            {
                # A string of 1 to 32 characters can be no phone number at all (422 whatsapp_number_invalid).
                "include-path": "/v1/whatsapp-number",
                "checks": {"positive_data_acceptance": {"expected-statuses": [*VALID_BUT_REFUSED, "422"]}},
            },
        ],
    }
)
schema = schemathesis.openapi.from_path(OPENAPI, config=CONFIG)
# The document describes what the functions answer; an answer of the gateway's own is recognised one by
# one, body included, and held to that instead (see fuzzing_support.gateway_answer).
NOT_FOR_GATEWAY_ANSWERS = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# The coverage phase builds its cases, credentials included, at collection, before the stack (and so its
# signing key) exists: cases carry this stand-in, swapped for a real JWT as they are sent. Cases that
# leave the credentials out or spoil them on purpose keep doing so.
STAND_IN = "Bearer citizen-jwt"
JSON_ACCEPT = {"Accept": "application/json"}


@schema.auth(refresh_interval=None).apply_to(lambda ctx: needs_jwt(ctx.operation.method.upper(), ctx.operation.path))
class CitizenJwt:
    def get(self, case: schemathesis.Case[Any], ctx: schemathesis.AuthContext) -> str:
        return STAND_IN

    def set(self, case: schemathesis.Case[Any], data: str, ctx: schemathesis.AuthContext) -> None:
        case.headers["Authorization"] = data


class Callers:
    """A fresh account per operation: with a WhatsApp number, except for the migration routes, which
    only an account without one gets past."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.tokens: dict[str, str] = {}

    def authorization(self, path: str) -> str:
        if path not in self.tokens:
            self.tokens[path] = self.api.citizen(whatsapp="/migrations" not in path).token
        return f"Bearer {self.tokens[path]}"


@pytest.fixture(scope="module")  # one account per operation, however many cases it gets
def callers(stack: Stack) -> Callers:
    return Callers(Api(stack))


@schemathesis.check
def problem_document(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> None:
    """No 5xx, and every error a problem document (or one of the exempt answers)."""
    request = response.request
    failure = problem_failure(
        status=response.status_code,
        headers={name: values[0] for name, values in response.headers.items()},
        body=response.content,
        method=str(request.method),
        path=urlsplit(str(request.url)).path,
        request_headers=dict(request.headers),
        request_body_size=len(request.body or b""),
    )
    if failure:
        raise AssertionError(failure)


@schema.parametrize()
def test_every_operation(case: schemathesis.Case[Any], stack: Stack, callers: Callers) -> None:
    if case.headers.get("Authorization") == STAND_IN:
        case.headers["Authorization"] = callers.authorization(case.operation.path)
    transport: dict[str, Any] = {"base_url": stack.base_url, "timeout": 30}
    response = case.call(**transport)
    request = response.request
    from_gateway = gateway_answer(
        response.status_code,
        response.content,
        str(request.method),
        urlsplit(str(request.url)).path,
        len(request.body or b""),
        dict(request.headers),
    )
    excluded = NOT_FOR_GATEWAY_ANSWERS if from_gateway else []
    case.validate_response(response, excluded_checks=excluded, transport_kwargs=transport)


# ------------------------------------------------------------------------------------ answers behind secrets

Seeded = tuple[schemathesis.Case[Any], dict[str, Any]]  # a case, and what its call sends besides


def _handshake(api: Api, whatsapp: WhatsApp) -> Seeded:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    return schema["/whatsapp/webhook"]["GET"].Case(query=query), {}


def _signed_delivery(api: Api, whatsapp: WhatsApp) -> Seeded:
    body = json.dumps(WhatsApp.delivery(WhatsApp.value([]))).encode()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": WhatsApp.sign(body)}
    return schema["/whatsapp/webhook"]["POST"].Case(), {"data": body, "headers": headers}


def _pending_migration(api: Api, whatsapp: WhatsApp) -> Seeded:
    started = api.call("POST", "/v1/migrations", api.citizen(whatsapp=False))
    assert started.status_code == 201, started.text
    token = urlsplit(started.json()["link_url"]).path.removeprefix("/m/")
    return schema["/m/{token}"]["GET"].Case(path_parameters={"token": token}, headers=JSON_ACCEPT), {}


def _change_link(api: Api, whatsapp: WhatsApp) -> tuple[Citizen, str]:
    citizen = api.citizen(whatsapp=True)
    started = api.call("POST", "/v1/number-changes", citizen)
    assert started.status_code == 201, started.text
    whatsapp.send(started.json()["message"], random_mobile())  # the flow now waits for the password
    return citizen, urlsplit(started.json()["link_url"]).path.removeprefix("/c/")


def _password_form(api: Api, whatsapp: WhatsApp) -> Seeded:
    _, token = _change_link(api, whatsapp)
    return schema["/c/{token}"]["GET"].Case(path_parameters={"token": token}, headers=JSON_ACCEPT), {}


def _right_password(api: Api, whatsapp: WhatsApp) -> Seeded:
    citizen, token = _change_link(api, whatsapp)
    case = schema["/c/{token}"]["POST"].Case(path_parameters={"token": token}, headers=JSON_ACCEPT)
    return case, {"json": {"password": citizen.password}}


def _undo_token(api: Api) -> str:
    """A B2 change's "Bukan saya" token, from its email."""
    from tests.integration.test_undo_journey import changed_by_email, undo_link_in_mail

    citizen = api.citizen(whatsapp=True)
    changed_by_email(api, citizen, random_mobile())
    return urlsplit(undo_link_in_mail(api, api.stack, citizen)).path.removeprefix("/u/")


def _undo_page(api: Api, whatsapp: WhatsApp) -> Seeded:
    token = _undo_token(api)
    return schema["/u/{token}"]["GET"].Case(path_parameters={"token": token}, headers=JSON_ACCEPT), {}


def _undo_confirmed(api: Api, whatsapp: WhatsApp) -> Seeded:
    token = _undo_token(api)
    return schema["/u/{token}"]["POST"].Case(path_parameters={"token": token}, headers=JSON_ACCEPT), {"json": {}}


BEHIND_SECRETS: dict[str, Callable[[Api, WhatsApp], Seeded]] = {
    "GET /whatsapp/webhook, Meta's handshake": _handshake,
    "POST /whatsapp/webhook, a signed delivery": _signed_delivery,
    "GET /m/{token}, a pending migration": _pending_migration,
    "GET /c/{token}, waiting for the password": _password_form,
    "POST /c/{token}, the right password": _right_password,
    "GET /u/{token}, a change to undo": _undo_page,
    "POST /u/{token}, the undo": _undo_confirmed,
}


@pytest.mark.parametrize("answer", list(BEHIND_SECRETS))
def test_answers_behind_secrets_match_the_document(api: Api, whatsapp: WhatsApp, stack: Stack, answer: str) -> None:
    """The fuzzer cannot guess a verify token, an app secret or a link token, so it never sees these
    answers: one real request each, held to the same checks."""
    case, call = BEHIND_SECRETS[answer](api, whatsapp)
    case.call_and_validate(base_url=stack.base_url, timeout=30, **call)


# ------------------------------------------------------------------------------------ shared by the properties

PROPERTY = settings(max_examples=200, derandomize=True, database=None, deadline=None)
# A fixture's resource (an account, a code, a flow) serves all examples of one test: refused requests
# change nothing, and one that wrongly went through has already failed the test.
ON_ONE_RESOURCE = settings(PROPERTY, max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])


def sent(method: str, path: str, content_type: str, body: bytes) -> str:
    """The request, short enough for an assertion message."""
    shown = repr(body) if len(body) <= 120 else f"{body[:80]!r} ... {body[-20:]!r} ({len(body)} bytes)"
    return f"{method} {path} Content-Type: {content_type!r} body: {shown}"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
digits = st.integers(4301, 6000).map(lambda n: "9" * n)  # past Python's 4300-digit limit for int("...")
depth = st.integers(1000, 6000)  # past Python's recursion limit for json.loads
not_utf8 = st.builds(lambda head, tail: head + b"\xff" + tail, st.binary(max_size=30), st.binary(max_size=30))

# ------------------------------------------------------------------------------------ signed webhook bodies


def _delivery(messages: list[Any], phone_number_id: Any) -> bytes:
    return json.dumps(WhatsApp.delivery(WhatsApp.value(messages, phone_number_id))).encode()


meta_message = st.fixed_dictionaries(
    {
        "id": st.one_of(st.uuids().map(lambda u: f"wamid.{u.hex}"), json_values),
        "timestamp": st.one_of(st.integers(), st.integers(-(10**30), 10**30).map(str), digits, st.floats(), st.text()),
        "type": st.one_of(st.sampled_from(["text", "image", "reaction", "unsupported"]), json_values),
        "text": st.one_of(st.fixed_dictionaries({"body": st.one_of(st.text(), json_values)}), json_values),
    },
    optional={
        "from": st.one_of(st.integers(0, 9_999_999).map(lambda n: f"62812{n:07d}"), st.text(), json_values),
        "from_user_id": st.one_of(st.text(), json_values),
        "context": st.one_of(st.fixed_dictionaries({"forwarded": json_values}), json_values),
    },
)

huge_timestamp = digits.map(
    lambda d: _delivery([{"id": "wamid.huge", "timestamp": 0, "type": "text"}], PHONE_NUMBER_ID).replace(
        b'"timestamp": 0', b'"timestamp": ' + d.encode()
    )
)
WEBHOOK_BODIES: dict[str, st.SearchStrategy[bytes]] = {
    "arbitrary JSON": json_values.map(lambda value: json.dumps(value).encode()),
    "Meta-shaped": st.one_of(
        st.builds(
            _delivery, st.lists(meta_message, min_size=1, max_size=3), st.one_of(st.just(PHONE_NUMBER_ID), json_values)
        ),
        huge_timestamp,
    ),
    # These three can never be a delivery:
    "deep nesting": st.one_of(
        depth.map(lambda n: ("[" * n + "]" * n).encode()),
        depth.map(lambda n: ('{"entry":' * n + "1" + "}" * n).encode()),
        depth.map(lambda n: ('{"object":"whatsapp_business_account","entry":' + "[" * n + "]" * n + "}").encode()),
    ),
    "huge integers": st.one_of(
        digits.map(str.encode),
        digits.map(lambda d: f'{{"object":"whatsapp_business_account","entry":{d}}}'.encode()),
    ),
    "not UTF-8": st.one_of(
        not_utf8,
        st.just(b'{"object":"whatsapp_business_account","entry":[{"changes":[{"value":"\xc3\x28"}]}]}'),
    ),
}
NEVER_A_DELIVERY = {"deep nesting", "huge integers", "not UTF-8"}


@pytest.mark.parametrize("family", list(WEBHOOK_BODIES))
def test_any_correctly_signed_webhook_body_is_acknowledged(whatsapp: WhatsApp, family: str) -> None:
    """Meta retries anything but a 200 for a week: a signed delivery we cannot read is recorded as
    unreadable and acknowledged, never refused, never a 5xx."""

    @PROPERTY
    @given(body=WEBHOOK_BODIES[family])
    def acknowledged(body: bytes) -> None:
        response = whatsapp.post(body)
        answer = f"{sent('POST', '/whatsapp/webhook', 'application/json', body)}\n-> {response.status_code} "
        answer += repr(response.content[:300])
        assert response.status_code == 200, answer
        if family in NEVER_A_DELIVERY:
            assert response.json().get("unreadable"), f"not recorded as unreadable: {answer}"

    acknowledged()


# ------------------------------------------------------------------------------------ malformed request bodies


@dataclass
class Target:
    """A route that takes a body; with a real resource, so that only the body can be wrong."""

    method: str
    path: str
    valid_body: dict[str, Any]
    citizen: Citizen | None = None

    def send(self, api: Api, body: bytes, content_type: str) -> requests.Response:
        # A JSON client: link routes answer it in JSON too, so only the body is on trial here.
        headers = {**JSON_ACCEPT, "Content-Type": content_type}
        return api.call(self.method, self.path, self.citizen, data=body, headers=headers)

    def check(self, api: Api, body: bytes, content_type: str, expected_status: int | None = None) -> dict[str, Any]:
        """Sends the body; asserts a 4xx problem document (of ``expected_status``) and returns it."""
        response = self.send(api, body, content_type)
        request = sent(self.method, self.path, content_type, body)
        answer = f"{request}\n-> {response.status_code} {response.headers.get('content-type')} {response.text[:300]}"
        failure = problem_failure(
            status=response.status_code,
            headers={name.lower(): value for name, value in response.headers.items()},
            body=response.content,
            method=self.method,
            path=self.path,
            request_headers=dict(response.request.headers),
        )
        assert failure is None, f"{failure}\n{answer}"
        # The request carries a valid JWT where one is needed and has a route: only a function answers it.
        assert media_type(response.headers.get("content-type")) == PROBLEM_JSON, answer
        assert 400 <= response.status_code < 500, answer
        if expected_status is not None:
            assert response.status_code == expected_status, answer
        return dict(response.json())


def _verification(api: Api) -> tuple[Citizen, str, str]:
    from tests.integration.test_email_change_journey import code_from_mailbox, request_code

    citizen = api.citizen(whatsapp=True)
    verification_id = request_code(api, citizen)["verification_id"]
    return citizen, verification_id, code_from_mailbox(api, citizen)


def _verify_target(api: Api, whatsapp: WhatsApp) -> Target:
    citizen, verification_id, code = _verification(api)
    return Target("POST", f"/v1/email-verifications/{verification_id}/verify", {"code": code}, citizen)


def _number_target(api: Api, whatsapp: WhatsApp) -> Target:
    citizen, verification_id, code = _verification(api)
    permit = api.call("POST", f"/v1/email-verifications/{verification_id}/verify", citizen, json={"code": code})
    assert permit.status_code == 200, permit.text
    body = {"change_token": permit.json()["change_token"], "whatsapp_number": random_mobile()}
    return Target("PUT", "/v1/whatsapp-number", body, citizen)


def _link_target(api: Api, whatsapp: WhatsApp) -> Target:
    citizen, token = _change_link(api, whatsapp)
    return Target("POST", f"/c/{token}", {"password": citizen.password})


TARGETS: dict[str, Callable[[Api, WhatsApp], Target]] = {
    "PUT /v1/whatsapp-number": _number_target,
    "POST /v1/email-verifications/{id}/verify": _verify_target,
    "POST /c/{token}": _link_target,
}


def _missing(route: str, citizen: Citizen) -> Target:
    """The route with a resource that does not exist, so the answer does not depend on earlier requests."""
    if route.startswith("PUT"):
        return Target(
            "PUT", "/v1/whatsapp-number", {"change_token": "x" * 32, "whatsapp_number": "081234567890"}, citizen
        )
    if route.startswith("POST /v1"):
        return Target("POST", f"/v1/email-verifications/{uuid.UUID(int=1)}/verify", {"code": "123456"}, citizen)
    return Target("POST", "/c/" + "A" * 43, {"password": "Rahasia-Jogja-2020"})


@pytest.fixture(params=list(TARGETS))
def target(request: pytest.FixtureRequest, api: Api, whatsapp: WhatsApp) -> Target:
    return TARGETS[request.param](api, whatsapp)


unsupported_media_types = st.sampled_from(
    [
        "text/plain;charset=UTF-8",  # what a cross-site form or fetch without preflight sends
        "text/plain",
        "application/merge-patch+json",
        "application/merge-patch+json; charset=utf-8",
    ]
)


def test_a_media_type_the_route_does_not_take_is_415(api: Api, target: Target) -> None:
    @ON_ONE_RESOURCE
    @given(content_type=unsupported_media_types)
    def refused(content_type: str) -> None:
        target.check(api, json.dumps(target.valid_body).encode(), content_type, 415)

    refused()


@pytest.mark.parametrize("route", list(TARGETS))
def test_media_type_names_are_case_insensitive(api: Api, route: str) -> None:
    """``Application/JSON`` is application/json (RFC 9110): the same answer, never 415."""
    target = _missing(route, api.citizen(whatsapp=True))

    @ON_ONE_RESOURCE
    @given(content_type=st.sampled_from(["Application/JSON", "APPLICATION/JSON", "application/Json; Charset=UTF-8"]))
    def same_answer(content_type: str) -> None:
        body = json.dumps(target.valid_body).encode()
        as_sent = target.check(api, body, content_type)
        plain = target.check(api, body, "application/json")
        assert (as_sent["status"], as_sent["code"]) == (plain["status"], plain["code"]), (
            f"{sent(target.method, target.path, content_type, body)}\n-> {as_sent}\nwith application/json -> {plain}"
        )

    same_answer()


def _with_first_field(target: Target, raw: bytes) -> bytes:
    """The valid body, the value of its first field replaced by raw JSON text."""
    name, *_ = target.valid_body
    rest = b"".join(f",{json.dumps(k)}:{json.dumps(v)}".encode() for k, v in target.valid_body.items() if k != name)
    return b'{"' + name.encode() + b'":' + raw + rest + b"}"


def _json_types(target: Target) -> st.SearchStrategy[str]:
    form = ["application/x-www-form-urlencoded"] if target.path.startswith("/c/") else []
    return st.sampled_from(["application/json", *form])


MALFORMED: dict[str, Callable[[Target], st.SearchStrategy[tuple[bytes, str]]]] = {
    "not UTF-8": lambda target: st.tuples(
        st.one_of(not_utf8, st.just(_with_first_field(target, b'"\xc3\x28"'))), _json_types(target)
    ),
    "integer of 5000 digits": lambda target: st.tuples(
        st.one_of(digits.map(str.encode), digits.map(lambda d: _with_first_field(target, d.encode()))),
        st.just("application/json"),
    ),
    "JSON nested 5000 deep": lambda target: st.tuples(
        st.one_of(
            depth.map(lambda n: ("[" * n + "]" * n).encode()),
            depth.map(lambda n: _with_first_field(target, ("[" * n + "]" * n).encode())),
            depth.map(lambda n: ('{"a":' * n + "1" + "}" * n).encode()),
        ),
        st.just("application/json"),
    ),
}


@pytest.mark.parametrize("malformation", list(MALFORMED))
def test_a_malformed_body_is_a_4xx_problem(api: Api, target: Target, malformation: str) -> None:
    @ON_ONE_RESOURCE
    @given(request=MALFORMED[malformation](target))
    def refused(request: tuple[bytes, str]) -> None:
        body, content_type = request
        target.check(api, body, content_type)

    refused()
