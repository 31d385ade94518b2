"""template.yaml as CloudFormation gets it: SAM's own translator (aws-sam-translator, pinned by
aws-sam-cli), run offline. checkov reads this (``make checkov``): its IAM and Lambda checks only see
what SAM generates (the functions' roles, permissions, the API's stage). The tests read it too.

The local code paths become stand-in S3 URIs, as ``sam package`` would make them.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_CODE = ("CodeUri", "ContentUri", "DefinitionUri")


class _NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs; the template names none but SAM's bundled ones."""

    def load(self) -> dict[str, str]:
        return {}


def transformed(parameters: dict[str, str] | None = None, template: dict[str, Any] | None = None) -> dict[str, Any]:
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    logging.getLogger("samtranslator.feature_toggle").setLevel(logging.ERROR)  # no toggle config offline
    source = copy.deepcopy(template) if template else yaml_parse((ROOT / "template.yaml").read_text())
    for section in (source.get("Globals", {}), source["Resources"]):
        for item in section.values():
            properties = item.get("Properties", item) if isinstance(item, dict) else {}
            for key in _CODE:
                if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                    properties[key] = "s3://packaged/" + properties[key]
    os.environ.setdefault("AWS_DEFAULT_REGION", "ap-southeast-3")
    return dict(transform(source, parameters or {}, _NoManagedPolicies()))


def main() -> int:
    json.dump(transformed(), sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
