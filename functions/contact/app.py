"""The account's contact data as the JSS profile shows it (step 6 of the migration guide)."""

from shared.services import accounts
from shared.web.api import caller_account_id, create_app, lambda_handler_for
from shared.web.models import PROFILE, ContactCard

app = create_app()


@app.get(
    "/v1/contact",
    operation_id="getContact",
    tags=[PROFILE],
    summary="Phone number, WhatsApp number and masked email of the account",
)
def contact() -> ContactCard:
    return ContactCard.of(accounts().require(caller_account_id(app)))


lambda_handler = lambda_handler_for(app)
