"""What is told to whom once a change of WhatsApp number has committed.

- Any change: the account's email says what the number is now, and when.
- A change that replaced a number (B1, B2) also carries its "Bukan saya" link: in that email, and in
  a WhatsApp template to the *replaced* number, which may be the owner's only way to hear of a change
  someone else made with their password or their email (``shared.domain.undo``).
- An undo: the email says the number is back and the passwords must change; the restored number
  gets a WhatsApp template saying so.

Notices go out after the commit and never undo it: a mail or queue failure is logged and counted
(``send_notice``, ``WhatsAppOutbox.put``), and the change stands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.config import Settings
from shared.domain.accounts import VerifiedVia
from shared.domain.notifications import (
    UndoLink,
    number_changed_email,
    number_restored_email,
    send_notice,
)
from shared.domain.phone import mask_number
from shared.domain.undo.records import undo_url
from shared.domain.whatsapp_messages import number_changed_warning, number_restored_notice

if TYPE_CHECKING:
    from shared.adapters.mail import Mailer
    from shared.adapters.whatsapp_outbox import WhatsAppOutbox
    from shared.domain.accounts import Account
    from shared.domain.number_change import CommittedChange
    from shared.domain.undo.records import UndoRecord


class ChangeNotices:
    def __init__(self, mailer: Mailer, settings: Settings, outbox: WhatsAppOutbox) -> None:
        self.mailer = mailer
        self.settings = settings
        self.outbox = outbox

    def number_changed(self, done: CommittedChange, headline: str, number: str) -> None:
        """After a committed change to ``number``; ``headline`` is the journey's success sentence."""
        masked = mask_number(number)
        replaced = done.before.whatsapp_number
        undo = None
        if done.undo is not None and replaced:
            url = undo_url(self.settings.public_base_url, done.undo.token)
            restores = done.undo.origin or replaced
            undo = UndoLink(url, mask_number(restores), done.at + self.settings.undo_ttl_seconds)
            for suffix, to in self._warned(done, replaced):
                warning = number_changed_warning(
                    key=f"warning:{done.before.account_id}:{done.audit_id}{suffix}",
                    old_number=to,
                    masked_new_number=masked,
                    at=done.at,
                    undo_url=url,
                    template=self.settings.number_changed_template,
                    language=self.settings.whatsapp_template_language,
                )
                self.outbox.put(warning)
        send_notice(self.mailer, done.before.email, number_changed_email(headline, masked, done.at, undo))

    @staticmethod
    def _warned(done: CommittedChange, replaced: str) -> list[tuple[str, str]]:
        """Who hears of the change on WhatsApp (a key suffix each): the replaced number, unless
        WhatsApp said its user left it (it may be someone else's by now); and the number the link
        puts back, when an earlier change's open link carried it here (the owner's, before both)."""
        warned = []
        if done.before.whatsapp_verified_via != VerifiedVia.MOVED_AWAY:
            warned.append(("", replaced))
        origin = done.undo.origin if done.undo else None
        if origin and origin != replaced:
            warned.append((":origin", origin))
        return warned

    def number_restored(self, account: Account, number: str, undone: UndoRecord, audit_id: str, at: int) -> None:
        """After an undo committed: ``account`` as read before it, ``number`` the restored one."""
        until = at + self.settings.undo_block_seconds
        email = number_restored_email(mask_number(number), undone.new_masked, undone.changed_at, at, until)
        send_notice(self.mailer, account.email, email)
        notice = number_restored_notice(
            key=f"restored:{account.account_id}:{audit_id}",
            number=number,
            masked_replaced_number=undone.new_masked,
            at=at,
            template=self.settings.number_restored_template,
            language=self.settings.whatsapp_template_language,
        )
        self.outbox.put(notice)
