"""Meta's WhatsApp Cloud API webhook: the subscription handshake and signed message deliveries."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from shared.services import webhook_receiver
from shared.web.api import API_GATEWAY_BODY_BYTES, create_app, json_response, lambda_handler_for
from shared.web.models import DELIVERY_TAKEN, HANDSHAKE, META_WEBHOOK

# The signature is checked on any size API Gateway lets through; the receiver's own limit applies when
# the delivery is read, so an oversized signed delivery is acknowledged as unreadable, not retried.
app = create_app(max_body_bytes=API_GATEWAY_BODY_BYTES)


@app.get(
    "/whatsapp/webhook",
    operation_id="verifyWebhook",
    tags=[META_WEBHOOK],
    responses=HANDSHAKE,
    summary="Meta's subscription handshake",
)
def handshake(
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    verify_token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=256)] = None,
) -> Response[str]:
    answer = webhook_receiver().handshake(mode, verify_token, challenge)
    return Response(200, "text/plain", answer)


@app.post(
    "/whatsapp/webhook",
    operation_id="receiveWebhook",
    tags=[META_WEBHOOK],
    responses=DELIVERY_TAKEN,
    summary="Inbound messages, signed with X-Hub-Signature-256",
)
def receive() -> Response[str]:
    event = app.checked_event
    # The signature covers the exact bytes Meta sent.
    report = webhook_receiver().receive(event.body_bytes, event.headers.get("x-hub-signature-256"), app.lambda_context)
    return json_response(200, report.as_dict())


lambda_handler = lambda_handler_for(app)
