"""``instrumented``, the decorator of every entry point: the handler's answer unchanged, logs with
the request id, and a trace where tracing is on (on Lambda) but no stand-in segment where it is off."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shared import observability
from tests.unit.lambdas import FakeLambdaContext

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def spy_tracer(monkeypatch: pytest.MonkeyPatch, *, disabled: bool) -> list[dict[str, Any]]:
    """Sets whether tracing is on and records the events the tracer's handler capture sees."""
    traced: list[dict[str, Any]] = []

    def capture_lambda_handler(handler: Handler) -> Handler:
        def captured(event: dict[str, Any], context: Any) -> dict[str, Any]:
            traced.append(event)
            return handler(event, context)

        return captured

    monkeypatch.setattr(observability.tracer, "disabled", disabled)
    monkeypatch.setattr(observability.tracer, "capture_lambda_handler", capture_lambda_handler)
    return traced


def answer_with_request_id(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"event": event, "request_id": observability.logger.get_current_keys().get("function_request_id")}


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.parametrize("tracing", [True, False], ids=["tracing-on", "tracing-off"])
def test_the_handler_is_traced_only_where_tracing_is_on(monkeypatch: pytest.MonkeyPatch, tracing: bool) -> None:
    traced = spy_tracer(monkeypatch, disabled=not tracing)
    handler = observability.instrumented(answer_with_request_id)

    answer = handler({"n": 1}, FakeLambdaContext())

    assert answer == {"event": {"n": 1}, "request_id": FakeLambdaContext.aws_request_id}
    assert traced == ([{"n": 1}] if tracing else [])


def test_tracing_is_off_outside_lambda() -> None:
    assert observability.tracer.disabled  # the unit suite, like the local stack, runs with it off
