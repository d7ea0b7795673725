"""The committed OpenAPI document is what the code generates: contract changes are reviewed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_every_operation_declares_the_errors_it_shares_in_the_one_error_shape() -> None:
    for method, path, operation in _operations():
        responses = operation["responses"]
        where = f"{method} {path}"
        # no FastAPI-style 422 nor a 500 Herald never sends
        assert "HTTPValidationError" not in json.dumps(responses), where
        assert "500" not in responses, where
        assert {"400", "429"} <= set(responses), where
        assert any(s.startswith("2") for s in responses), where
        if operation.get("security") != []:
            assert {"401", "403"} <= set(responses), where
        if "{" in path:
            assert "404" in responses, where
        if "application/json" in operation.get("requestBody", {}).get("content", {}):
            assert {"413", "415"} <= set(responses), where
        for status, response in responses.items():
            content = response.get("content", {})
            if status.startswith("4") and status != "429" and "application/json" in content:
                schema = content["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, f"{where} {status}"
            elif status.startswith("4") and status != "429":
                assert set(content) == {"text/html"}, f"{where} {status}"  # an end-user page


def test_health_and_the_end_user_pages_need_no_api_key_and_the_rest_do() -> None:
    # The public pieces a browser fetches: the inbox widget's script and the VAPID key.
    open_paths = {
        "/v1/health",
        "/v1/unsubscribe",
        "/v1/preferences/page",
        "/v1/inbox/widget.js",
        "/v1/web-push/vapid-public-key",
    }
    for _, path, operation in _operations():
        assert (operation.get("security") == []) == (path in open_paths), path


def test_success_statuses_are_the_ones_the_api_answers() -> None:
    success = {
        (method, path): sorted(s for s in operation["responses"] if s.startswith("2"))
        for method, path, operation in _operations()
    }
    assert success[("POST", "/v1/notifications")] == ["202"]
    assert success[("POST", "/v1/templates")] == ["201"]
    assert success[("POST", "/v1/api-keys")] == ["201"]
    assert success[("DELETE", "/v1/templates/{key}")] == ["204"]
    assert success[("GET", "/v1/notifications/{notification_id}")] == ["200"]
