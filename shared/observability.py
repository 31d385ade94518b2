"""One Logger, Tracer and Metrics per container, configured by the POWERTOOLS_* variables, and the
decorator every Lambda entry point wears."""

import os
import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

# A sweep that found nothing, or a batch of unchanged accounts, has nothing to count: that is normal.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

logger = Logger()
# X-Ray traces the AWS calls (botocore); patching every library it knows (sqlite3, httplib, ...)
# imports them at each cold start for nothing.
tracer = Tracer(patch_modules=("botocore",))
# JSSWhatsApp/<Stage> on AWS (template.yaml); Powertools needs one even where metrics are disabled.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "JSSWhatsApp")

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def instrumented(handler: Handler) -> Handler:
    """Structured logs with the request id, a trace, and the metrics flushed after every invocation.

    Where tracing is off (``POWERTOOLS_TRACE_DISABLED``, or outside Lambda) the tracer would only
    open and annotate a stand-in segment on every invocation, so it is left out."""
    metered = metrics.log_metrics(handler)
    traced = metered if tracer.disabled else tracer.capture_lambda_handler(metered)
    return logger.inject_lambda_context(clear_state=True)(traced)
