"""The account's contact data as the JSS profile shows it (step 6 of the migration guide)."""

from shared.domain.accounts import mask_email
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
    account = accounts().require(caller_account_id(app))
    return ContactCard(
        phone_number=account.phone_number,
        whatsapp_number=account.whatsapp_number,
        whatsapp_verified=account.whatsapp_verified,
        whatsapp_verified_via=account.whatsapp_verified_via,
        email=mask_email(account.email) if account.email else None,
    )


lambda_handler = lambda_handler_for(app)
