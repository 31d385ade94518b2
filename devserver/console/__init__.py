"""The local console (``GET /``) and the API documentation (``/openapi.json``, ``/docs``)."""

from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path
from string import Template

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


_DOCS_PAGE = Template(
    """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API documentation - $title (local)</title>
<link rel="stylesheet" href="/docs/swagger-ui.min.css">
<style>
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f24; }
.local { background: #0b5cab; color: #fff; padding: .75rem 1.25rem; }
.local h1 { margin: 0 0 .25rem; font-size: 1.2rem; }
.local p { margin: .25rem 0; max-width: 60rem; line-height: 1.5; }
.local a { color: #fff; }
.local code { background: #fff; color: #1b1f24; padding: .05rem .3rem; border-radius: 4px; overflow-wrap: anywhere; }
.local form { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin-top: .5rem; }
.local input { font: inherit; padding: .35rem .5rem; border: 1px solid #767676; border-radius: 6px; width: 12rem; }
.local button { font: inherit; padding: .4rem .9rem; border: 1px solid #fff; border-radius: 6px; background: #fff;
  color: #0b5cab; cursor: pointer; }
.local :focus-visible { outline: 3px solid #f9a825; outline-offset: 2px; box-shadow: 0 0 0 5px #1b1f24; }
#token-status { font-weight: 600; }
/* Swagger UI's pale colours, darkened to WCAG AA contrast (4.5:1) for its white and coloured text. */
#swagger-ui .opblock-summary-method { min-width: 5rem; }
#swagger-ui .opblock-get .opblock-summary-method { background: #0b5cab; }
#swagger-ui .opblock-post .opblock-summary-method { background: #137333; }
#swagger-ui .opblock-put .opblock-summary-method { background: #8a4b00; }
#swagger-ui .opblock-delete .opblock-summary-method { background: #b3261e; }
#swagger-ui .info .title small { background: #4d5562; }
#swagger-ui .info .title small.version-stamp { background: #3b6e00; }
#swagger-ui .btn.authorize { color: #137333; border-color: #137333; }
#swagger-ui .btn.authorize svg { fill: #137333; }
#swagger-ui .json-schema-2020-12-expand-deep-button { color: #4d5562; }
#swagger-ui .btn.try-out__btn.cancel, #swagger-ui .btn.cancel { color: #b3261e; border-color: #b3261e; }
#swagger-ui .btn.execute { background: #0b5cab; border-color: #0b5cab; }
#swagger-ui .download-contents { background: #4d5562; }
/* The red of its code theme (agate: #d36363, an inline style) on the dark code background. */
#swagger-ui .microlight span[style*="rgb(211, 99, 99)"] { color: #f28b82 !important; }
#swagger-ui :focus-visible { outline: 3px solid #f9a825; outline-offset: 2px; }
</style>
</head>
<body>
<header class="local">
<h1>$title: API documentation (local stack)</h1>
<p>The <code>/v1/...</code> routes need a bearer token (<strong>Authorize</strong>). On this local stack,
<code>curl -s -X POST $origin/__dev/token -d '{"sub":"jss-1001"}'</code> prints one (the <code>token</code> field,
pasted without <code>Bearer</code>; any account id of <a href="/__dev/accounts">/__dev/accounts</a>, valid 12 hours).
The <a href="/">console</a> shows the token of the account it has open; or let this page fetch one:</p>
<form id="dev-token">
<label for="dev-token-account">Account id</label>
<input id="dev-token-account" value="jss-1001" autocomplete="off" required>
<button type="submit">Get a local token and authorize</button>
<span id="token-status" role="status"></span>
</form>
</header>
<main id="swagger-ui"></main>
<script src="/docs/swagger-ui-bundle.min.js"></script>
<script>
"use strict";
// The routes grouped by the document's tags, in the order the document declares them.
const ui = SwaggerUIBundle({
  spec: $spec,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  presets: [SwaggerUIBundle.presets.apis],
  plugins: [SwaggerUIBundle.plugins.DownloadUrl],
  docExpansion: "list",
  // No deep links: Swagger UI puts them as links inside the operation's summary button (nested controls).
  deepLinking: false,
  showExtensions: true,
  showCommonExtensions: true,
  persistAuthorization: false,
});
// What Swagger UI's markup lacks: a name for its copy buttons and its examples lists, and the
// keyboard for its curl box (it scrolls sideways).
new MutationObserver(() => {
  for (const select of document.querySelectorAll("#swagger-ui select.examples-select-element:not([aria-label])")) {
    select.setAttribute("aria-label", "Examples");
  }
  for (const button of document.querySelectorAll("#swagger-ui .copy-to-clipboard button:not([aria-label])")) {
    button.setAttribute("aria-label", "Copy to clipboard");
  }
  for (const box of document.querySelectorAll("#swagger-ui .curl:not([tabindex])")) {
    box.tabIndex = 0;
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", "curl command");
  }
}).observe(document.getElementById("swagger-ui"), { childList: true, subtree: true });
document.getElementById("dev-token").addEventListener("submit", async (event) => {
  event.preventDefault();
  const account = document.getElementById("dev-token-account").value.trim();
  const status = document.getElementById("token-status");
  const answer = await fetch("/__dev/token", { method: "POST", body: JSON.stringify({ sub: account }) });
  if (!answer.ok) {
    status.textContent = "No token: " + (await answer.text());
    return;
  }
  ui.preauthorizeApiKey("$scheme", (await answer.json()).token);
  status.textContent = "Authorized as " + account + ".";
});
</script>
</body>
</html>
"""
)


def _docs(request: Request) -> LocalResponse:
    """Swagger UI on the merged document, with how to get a token for "Authorize" locally."""
    document = json.loads(_document())
    schemes = list(document.get("components", {}).get("securitySchemes", {})) or ["jssJwt"]
    origin = "http://" + request.headers.get("host", "127.0.0.1:3000")
    page = _DOCS_PAGE.substitute(
        title=html.escape(document["info"]["title"]),
        origin=html.escape(origin),
        # Inside <script>: no "</" may close the element early.
        spec=json.dumps(document).replace("</", "<\\/"),
        scheme=schemes[0],
    )
    return LocalResponse(200, {"content-type": "text/html; charset=utf-8", "cache-control": "no-cache"}, page.encode())


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
