"""What JSS builds against: the JSON Schemas in docs/schemas/ match the models that check messages and
events, and every example in docs/examples/ passes both the schema (what JSS validates with) and the
model (what this service validates with)."""

import json
import os
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from scripts import schemas
from shared.domain.change_events import (
    DETAIL_TYPE,
    DETAIL_TYPES,
    EVENT_SOURCE,
    REMOVED_DETAIL_TYPE,
    WhatsAppNumberChangedDetail,
    WhatsAppNumberRemovedDetail,
)
from shared.domain.jss_records import sync_messages

DOCS = Path(__file__).resolve().parent.parent / "docs"
SYNC_EXAMPLES = sorted((DOCS / "examples" / "account-sync").glob("*.json"))


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((DOCS / "schemas" / name).read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


@pytest.mark.parametrize("name", sorted(schemas.documents()))
def test_the_committed_schemas_match_the_models(name: str) -> None:
    assert (DOCS / "schemas" / name).read_text() == schemas.render(schemas.documents()[name]), (
        f"docs/schemas/{name} is stale: run `make schemas`"
    )


@pytest.mark.parametrize("example", SYNC_EXAMPLES, ids=lambda path: path.stem)
def test_every_account_sync_example_passes_the_schema_and_the_consumer(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NUMBER_HASH_KEY", os.environ.get("NUMBER_HASH_KEY", "documents-test"))
    body = example.read_text()
    validator("account-sync-message.schema.json").validate(json.loads(body))
    message = sync_messages().validate_json(body, context={"now": 2_000_000_000})
    assert message.type == json.loads(body)["type"]


def test_the_four_message_types_have_an_example() -> None:
    types = {json.loads(path.read_text())["type"] for path in SYNC_EXAMPLES}
    assert types == {"account.created", "account.contact_changed", "account.password_changed", "account.deleted"}


def test_the_schema_refuses_what_the_consumer_refuses() -> None:
    refused: dict[str, Any] = {"type": "account.password_changed", "account_id": "jss-1", "updated_at": "x"}
    refused["password_hash"] = "5f4dcc3b5aa765d61d8327deb882cf99"  # an md5: neither accepts it
    assert list(validator("account-sync-message.schema.json").iter_errors(refused))


def test_the_event_example_is_what_jss_receives() -> None:
    event = json.loads((DOCS / "examples" / "whatsapp-number-changed.json").read_text())
    assert (event["source"], event["detail-type"]) == (EVENT_SOURCE, DETAIL_TYPE)
    validator("whatsapp-number-changed.schema.json").validate(event["detail"])
    WhatsAppNumberChangedDetail.model_validate(event["detail"])


def test_the_removal_example_is_what_jss_receives() -> None:
    event = json.loads((DOCS / "examples" / "whatsapp-number-removed.json").read_text())
    assert (event["source"], event["detail-type"]) == (EVENT_SOURCE, REMOVED_DETAIL_TYPE)
    validator("whatsapp-number-removed.schema.json").validate(event["detail"])
    WhatsAppNumberRemovedDetail.model_validate(event["detail"])


def test_the_rule_in_the_events_guide_matches_the_events() -> None:
    guide = (DOCS / "events.md").read_text()
    pattern = json.loads(guide.split("```json\n", 1)[1].split("```", 1)[0])
    assert pattern == {"source": [EVENT_SOURCE], "detail-type": list(DETAIL_TYPES)}
