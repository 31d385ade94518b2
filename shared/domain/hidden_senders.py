"""Citizens whose number WhatsApp hides: ask them to share it, and finish their flow when they do.

Since 2026 a WhatsApp user with a username may write to a business with only a business-scoped user
id (BSUID), no number: the message proves nothing about a number. The city's number then answers
with Meta's ``request_contact_info`` button. When the citizen taps it, WhatsApp delivers a
``contacts`` message with ``origin: contact_request`` and the number WhatsApp holds for that user:
that proves the number as a sent message would, and the flow goes on from there.

Between the two messages the flow's link token waits in a short-lived item keyed by the user id's
keyed hash, sealed with the user id and the server key (``shared.domain.sealing``): the database
alone reveals neither, and the item goes when the flow would have expired.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.adapters.dynamo import Dynamo
from shared.adapters.keys import keyed_hash
from shared.config import Settings
from shared.domain.flows import Flow


@dataclass(frozen=True)
class SharedNumber:
    """A number a hidden sender shared through Meta's contact request."""

    message_id: str
    sender_user_id: str
    number: str
    sent_at: int


def _waiting_key(user_id: str) -> dict[str, str]:
    return {"pk": f"SHARE#{keyed_hash('share', user_id)}"}


class HiddenSenders:
    def __init__(self, db: Dynamo, settings: Settings, clock: Callable[[], float]) -> None:
        self.db = db
        self.table = settings.tokens_table
        self.clock = clock

    def wait_for_number(self, flow: Flow, token: str, user_id: str) -> None:
        """Remembers that ``user_id`` sent ``flow``'s token; a later request replaces it (the
        citizen's latest prepared message is the one they mean)."""
        from shared.domain.sealing import seal

        key = _waiting_key(user_id)
        self.db.put(
            self.table,
            {**key, "flow_id": flow.flow_id, "token_sealed": seal(user_id, key["pk"], token), "ttl": flow.expires_at},
        )

    def token_for(self, user_id: str) -> str | None:
        """The link token ``user_id`` sent last, while its flow may still finish."""
        from shared.domain.sealing import unseal

        key = _waiting_key(user_id)
        item = self.db.get(self.table, key)
        if item is None or int(item["ttl"]) <= self.clock():  # TTL deletes lag by up to days
            return None
        return unseal(user_id, key["pk"], str(item["token_sealed"]))
