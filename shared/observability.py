"""One Logger, Tracer and Metrics per container, configured by the POWERTOOLS_* variables, and the
decorator every Lambda entry point wears."""

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="JSSWhatsApp")

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def instrumented(handler: Handler) -> Handler:
    """Structured logs with the request id, a trace, and the metrics flushed after every invocation."""
    traced = tracer.capture_lambda_handler(metrics.log_metrics(handler))
    return logger.inject_lambda_context(clear_state=True)(traced)
