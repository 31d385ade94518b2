"""Writes the JSON Schemas of what crosses the boundary with JSS, generated from the pydantic models
that check them, into ``docs/schemas/`` (``make schemas``; a test fails when they are stale):

- ``account-sync-message.schema.json``: a message JSS puts on the account-sync queue;
- ``jss-export-row.schema.json``: one row of an export for the import command (a JSON Lines line);
- ``whatsapp-number-changed.schema.json`` and ``whatsapp-number-removed.schema.json``: the ``detail``
  of the two events JSS receives.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shared.domain.change_events import WhatsAppNumberChangedDetail, WhatsAppNumberRemovedDetail  # noqa: E402
from shared.domain.jss_records import JssAccount, sync_messages  # noqa: E402

SCHEMAS = ROOT / "docs" / "schemas"
_BASE = "https://jss.jogjakota.go.id/schemas/whatsapp/"


def _document(name: str, title: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": _BASE + name, "title": title, **schema}


def documents() -> dict[str, dict[str, Any]]:
    return {
        "account-sync-message.schema.json": _document(
            "account-sync-message.schema.json",
            "AccountSyncMessage",
            sync_messages().json_schema(mode="validation"),
        ),
        "jss-export-row.schema.json": _document(
            "jss-export-row.schema.json", "JssExportRow", JssAccount.model_json_schema(mode="validation")
        ),
        "whatsapp-number-changed.schema.json": _document(
            "whatsapp-number-changed.schema.json",
            "WhatsAppNumberChanged",
            WhatsAppNumberChangedDetail.model_json_schema(mode="serialization"),
        ),
        "whatsapp-number-removed.schema.json": _document(
            "whatsapp-number-removed.schema.json",
            "WhatsAppNumberRemoved",
            WhatsAppNumberRemovedDetail.model_json_schema(mode="serialization"),
        ),
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    SCHEMAS.mkdir(parents=True, exist_ok=True)
    for name, document in documents().items():
        (SCHEMAS / name).write_text(render(document))
        print(f"wrote docs/schemas/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
