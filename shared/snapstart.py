"""Lambda SnapStart, when the template's ``SnapStart`` parameter turns it on (README, "Cold starts").

Lambda then initialises a function once, when a version is published, and starts every new execution
environment from a snapshot of it. What module-level code imports is in the snapshot anyway; the
hooks here add what a first request would still pay for:

- before the snapshot: the modules the service imports only inside a request (QR codes, password
  hashes, sealing, Parameters), and the AWS clients, made but not used: a connection opened now
  would be dead in a restored environment, and a secret fetched now would sit in every snapshot;
- after each restore: a fresh seed for ``random`` (the back-off jitter), which would otherwise be the
  same in every environment restored from one snapshot. Tokens and codes come from ``secrets``
  (the operating system's generator), which a snapshot does not repeat.

The hooks library ships with Lambda's Python runtimes; where it is absent (locally) nothing is
registered and everything stays lazy.
"""

from __future__ import annotations

import importlib
import random

# Imported by the request that needs them, so cold starts without SnapStart stay short.
LAZY_MODULES = (
    "segno",
    "shared.domain.passwords",
    "shared.domain.sealing",
    "aws_lambda_powertools.utilities.parameters",
)


def prime() -> None:
    """Everything a first request would load or build, short of talking to AWS."""
    from shared import services
    from shared.adapters import keys

    for name in LAZY_MODULES:
        importlib.import_module(name)
    services.dynamo().client  # noqa: B018 - made now, used after the restore
    services.mailer().client  # noqa: B018
    services.whatsapp_outbox().client  # noqa: B018
    keys.prepare_clients()


def reseed() -> None:
    random.seed()


def register() -> bool:
    """Registers the hooks with Lambda's runtime; False where there is no SnapStart runtime."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(prime)
    register_after_restore(reseed)
    return True
