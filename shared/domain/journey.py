"""What every journey works with: the tables, the settings, the mailer, the WhatsApp outbox, the
clock, the accounts and the sliding-window limits, and the one way to change a number. The clock is
injected so tests can move time."""

from __future__ import annotations

import time
from collections.abc import Callable

from shared.adapters.dynamo import Dynamo
from shared.adapters.mail import Mailer
from shared.adapters.whatsapp_outbox import WhatsAppOutbox
from shared.config import Settings
from shared.domain.accounts import AccountRegistry
from shared.domain.limits import SlidingWindowLimiter
from shared.domain.number_change import NumberChanges


class Journey:
    def __init__(
        self,
        db: Dynamo,
        settings: Settings,
        mailer: Mailer,
        clock: Callable[[], float] = time.time,
        outbox: WhatsAppOutbox | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.mailer = mailer
        self.clock = clock
        # What the city's WhatsApp number sends after a change (its SQS client is made on first use).
        self.outbox = outbox or WhatsAppOutbox(settings.whatsapp_outbox_queue_url)
        self.accounts = AccountRegistry(db, settings)
        self.number_changes = NumberChanges(self.accounts)
        self.limiter = SlidingWindowLimiter(db, settings.tokens_table)
