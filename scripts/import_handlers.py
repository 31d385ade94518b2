"""Imports every function's handler the way a fresh Lambda container does (a new interpreter, the
layer's package on the path) and reports each cold import time.

``make compat`` runs it under Python 3.11 with the runtime dependencies only, to prove the handlers
import there too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIRED_ENVIRONMENT = {
    "ACCOUNTS_TABLE": "AccountsTable",
    "TOKENS_TABLE": "TokensTable",
    "AUDIT_TABLE": "AuditTable",
    "IDEMPOTENCY_TABLE": "IdempotencyTable",
    "OUTBOX_TABLE": "OutboxTable",
    "EVENT_BUS_NAME": "AccountEventBus",
    "PUBLIC_BASE_URL": "https://example.invalid",
    "WHATSAPP_BUSINESS_NUMBER": "+6281100000000",
    "WHATSAPP_PHONE_NUMBER_ID": "1",
    "AWS_DEFAULT_REGION": "ap-southeast-3",
}
# Runs inside the fresh interpreter, in the function's directory, as Lambda's bootstrap would.
PROBE = """
import time
started = time.perf_counter()
import app
assert any(callable(getattr(app, name)) for name in dir(app) if name.endswith("_handler")), "no handler"
print(f"{1000 * (time.perf_counter() - started):.0f}")
"""


def main() -> int:
    environment = {**os.environ, **REQUIRED_ENVIRONMENT, "PYTHONPATH": str(ROOT)}
    failed = False
    for app in sorted((ROOT / "functions").glob("*/app.py")):
        result = subprocess.run(  # noqa: S603 - our own interpreter and probe
            [sys.executable, "-c", PROBE], cwd=app.parent, env=environment, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            failed = True
            print(f"{app.parent.name}: import FAILED\n{result.stderr}")
        else:
            print(f"Python {sys.version.split()[0]}: {app.parent.name} cold import {result.stdout.strip()} ms")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
