"""docs/openapi.json is what front-end developers read: it must match the routes the code serves."""

from pathlib import Path

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
