"""Journey B1, change the WhatsApp number through WhatsApp, confirmed with the account password."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from shared.domain.flows import FlowKind
from shared.services import whatsapp_flows
from shared.web import anti_forgery
from shared.web.api import caller_account_id, create_app, is_form_post, lambda_handler_for, parse_form
from shared.web.models import (
    CHANGE_BY_WHATSAPP,
    FLOW_ID,
    FLOW_STARTED,
    LINK_OPENED,
    OPEN_WHATSAPP,
    PASSWORD_CONFIRMATION_BODY,
    PASSWORD_POSTED,
    FlowStarted,
    FlowState,
    PasswordConfirmation,
)
from shared.web.pages import after_password_post, blue_link

app = create_app()


@app.post(
    "/v1/number-changes",
    operation_id="startNumberChange",
    tags=[CHANGE_BY_WHATSAPP],
    responses=FLOW_STARTED,
    summary="Start changing the WhatsApp number through WhatsApp",
)
def start_number_change() -> Response[FlowStarted]:
    started = whatsapp_flows().start(caller_account_id(app), FlowKind.NUMBER_CHANGE)
    return Response(201, "application/json", FlowStarted.of(started), {"Cache-Control": "no-store"})


@app.get(
    "/v1/number-changes/<flow_id>",
    operation_id="getNumberChange",
    tags=[CHANGE_BY_WHATSAPP],
    summary="Status of a number change, for the app to poll",
)
def number_change_status(flow_id: Annotated[str, Path(pattern=FLOW_ID)]) -> FlowState:
    return FlowState.of(*whatsapp_flows().status(caller_account_id(app), flow_id, FlowKind.NUMBER_CHANGE))


@app.get(
    "/c/<token>",
    operation_id="openNumberChangeLink",
    tags=[CHANGE_BY_WHATSAPP],
    responses=LINK_OPENED,
    summary="The blue link of a number change: waiting, or the password form",
)
def number_change_link(token: str, open_whatsapp: OPEN_WHATSAPP = None) -> Response[str]:
    return blue_link(whatsapp_flows(), token, FlowKind.NUMBER_CHANGE, app.current_event, bool(open_whatsapp))


@app.post(
    "/c/<token>",
    operation_id="confirmNumberChange",
    tags=[CHANGE_BY_WHATSAPP],
    responses=PASSWORD_POSTED,
    summary="Confirm the number change with the account password (form post or JSON)",
    openapi_extensions={"requestBody": PASSWORD_CONFIRMATION_BODY},
)
def confirm_number_change(token: str) -> Response[str]:
    event = app.checked_event
    form = parse_form(event, PasswordConfirmation)
    anti_forgery.require(token, form.csrf_token, is_form_post(event))
    flows = whatsapp_flows()
    result = flows.confirm_password(token, form.password)
    return after_password_post(flows, token, event, is_form_post(event), result)


lambda_handler = lambda_handler_for(app)
