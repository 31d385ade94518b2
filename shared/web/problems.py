"""The problem codes each operation of the API can answer, as docs/openapi.json declares them.

Read off each route and the domain code it calls. ``devserver.openapi`` turns an operation's codes
into one response per HTTP status (each code's status is its ``shared.errors.CATALOG`` entry's),
whose schema narrows the Problem's ``code`` to those codes, with an example of each (``sample``).
Building the document fails for an operation not declared here, and for a declaration no route has.

Tests keep this true. tests/test_openapi_document.py checks every declared code against the catalog.
tests/unit/declared_problems.py holds every problem document a function answers during the unit
suite to the built document: a route answering a code not declared for it fails the test that made
it answer (tests/unit/test_declared_problems.py provokes through their routes the refusals the rest
of the suite checks on the domain alone).
"""

from __future__ import annotations

from typing import Any

from shared.clock import iso, wib_datetime, wib_time
from shared.errors import ServiceError
from shared.web.api import RETRY_AFTER_OUTAGE

# What shared.web.api answers for any route: an AWS dependency not answering, or a bug.
EVERY_ROUTE = ("service_unavailable", "internal_error")
# caller_account_id: a token the JWT authorizer let through without a ``sub``.
SIGNED_IN = ("unauthorized",)
# A path or query parameter outside its schema (Powertools' validation).
CHECKED_PARAMETERS = ("invalid_request",)
# A path segment API Gateway routes but the resolver's route pattern refuses (a raw ", ` or \).
PATH_SEGMENT = ("not_found",)
# A body read by CheckedRequest (JSON models, or parse_form): media type, size, encoding, then the model.
BODY = ("unsupported_media_type", "body_too_large", "body_unreadable", "invalid_request")

_FLOW_START = (*SIGNED_IN, "account_not_found", "too_many_starts", "busy")
_FLOW_STATUS = (*SIGNED_IN, *PATH_SEGMENT, *CHECKED_PARAMETERS, "flow_not_found")
_BLUE_LINK = (*PATH_SEGMENT, *CHECKED_PARAMETERS, "link_not_found")
_UNDO_LINK = ("undo_not_found", "undo_expired", "account_not_found")

OPERATIONS: dict[str, tuple[str, ...]] = {
    # A. Migrate to WhatsApp (shared.domain.whatsapp_flows)
    "startMigration": (*_FLOW_START, "whatsapp_already_linked"),
    "getMigration": _FLOW_STATUS,
    "openMigrationLink": _BLUE_LINK,
    # B1. Change the number through WhatsApp (+ shared.web.anti_forgery, shared.domain.password_confirmation)
    "startNumberChange": (*_FLOW_START, "migration_required", "number_changes_blocked"),
    "getNumberChange": _FLOW_STATUS,
    "openNumberChangeLink": _BLUE_LINK,
    "confirmNumberChange": (
        *PATH_SEGMENT,
        *BODY,
        "forgery_check_failed",
        "form_expired",
        "link_not_found",
        "flow_awaiting_message",
        "wrong_password",
        "flow_locked",
        "password_locked",
        "number_changes_blocked",
        "busy",
    ),
    # B2. Change the number with an email code (shared.domain.email_change)
    "sendEmailCode": (
        *SIGNED_IN,
        "account_not_found",
        "email_not_registered",
        "migration_required",
        "code_resend_too_soon",
        "code_hourly_limit",
        "number_changes_blocked",
        "busy",
        "email_send_failed",
    ),
    "verifyEmailCode": (
        *SIGNED_IN,
        *PATH_SEGMENT,
        *CHECKED_PARAMETERS,
        *BODY,
        "verification_not_found",
        "code_wrong",
        "code_exhausted",
        "code_expired",
        "code_used",
        "code_superseded",
    ),
    "setWhatsAppNumber": (
        *SIGNED_IN,
        *BODY,
        "whatsapp_number_invalid",
        "whatsapp_number_is_city",
        "change_token_invalid",
        "account_not_found",
        "whatsapp_number_unchanged",
        "whatsapp_number_taken",
        "number_changes_blocked",
        "busy",
    ),
    # Bukan saya: undo a B1 or B2 change (shared.domain.undo, shared.web.undo_pages)
    "openUndoLink": (*PATH_SEGMENT, *_UNDO_LINK),
    "confirmUndo": (
        *PATH_SEGMENT,
        *BODY,
        *_UNDO_LINK,
        "undo_form_invalid",
        "undo_used",
        "undo_superseded",
        "undo_number_taken",
        "busy",
    ),
    # Profile
    "getContact": (*SIGNED_IN, "account_not_found"),
    # Meta's webhook (shared.domain.inbound); busy: a migration its message completes kept colliding
    "verifyWebhook": (*CHECKED_PARAMETERS, "verification_failed"),
    "receiveWebhook": ("invalid_signature", "message_in_progress", "busy"),
}


def codes(operation_id: str) -> list[str]:
    """Every code ``operation_id`` can answer, in alphabetical order."""
    return sorted({*OPERATIONS[operation_id], *EVERY_ROUTE})


_LOCK_ENDS = 1_749_975_300  # any moment (15:15 WIB): the examples show how one is written
_RETRY_AFTER = {
    "too_many_starts": 420,
    "code_resend_too_soon": 45,
    "code_hourly_limit": 1500,
    "password_locked": 900,
    "email_send_failed": 30,
    "message_in_progress": 30,
    "busy": 1,
    "number_changes_blocked": 86400,
    "service_unavailable": RETRY_AFTER_OUTAGE,
}
_FIELDS: dict[str, dict[str, Any]] = {
    "wrong_password": {"tries_left": 4},
    "code_wrong": {"tries_left": 4},
    "password_locked": {"locked_until": iso(_LOCK_ENDS), "text_locked_until": wib_time(_LOCK_ENDS)},
    "number_changes_blocked": {"locked_until": iso(_LOCK_ENDS), "text_locked_until": wib_datetime(_LOCK_ENDS)},
    "form_expired": {"minutes": 10},
    "body_unreadable": {"reason": "malformed"},
}


def sample(code: str) -> ServiceError:
    """``code`` as a route raises it, with sample values for what its texts and document carry."""
    if code == "whatsapp_number_invalid":  # its text is why the number was refused
        from shared.domain.phone import parse_whatsapp_number

        try:
            parse_whatsapp_number("0812")
        except ServiceError as refused:
            return refused
    return ServiceError(code, retry_after=_RETRY_AFTER.get(code), **_FIELDS.get(code, {}))
