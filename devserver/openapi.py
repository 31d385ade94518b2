"""One OpenAPI document for the whole API, merged from every function's Powertools resolver.

Security comes from ``template.yaml``: routes behind the JWT authorizer get the bearer scheme, link
and webhook routes none. Errors come from ``shared.web.problems``: one response per status an
operation answers problem documents with, its ``code`` narrowed to that operation's codes.
``python -m devserver.openapi`` prints it; ``make openapi`` writes ``docs/openapi.json``, and a test
fails when that file and the routes disagree.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from http import HTTPStatus
from typing import Any

from devserver import template
from shared.errors import CATALOG
from shared.web import problems
from shared.web.api import PROBLEM_JSON, problem_response
from shared.web.models import TAGS
from shared.web.pages import is_link_path

TITLE = "JSS WhatsApp number service"
VERSION = "1.0.0"
DESCRIPTION = (
    "Link a WhatsApp number to a Jogja Smart Service account (migration) and change it later, through "
    "WhatsApp or an email code. Errors are RFC 9457 problem documents with a stable `code`: each operation "
    "lists, per status, the codes it can answer. API Gateway answers a few errors itself, as "
    '`{"message": "..."}` (application/json): 401 for a missing or expired token, 429 when throttled, '
    "413 above 10 MB, 500 or 503 when a function fails to answer."
)
PROBLEM = {
    "type": "object",
    "title": "Problem",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {
            "type": "string",
            "description": "Stable machine-readable error code (shared/errors.py); each response lists its own.",
        },
        "detail": {"type": "string", "description": "What happened, in Indonesian, for the citizen."},
        "retry_after": {
            "type": "integer",
            "description": "Seconds to wait before trying again (429, 503, message_in_progress).",
        },
        "tries_left": {"type": "integer"},
        "locked_until": {"type": "string", "format": "date-time"},
        "minutes": {"type": "integer", "description": "How long a password form is good for (form_expired)."},
        "reason": {"type": "string", "description": "Why the body could not be read (body_unreadable)."},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}

_PLACEHOLDERS = {
    "ACCOUNTS_TABLE": "AccountsTable",
    "TOKENS_TABLE": "TokensTable",
    "AUDIT_TABLE": "AuditTable",
    "IDEMPOTENCY_TABLE": "IdempotencyTable",
    "OUTBOX_TABLE": "OutboxTable",
    "PUBLIC_BASE_URL": "http://127.0.0.1:3000",
    "WHATSAPP_BUSINESS_NUMBER": "+6281100000000",
    "WHATSAPP_PHONE_NUMBER_ID": "0",
}


def _resolver(function: template.Function) -> Any:
    module_file, _ = function.handler.rsplit(".", 1)
    path = function.code_dir / f"{module_file}.py"
    spec = importlib.util.spec_from_file_location(f"openapi_{function.name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def build() -> dict[str, Any]:
    for key, value in _PLACEHOLDERS.items():
        os.environ.setdefault(key, value)
    if str(template.ROOT) not in sys.path:
        sys.path.insert(0, str(template.ROOT))
    routes = template.routes(template.load())
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "tags": [{"name": name, "description": description} for name, description in TAGS.items()],
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {
                "jssJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    }
    seen: set[str] = set()
    for route in routes:
        if route.function.name in seen:
            continue
        seen.add(route.function.name)
        schema = _resolver(route.function).get_openapi_schema(title=TITLE, version=VERSION)
        part = schema.model_dump(mode="json", by_alias=True, exclude_none=True)
        for path, operations in part.get("paths", {}).items():
            document["paths"].setdefault(path, {}).update(operations)
        document["components"]["schemas"].update(part.get("components", {}).get("schemas", {}))
    # Powertools' own validation answers: every error here is a Problem (shared.web.api) instead.
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        document["components"]["schemas"].pop(unused, None)
    document["components"]["schemas"]["Problem"] = PROBLEM
    for route in routes:
        operation = document["paths"].get(route.path, {}).get(route.method.lower())
        if operation is None:
            raise LookupError(f"{route.method} {route.path} is in template.yaml but no function serves it")
        operation["security"] = [{"jssJwt": []}] if route.authorized else []
        operation["responses"].pop("422", None)  # Powertools' validation answer: ours is a problem document
        page = is_link_path(route.path)
        operation["responses"].update(_problem_responses(operation["operationId"], page))
    documented = {op["operationId"] for item in document["paths"].values() for op in item.values()}
    if undocumented := set(problems.OPERATIONS) - documented:
        raise LookupError(f"shared/web/problems.py declares operations no route has: {sorted(undocumented)}")
    document["paths"] = dict(sorted(document["paths"].items()))
    document["components"]["schemas"] = dict(sorted(document["components"]["schemas"].items()))
    return document


def _problem_responses(operation_id: str, link: bool) -> dict[str, Any]:
    """One response per status the operation answers problems with, ``code`` narrowed to its codes there."""
    if operation_id not in problems.OPERATIONS:
        raise LookupError(f"{operation_id} has no problem codes: declare them in shared/web/problems.py")
    by_status: dict[int, list[str]] = {}
    for code in problems.codes(operation_id):
        by_status.setdefault(CATALOG[code].status, []).append(code)
    return {str(status): _problem_response(status, codes, link) for status, codes in sorted(by_status.items())}


def _problem_response(status: int, codes: list[str], link: bool) -> dict[str, Any]:
    content: dict[str, Any] = {
        PROBLEM_JSON: {
            # Keywords beside $ref apply too (JSON Schema 2020-12); a generator that skips them still gets Problem.
            "schema": {"$ref": "#/components/schemas/Problem", "properties": {"code": {"enum": codes}}},
            "examples": {code: _example(code) for code in codes},
        }
    }
    description = f"{HTTPStatus(status).phrase}: " + ", ".join(f"`{code}`" for code in codes)
    if link:  # pages, for a phone browser; JSON when the client asks for it
        content["text/html"] = {"schema": {"type": "string"}}
        description += " (a page, unless the client asks for JSON)"
    return {"description": description, "content": content}


def _example(code: str) -> dict[str, Any]:
    """The problem document the service answers, with sample values; its English text as description."""
    error = problems.sample(code)
    document = json.loads(str(problem_response(error).body))
    return {"summary": error.spec.title, "description": error.detail("en"), "value": document}


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
