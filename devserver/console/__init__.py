"""The local console (``GET /``) and the API documentation (``/openapi.json``, ``/docs``)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from devserver import openapi
from devserver.gateway import DevRoute, Gateway, LocalResponse, Request

HERE = Path(__file__).resolve().parent
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css"}


def _static(path: Path) -> LocalResponse:
    return LocalResponse(
        200,
        {"content-type": _TYPES.get(path.suffix, "application/octet-stream"), "cache-control": "no-cache"},
        path.read_bytes(),
    )


@cache
def _document() -> bytes:
    return openapi.render().encode()


def _swagger_assets() -> Path:
    from aws_lambda_powertools.event_handler.openapi import swagger_ui

    return Path(swagger_ui.__file__).resolve().parent


def _docs(_: Request) -> LocalResponse:
    from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

    page = generate_swagger_html(
        spec=json.dumps(json.loads(_document())),
        swagger_js="/docs/swagger-ui-bundle.min.js",
        swagger_css="/docs/swagger-ui.min.css",
        swagger_base_url="/docs",
        oauth2_config=None,
    )
    return LocalResponse(200, {"content-type": "text/html; charset=utf-8"}, page.encode())


def _file(path: Path) -> DevRoute:
    def serve_file(_: Request) -> LocalResponse:
        return _static(path)

    return serve_file


def register(gateway: Gateway) -> None:
    gateway.add_dev_route("GET", "/", _file(HERE / "index.html"))
    for name in ("console.js", "console.css"):
        gateway.add_dev_route("GET", f"/console/{name}", _file(HERE / name))
    gateway.add_dev_route(
        "GET", "/openapi.json", lambda _: LocalResponse(200, {"content-type": "application/json"}, _document())
    )
    gateway.add_dev_route("GET", "/docs", _docs)
    for name in ("swagger-ui-bundle.min.js", "swagger-ui.min.css"):
        gateway.add_dev_route("GET", f"/docs/{name}", _file(_swagger_assets() / name))
