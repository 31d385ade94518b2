"""App teams generate their client from docs/openapi.json: one is generated here with a standard
generator from PyPI (openapi-python-client) and walks journey B2 on the local stack, problems included."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.integration.conftest import Api, Citizen, Stack, random_mobile
from tests.integration.test_email_change_journey import UPDATED, code_from_mailbox

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture(scope="module")
def jss_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The package name of a client generated from the document, importable for this module's tests."""
    where = tmp_path_factory.mktemp("generated")
    generated = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(DOCUMENT),
            "--meta",
            "none",
            "--output-path",
            str(where / "jss_client"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": f"{GENERATOR.parent}:/usr/bin:/bin"},  # its post-hooks run this venv's ruff
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout, generated.stdout  # every schema and operation understood
    sys.path.insert(0, str(where))
    yield "jss_client"
    sys.path.remove(str(where))
    for name in [n for n in sys.modules if n == "jss_client" or n.startswith("jss_client.")]:
        del sys.modules[name]


def generated(package: str, module: str) -> ModuleType:
    return importlib.import_module(f"{package}.{module}")


def test_a_generated_client_walks_journey_b2(jss_client: str, stack: Stack, api: Api) -> None:
    citizen: Citizen = api.citizen(whatsapp=True)
    client = generated(jss_client, "client").AuthenticatedClient(base_url=stack.base_url, token=citizen.token)
    b2 = "api.b2_change_the_number_with_an_email_code"
    models = generated(jss_client, "models")

    sent = generated(jss_client, f"{b2}.send_email_code").sync(client=client)
    assert isinstance(sent, models.CodeSentAnswer), sent
    code = code_from_mailbox(api, citizen)

    refused = generated(jss_client, f"{b2}.verify_email_code").sync(
        sent.verification_id, client=client, body=models.CodeEntry(code=f"{(int(code) + 1) % 1_000_000:06d}")
    )
    assert isinstance(refused, models.Problem), refused  # a problem document, parsed as the model
    assert refused.code == "code_wrong"

    permit = generated(jss_client, f"{b2}.verify_email_code").sync(
        sent.verification_id, client=client, body=models.CodeEntry(code=code)
    )
    assert isinstance(permit, models.ChangePermitAnswer), permit

    number = random_mobile()
    updated = generated(jss_client, f"{b2}.set_whats_app_number").sync(
        client=client, body=models.NewWhatsAppNumber(change_token=permit.change_token, whatsapp_number=number)
    )
    assert isinstance(updated, models.NumberUpdatedAnswer), updated
    assert updated.message == UPDATED
    assert api.contact(citizen)["whatsapp_number"] == updated.whatsapp_number
