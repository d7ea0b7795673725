"""The committed OpenAPI document is what the code generates: contract changes are reviewed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_docs_openapi_json_matches_the_code() -> None:
    # given the committed document
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())

    # when the code generates it afresh (in its own process: the API module reads settings)
    fresh = json.loads(
        subprocess.run(
            [sys.executable, "-m", "local.openapi"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    )

    # then
    assert fresh == committed, "the API changed: run `make openapi` and review the diff"


def test_the_document_carries_the_contract_paths_and_bearer_auth() -> None:
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert {"/v1/notifications", "/v1/notifications/{notification_id}", "/v1/api-keys"} <= set(
        document["paths"]
    )
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
