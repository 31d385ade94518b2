"""Journey A, migrate to WhatsApp: start a flow, let the app poll it, and show the blue link."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from shared.domain.flows import FlowKind
from shared.services import whatsapp_flows
from shared.web.api import caller_account_id, create_app, lambda_handler_for
from shared.web.models import FLOW_ID, FLOW_STARTED, LINK_OPENED, MIGRATION, OPEN_WHATSAPP, FlowStarted, FlowState
from shared.web.pages import blue_link

app = create_app()


@app.post(
    "/v1/migrations",
    operation_id="startMigration",
    tags=[MIGRATION],
    responses=FLOW_STARTED,
    summary="Start migrating the account to WhatsApp",
)
def start_migration() -> Response[FlowStarted]:
    started = whatsapp_flows().start(caller_account_id(app), FlowKind.MIGRATION)
    return Response(201, "application/json", FlowStarted.of(started), {"Cache-Control": "no-store"})


@app.get(
    "/v1/migrations/<flow_id>",
    operation_id="getMigration",
    tags=[MIGRATION],
    summary="Status of a migration, for the app to poll",
)
def migration_status(flow_id: Annotated[str, Path(pattern=FLOW_ID)]) -> FlowState:
    return FlowState.of(*whatsapp_flows().status(caller_account_id(app), flow_id, FlowKind.MIGRATION))


@app.get(
    "/m/<token>",
    operation_id="openMigrationLink",
    tags=[MIGRATION],
    responses=LINK_OPENED,
    summary="The blue link of a migration (HTML, or JSON on request)",
)
def migration_link(token: str, open_whatsapp: OPEN_WHATSAPP = None) -> Response[str]:
    return blue_link(whatsapp_flows(), token, FlowKind.MIGRATION, app.current_event, bool(open_whatsapp))


lambda_handler = lambda_handler_for(app)
