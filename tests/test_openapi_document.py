"""docs/openapi.json is what front-end developers read: it must match the routes the code serves."""

import re
from pathlib import Path

from openapi_spec_validator import validate

from devserver import openapi, template

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


def test_the_committed_document_matches_the_routes() -> None:
    assert DOCUMENT.read_text() == openapi.render(), "docs/openapi.json is stale: run `make openapi`"


def test_every_template_route_is_documented_with_its_security() -> None:
    document = openapi.build()
    for route in template.routes(template.load()):
        operation = document["paths"][route.path][route.method.lower()]
        assert operation["security"] == ([{"jssJwt": []}] if route.authorized else []), route.path
        assert "default" in operation["responses"]


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
