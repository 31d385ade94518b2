"""What the fuzzing suite holds every error answer to, apart from the generators.

Every answer with a status of 400 or more must be an RFC 9457 problem document, except answers that
never reached a function (the API Gateway's own, recognised one by one) and error pages of the blue
links for a client that does not ask for JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from devserver.gateway import MAX_BODY_BYTES
from shared.web.pages import wants_html

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "docs" / "openapi.json"
PROBLEM_JSON = "application/problem+json"
PROBLEM_FIELDS = ("type", "title", "status", "code", "detail")
LINK_PATH = re.compile(r"^/[mcu]/[^/]+$")


def _operations() -> list[tuple[str, re.Pattern[str], bool]]:
    """(method, path pattern, needs the JWT) for every operation of the OpenAPI document."""
    document = json.loads(OPENAPI.read_text())
    found = []
    for path, item in document["paths"].items():
        pattern = re.compile(
            "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in re.split(r"(\{\w+\})", path))
        )
        for method, operation in item.items():
            if method in ("get", "put", "post", "delete", "patch"):
                needs_jwt = bool(operation.get("security", document.get("security")))
                found.append((method.upper(), pattern, needs_jwt))
    return found


OPERATIONS = _operations()


def has_route(method: str, path: str) -> bool:
    return any(method == m and pattern.fullmatch(path) for m, pattern, _ in OPERATIONS)


def needs_jwt(method: str, path: str) -> bool:
    return any(method == m and pattern.fullmatch(path) and jwt for m, pattern, jwt in OPERATIONS)


def media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def gateway_answer(
    status: int, body: bytes, method: str, path: str, request_body_size: int, request_headers: Mapping[str, str]
) -> str | None:
    """Names the API Gateway answer this is, when it is one that never reached a function."""
    document = _json(body)
    length = next((v for k, v in request_headers.items() if k.lower() == "content-length"), None)
    if status == 400 and document == {"message": "Bad Request"} and length is not None and not length.isdigit():
        return "unreadable Content-Length"
    if status == 401 and document == {"message": "Unauthorized"} and needs_jwt(method, path):
        return "JWT authorizer refused the token"
    if status == 404 and document == {"message": "Not Found"} and not has_route(method, path):
        return "no route"
    if status == 413 and document == {"message": "Request Entity Too Large"} and request_body_size > MAX_BODY_BYTES:
        return "payload too large"
    return None


def problem_failure(
    *,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    method: str,
    path: str,
    request_headers: Mapping[str, str],
    request_body_size: int = 0,
) -> str | None:
    """Why this answer breaks the error contract, or None when it keeps it. ``headers`` are lower-case."""
    if status >= 500:
        return f"server error {status}: {body[:500]!r}"
    if status < 400:
        return None
    if gateway_answer(status, body, method, path, request_body_size, request_headers):
        return None
    content_type = media_type(headers.get("content-type"))
    accept = next((v for k, v in request_headers.items() if k.lower() == "accept"), None)
    # The blue links are pages: HTML unless the client asks for JSON (the service's own negotiation,
    # tested on its own in tests/unit/test_web.py).
    if LINK_PATH.match(path) and content_type == "text/html" and wants_html(request_headers):
        return None
    if content_type != PROBLEM_JSON:
        answered = headers.get("content-type")
        return f"{status} answered as {answered!r}, not {PROBLEM_JSON} (Accept: {accept!r}): {body[:300]!r}"
    document = _json(body)
    if not isinstance(document, dict):
        return f"{status} problem document is not a JSON object: {body[:300]!r}"
    missing = [field for field in PROBLEM_FIELDS if field not in document]
    if missing:
        return f"{status} problem document lacks {missing}: {body[:300]!r}"
    if document["status"] != status:
        return f"problem document says status {document['status']!r} on a {status} answer"
    wrong = [f for f in ("type", "title", "code", "detail") if not isinstance(document[f], str) or not document[f]]
    if wrong:
        return f"{status} problem document has empty or non-text {wrong}: {body[:300]!r}"
    return None
