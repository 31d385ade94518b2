"""One Logger, Tracer and Metrics per container, configured by the POWERTOOLS_* variables."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="JSSWhatsApp")
