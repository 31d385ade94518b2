"""What every function's ``app.py`` shares: the resolver, the error shape, the caller's identity.

Errors are RFC 9457 problem documents (``application/problem+json``) with a stable ``code`` and an
Indonesian ``detail``. Link routes (``/m/``, ``/c/``) opened by a phone browser get the same error as
an HTML page instead.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from shared.errors import ServiceError
from shared.observability import Handler, instrumented, logger, metrics

PROBLEM_JSON = "application/problem+json"
NO_STORE = {"Cache-Control": "no-store"}

FormModel = TypeVar("FormModel", bound=BaseModel)


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(payload, ensure_ascii=False),
        headers={**NO_STORE, **(headers or {})},
    )


def problem_response(error: ServiceError, extra: dict[str, Any] | None = None) -> Response[str]:
    document = {
        "type": f"https://jss.jogjakota.go.id/problems/{error.code.replace('_', '-')}",
        "title": error.spec.title,
        "status": error.status,
        "code": error.code,
        "detail": error.detail("id"),
        **error.public_fields(),
        **(extra or {}),
    }
    headers = dict(NO_STORE)
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return Response(
        status_code=error.status,
        content_type=PROBLEM_JSON,
        body=json.dumps(document, ensure_ascii=False),
        headers=headers,
    )


def create_app() -> APIGatewayHttpResolver:
    """A resolver with validation (and so OpenAPI) on, and every failure mapped to the error shape."""
    app = APIGatewayHttpResolver(enable_validation=True)

    def answer(error: ServiceError, extra: dict[str, Any] | None = None) -> Response[str]:
        from shared.web import pages  # only link routes render pages

        event = app.current_event
        if pages.is_link_path(event.path) and pages.wants_html(event.headers):
            return pages.error_page(error, pages.language(event.headers))
        return problem_response(error, extra)

    def no_store(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        # Answers carry change tokens and contact data: no browser or proxy may keep them.
        response = next_middleware(app)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.use(middlewares=[no_store])

    @app.exception_handler(ServiceError)
    def service_error(error: ServiceError) -> Response[str]:
        logger.info("request refused", extra={"code": error.code, "status": error.status})
        return answer(error)

    @app.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response[str]:
        # Field locations and messages only: the rejected input may be a password.
        problems = [
            {"field": ".".join(str(part) for part in e.get("loc", ())), "message": e.get("msg", "")}
            for e in error.errors()
        ]
        return answer(ServiceError("invalid_request"), {"errors": problems})

    @app.not_found
    def not_found(_: NotFoundError) -> Response[str]:
        return answer(ServiceError("not_found"))

    @app.exception_handler(Exception)
    def unexpected(error: Exception) -> Response[str]:
        logger.exception("unhandled error")
        metrics.add_metric(name="UnhandledError", unit="Count", value=1)
        return answer(ServiceError("internal_error"))

    return app


def _media_type(event: APIGatewayProxyEventV2) -> str:
    return event.headers.get("content-type", "").split(";")[0].strip().lower()


def is_form_post(event: APIGatewayProxyEventV2) -> bool:
    return _media_type(event) == "application/x-www-form-urlencoded"


def parse_form(event: APIGatewayProxyEventV2, model: type[FormModel]) -> FormModel:
    """A body sent as an HTML form post or as JSON (nothing else: a cross-site ``text/plain`` form
    must not pass for JSON), checked by a pydantic model."""
    media_type = _media_type(event)
    try:
        body = event.decoded_body or ""  # API Gateway base64-encodes form posts
        if media_type == "application/x-www-form-urlencoded":
            data: Any = {key: values[0] for key, values in parse_qs(body, max_num_fields=20).items()}
        elif media_type == "application/json":
            data = json.loads(body)
        else:
            raise ValueError(f"unsupported media type {media_type!r}")
        return model.model_validate(data)
    except (ValueError, ValidationError):
        raise ServiceError("invalid_request") from None


def caller_account_id(app: APIGatewayHttpResolver) -> str:
    """The account id is the ``sub`` claim the API Gateway JWT authorizer already checked."""
    authorizer = app.current_event.request_context.authorizer
    subject = authorizer.jwt_claim.get("sub") if authorizer and authorizer.jwt_claim else None
    if not subject:
        raise ServiceError("unauthorized")
    return str(subject)


def lambda_handler_for(app: APIGatewayHttpResolver) -> Handler:
    """The Lambda entry point: ``app.resolve``, instrumented."""

    @instrumented
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return app.resolve(event, context)

    return handler
