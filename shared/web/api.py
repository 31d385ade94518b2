"""What every function's ``app.py`` shares: the resolver, the error shape, the caller's identity.

Errors are RFC 9457 problem documents (``application/problem+json``) with a stable ``code`` and an
Indonesian ``detail``. Link routes (``/m/``, ``/c/``) opened by a phone browser get the same error as
an HTML page instead.

Bodies are read in one place, ``CheckedRequest``, with the limits of ``shared.json_input``: a body
that is too large, not UTF-8, not JSON, too deep or of an unexpected media type is a 4xx problem
before any route sees it. An AWS dependency that does not answer is a 503 with ``Retry-After``.
"""

from __future__ import annotations

import base64
import json
from functools import cached_property
from typing import Any, Final, TypeVar
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIRequestValidationMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.types import EventHandlerInstance
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError
from typing_extensions import override

from shared.adapters.aws import outage_kind
from shared.errors import ServiceError
from shared.json_input import JsonRefused, read_json, utf8_text
from shared.observability import Handler, instrumented, logger, metrics

PROBLEM_JSON = "application/problem+json"
NO_STORE = {"Cache-Control": "no-store"}
JSON: Final = "application/json"
FORM: Final = "application/x-www-form-urlencoded"
API_BODY_BYTES: Final = 16 * 1024
"""The largest body an API route reads (ours are under 1 KiB)."""
API_GATEWAY_BODY_BYTES: Final = 10 * 1024 * 1024
"""API Gateway's own payload limit."""
RETRY_AFTER_OUTAGE: Final = 5

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


class CheckedRequest(APIGatewayProxyEventV2):
    """An HTTP API request whose body is read once, within limits, or refused with a 4xx."""

    def __init__(self, data: dict[str, Any], max_body_bytes: int) -> None:
        super().__init__(data, self._read_json)
        self.max_body_bytes = max_body_bytes

    @property
    def media_type(self) -> str:
        """``Content-Type`` without parameters, in lower case (media types ignore case)."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @cached_property
    def body_bytes(self) -> bytes:
        """The exact bytes the client sent (API Gateway base64-encodes some bodies)."""
        body = self.body or ""
        raw = base64.b64decode(body) if self.is_base64_encoded else body.encode()
        if len(raw) > self.max_body_bytes:
            raise ServiceError("body_too_large")
        return raw

    @override
    @cached_property
    def decoded_body(self) -> str | None:
        try:
            return utf8_text(self.body_bytes, self.max_body_bytes) if self.body else self.body
        except JsonRefused as refused:
            raise _body_refused(refused) from None

    def _read_json(self, text: str) -> Any:
        try:
            return read_json(text, self.max_body_bytes)
        except JsonRefused as refused:
            raise _body_refused(refused) from None


def _body_refused(refused: JsonRefused) -> ServiceError:
    if refused.reason == "too_large":
        return ServiceError("body_too_large")
    return ServiceError("body_unreadable", reason=refused.reason)


class _JsonBodyValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, for routes whose body is a JSON model: it would also read a
    form or multipart body into the model, and any media type starting with ``application/json``."""

    @override
    def _get_body(self, app: EventHandlerInstance) -> dict[str, Any]:
        event = app.current_event
        if not isinstance(event, CheckedRequest) or event.media_type not in ("", JSON):
            raise ServiceError("unsupported_media_type")
        return self._parse_json_data(app)


class CheckedResolver(APIGatewayHttpResolver):
    """Powertools' HTTP API resolver whose events are ``CheckedRequest`` and whose JSON body routes
    take JSON only."""

    def __init__(self, max_body_bytes: int) -> None:
        super().__init__(enable_validation=True)
        self.max_body_bytes = max_body_bytes
        self._request_validation_middleware = _JsonBodyValidation()  # type: ignore[no-untyped-call]

    @override
    def _to_proxy_event(self, event: dict[str, Any]) -> CheckedRequest:
        return CheckedRequest(event, self.max_body_bytes)

    @property
    def checked_event(self) -> CheckedRequest:
        event = self.current_event
        assert isinstance(event, CheckedRequest)  # noqa: S101 - set by _to_proxy_event above
        return event


def create_app(max_body_bytes: int = API_BODY_BYTES) -> CheckedResolver:
    """A resolver with validation (and so OpenAPI) on, and every failure mapped to the error shape."""
    app = CheckedResolver(max_body_bytes)

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

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported_media_type(_: RequestUnsupportedContentType) -> Response[str]:
        return answer(ServiceError("unsupported_media_type"))

    @app.not_found
    def not_found(_: NotFoundError) -> Response[str]:
        return answer(ServiceError("not_found"))

    @app.exception_handler(Exception)
    def unexpected(error: Exception) -> Response[str]:
        if outage := outage_kind(error):
            # Nothing was half-written (every change is one transaction): the client may simply retry.
            logger.warning("AWS dependency unavailable", extra={"outage": outage, "error": type(error).__name__})
            metrics.add_metric(name="DependencyUnavailable", unit="Count", value=1)
            return answer(ServiceError("service_unavailable", retry_after=RETRY_AFTER_OUTAGE))
        logger.exception("unhandled error")
        metrics.add_metric(name="UnhandledError", unit="Count", value=1)
        return answer(ServiceError("internal_error"))

    return app


def is_form_post(event: CheckedRequest) -> bool:
    return event.media_type == FORM


def parse_form(event: CheckedRequest, model: type[FormModel]) -> FormModel:
    """A body sent as an HTML form post or as JSON (nothing else: a cross-site ``text/plain`` form
    must not pass for JSON), checked by a pydantic model."""
    if event.media_type not in (FORM, JSON):
        raise ServiceError("unsupported_media_type")
    try:
        if event.media_type == FORM:
            fields = parse_qs(event.decoded_body or "", max_num_fields=20)
            data: Any = {key: values[0] for key, values in fields.items()}
        else:
            data = event.json_body
        return model.model_validate(data)
    except (ValueError, ValidationError):  # too many form fields, or fields the model refuses
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
