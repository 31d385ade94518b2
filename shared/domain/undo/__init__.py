"""The "Bukan saya" link: single-use, in every notice of a B1 or B2 change, it puts the previous
WhatsApp number back.

- ``records``: the undo record, written in the change's own transaction (``NumberChanges.commit``)
  whenever a B1 or B2 change replaces a WhatsApp number the account had;
- ``service``: what the link shows (never a write: chat apps and mail scanners fetch links) and the
  confirmation that restores the previous number, in one transaction, and blocks number changes on
  the account for a day.
"""
