"""A cold start loads what its function uses: the password hashers (bcrypt, argon2) and the sealing
(cryptography) only where a password is confirmed or a proposed number sealed, phonenumbers only
where a number is read or shown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.import_handlers import REQUIRED_ENVIRONMENT

ROOT = Path(__file__).resolve().parents[2]
HASHERS = ("shared.domain.passwords", "shared.domain.sealing", "bcrypt", "argon2", "cryptography")
# A fresh interpreter in the function's directory, as Lambda's bootstrap: the handler, then the
# service it calls built as on its first request; prints which of ``modules`` got loaded.
PROBE = """
import sys
sys.modules["OpenSSL"] = None  # pyOpenSSL (here for the tools, not on Lambda) would bring cryptography to botocore
import app
from shared import services
services.{service}()
print(",".join(m for m in {modules!r} if m in sys.modules))
"""


def loaded(function: str, service: str, modules: tuple[str, ...]) -> str:
    environment = {**os.environ, **REQUIRED_ENVIRONMENT, "PYTHONPATH": str(ROOT)}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE.format(service=service, modules=modules)],
        cwd=ROOT / "functions" / function,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    return probe.stdout.strip()


@pytest.mark.parametrize(
    ("function", "service"),
    [("migrate", "whatsapp_flows"), ("whatsapp_webhook", "webhook_receiver"), ("verify_email", "email_number_change")],
)
def test_a_function_that_confirms_no_password_loads_no_hasher(function: str, service: str) -> None:
    assert loaded(function, service, HASHERS) == ""


def test_the_contact_card_loads_no_hasher() -> None:
    # It loads phonenumbers (about 20 ms here) for the numbers' display forms.
    assert loaded("contact", "accounts", HASHERS) == ""
