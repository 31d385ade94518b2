"""The "Bukan saya" link in every B1 and B2 change notice, which puts the previous WhatsApp number back."""

from aws_lambda_powertools.event_handler import Response

from shared.services import number_change_undo
from shared.web import undo_pages
from shared.web.api import create_app, is_form_post, lambda_handler_for
from shared.web.models import UNDO

app = create_app()


@app.get(
    "/u/<token>",
    operation_id="openUndoLink",
    tags=[UNDO],
    responses=undo_pages.PAGE,
    summary="The undo link: what the change was and the button that undoes it (never changes anything)",
)
def undo_link(token: str) -> Response[str]:
    return undo_pages.show(number_change_undo(), token, app.current_event)


@app.post(
    "/u/<token>",
    operation_id="confirmUndo",
    tags=[UNDO],
    responses=undo_pages.CONFIRMED,
    summary="Undo the change: the previous number back, number changes blocked for a day (form post or JSON)",
    openapi_extensions={"requestBody": undo_pages.UNDO_CONFIRMATION_BODY},
)
def confirm_undo(token: str) -> Response[str]:
    event = app.checked_event
    return undo_pages.confirm(number_change_undo(), token, event, is_form_post(event))


lambda_handler = lambda_handler_for(app)
