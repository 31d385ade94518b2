"""Routes answer only the problem codes the API document declares for them.

The unit suite drives every route through API Gateway events. ``watch`` sees each answer a
function's resolver gives, and holds every problem document (``application/problem+json``) among
them to the document as ``devserver.openapi`` builds it: the operation API Gateway routes the
request to, the response for the answer's status, and that response's ``code`` enum. The
``only_declared_problems`` fixture (conftest.py) fails the test that made a route answer an
undeclared code, at its teardown, naming the operation, status and code.

Why this way:
- at the resolver, so every test counts, whichever helper drives the route;
- against the built document, not ``shared.web.problems``: what front ends generate their clients
  from is what is checked, the merge into per-status responses included;
- after the test rather than inside the call, so the test's own assertions still run, and one
  message lists every undeclared answer of the test;
- a request no operation matches is left out: API Gateway answers it itself, no function does.
Only answers the suite provokes can be judged; a code declared but never answered goes unnoticed.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest

from shared.web.api import PROBLEM_JSON, CheckedResolver


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: re.Pattern[str]
    codes: Mapping[int, frozenset[str]]
    """The problem codes the document declares, by status."""


@cache
def operations() -> tuple[Operation, ...]:
    from devserver import openapi  # the function apps: loaded on the first problem answer only

    found = []
    for template, item in openapi.build()["paths"].items():
        # A path parameter is one segment, as API Gateway routes it.
        path = re.compile(
            "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in re.split(r"(\{\w+\})", template))
        )
        for method, operation in item.items():
            codes = {
                int(status): frozenset(response["content"][PROBLEM_JSON]["schema"]["properties"]["code"]["enum"])
                for status, response in operation["responses"].items()
                if PROBLEM_JSON in response.get("content", {})
            }
            found.append(Operation(operation["operationId"], method.upper(), path, codes))
    return tuple(found)


def undeclared(method: str, path: str, status: int, code: str) -> str | None:
    """Why this problem answer is not in the document, or None when it is (or no route gets the request)."""
    for operation in operations():
        if operation.method == method and operation.path.fullmatch(path):
            if code in operation.codes.get(status, ()):
                return None
            return (
                f"{method} {path} ({operation.operation_id}) answered {status} {code}, which docs/openapi.json "
                "does not declare: add it to shared/web/problems.py"
            )
    return None


def problem_in(response: Mapping[str, Any]) -> tuple[int, str] | None:
    """The status and code of a resolver's answer, when it is a problem document."""
    headers = {name.lower(): value for name, value in (response.get("headers") or {}).items()}
    if headers.get("content-type", "").split(";")[0].strip() != PROBLEM_JSON:
        return None
    body = response.get("body") or ""
    document = json.loads(base64.b64decode(body) if response.get("isBase64Encoded") else body)
    return int(response["statusCode"]), str(document["code"])


def watch(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every undeclared problem answer from now on, described (the list fills as routes answer)."""
    found: list[str] = []
    resolve = CheckedResolver.resolve

    def checked(self: CheckedResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
        response: dict[str, Any] = resolve(self, event, context)
        if problem := problem_in(response):
            http = event.get("requestContext", {}).get("http", {})
            if why := undeclared(http.get("method", ""), event.get("rawPath", ""), *problem):
                found.append(why)
        return response

    monkeypatch.setattr(CheckedResolver, "resolve", checked)
    return found
