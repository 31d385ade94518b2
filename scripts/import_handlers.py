"""Imports every function's handler module the way Lambda does (its CodeUri directory as the
working module, the layer's package on the path) and reports the import time of each.

Run under Python 3.11 by ``make compat`` to prove the code still imports there."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIRED_ENVIRONMENT = {
    "ACCOUNTS_TABLE": "AccountsTable",
    "TOKENS_TABLE": "TokensTable",
    "AUDIT_TABLE": "AuditTable",
    "PUBLIC_BASE_URL": "https://example.invalid",
    "WHATSAPP_BUSINESS_NUMBER": "+6281100000000",
    "WHATSAPP_PHONE_NUMBER_ID": "1",
    "AWS_DEFAULT_REGION": "ap-southeast-3",
}


def main() -> int:
    for key, value in REQUIRED_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    sys.path.insert(0, str(ROOT))
    for app in sorted((ROOT / "functions").glob("*/app.py")):
        started = time.perf_counter()
        spec = importlib.util.spec_from_file_location(f"{app.parent.name}_app", app)
        if spec is None or spec.loader is None:
            raise ImportError(app)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not callable(getattr(module, "lambda_handler", None)):
            raise AttributeError(f"{app} has no lambda_handler")
        elapsed_ms = 1000 * (time.perf_counter() - started)
        print(f"Python {sys.version.split()[0]}: {app.parent.name} imported in {elapsed_ms:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
