"""Journey B2, change the WhatsApp number with a 6-digit code sent to the registered email."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from shared.clock import iso
from shared.services import email_number_change
from shared.web.api import caller_account_id, create_app, lambda_handler_for
from shared.web.models import (
    CHANGE_BY_EMAIL,
    CODE_SENT,
    FLOW_ID,
    ChangePermitAnswer,
    CodeEntry,
    CodeSentAnswer,
    NewWhatsAppNumber,
    NumberUpdatedAnswer,
)

app = create_app()


@app.post(
    "/v1/email-verifications",
    operation_id="sendEmailCode",
    tags=[CHANGE_BY_EMAIL],
    responses=CODE_SENT,
    summary="Send a 6-digit code to the registered email",
)
def send_code() -> Response[CodeSentAnswer]:
    sent = email_number_change().send_code(caller_account_id(app))
    answer = CodeSentAnswer(
        verification_id=sent.verification_id,
        sent_to=sent.sent_to,
        expires_at=iso(sent.expires_at),
        resend_after=iso(sent.resend_after),
    )
    return Response(202, "application/json", answer, {"Cache-Control": "no-store"})


@app.post(
    "/v1/email-verifications/<verification_id>/verify",
    operation_id="verifyEmailCode",
    tags=[CHANGE_BY_EMAIL],
    summary="Check the code; get a change token",
)
def verify_code(
    verification_id: Annotated[str, Path(pattern=FLOW_ID)], entry: Annotated[CodeEntry, Body()]
) -> ChangePermitAnswer:
    permit = email_number_change().verify_code(caller_account_id(app), verification_id, entry.code)
    return ChangePermitAnswer(change_token=permit.change_token, expires_at=iso(permit.expires_at))


@app.put(
    "/v1/whatsapp-number",
    operation_id="setWhatsAppNumber",
    tags=[CHANGE_BY_EMAIL],
    summary="Set the new WhatsApp number with a change token",
)
def change_number(change: Annotated[NewWhatsAppNumber, Body()]) -> NumberUpdatedAnswer:
    updated = email_number_change().change_number(caller_account_id(app), change.change_token, change.whatsapp_number)
    return NumberUpdatedAnswer(
        whatsapp_number=updated.whatsapp_number, whatsapp_number_display=updated.display, message=updated.message
    )


lambda_handler = lambda_handler_for(app)
