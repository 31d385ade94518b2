"""docs/openapi.json is what front-end developers read: it must match the routes the code serves."""

import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from devserver import openapi, template
from shared.errors import CATALOG
from shared.web import problems
from shared.web.api import PROBLEM_JSON

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


def test_the_committed_document_matches_the_routes() -> None:
    assert DOCUMENT.read_text() == openapi.render(), "docs/openapi.json is stale: run `make openapi`"


def test_every_template_route_is_documented_with_its_security() -> None:
    document = openapi.build()
    for route in template.routes(template.load()):
        operation = document["paths"][route.path][route.method.lower()]
        assert operation["security"] == ([{"jssJwt": []}] if route.authorized else []), route.path


def test_the_document_is_valid_openapi() -> None:
    """Client generators refuse an invalid document (it once referred to a schema it did not have)."""
    validate(openapi.build())


def test_every_operation_has_a_stable_short_id_and_a_journey() -> None:
    document = openapi.build()
    operations = [op for path in document["paths"].values() for op in path.values()]
    ids = [op["operationId"] for op in operations]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z]*)+", operation_id) for operation_id in ids), ids
    declared = {tag["name"] for tag in document["tags"]}
    assert all(len(op["tags"]) == 1 and op["tags"][0] in declared for op in operations)
    assert {"startMigration", "startNumberChange", "confirmNumberChange", "sendEmailCode", "setWhatsAppNumber"} <= set(
        ids
    )


def test_every_declared_problem_code_is_in_the_catalog() -> None:
    declared = {code for operation_id in problems.OPERATIONS for code in problems.codes(operation_id)}
    assert declared - set(CATALOG) == set()


def test_each_operation_lists_its_problem_codes_under_their_status_with_an_example_each() -> None:
    document = openapi.build()
    for item in document["paths"].values():
        for operation in item.values():
            listed: list[str] = []
            for status, response in operation["responses"].items():
                if PROBLEM_JSON not in response["content"]:
                    continue
                media = response["content"][PROBLEM_JSON]
                codes = media["schema"]["properties"]["code"]["enum"]
                assert media["schema"]["$ref"] == "#/components/schemas/Problem"
                assert [CATALOG[code].status for code in codes] == [int(status)] * len(codes), operation["operationId"]
                assert list(media["examples"]) == codes
                for example in media["examples"].values():
                    assert_problem_example(example["value"], media["schema"], document)
                listed += codes
            assert sorted(listed) == problems.codes(operation["operationId"])


def assert_problem_example(value: dict[str, Any], schema: dict[str, Any], document: dict[str, Any]) -> None:
    """The example passes its response's schema (the Problem, ``code`` narrowed) and fills every placeholder."""
    Draft202012Validator({**schema, "components": document["components"]}).validate(value)
    assert "{" not in value["detail"], value
