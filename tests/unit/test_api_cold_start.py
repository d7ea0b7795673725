"""The API's cold start imports what routing and validation need; the rest loads on first use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from functions.api import errors

ROOT = Path(__file__).resolve().parents[2]
# Each loaded by the first request that needs it (or never, in the API): the database driver,
# the OpenAPI models (documents), email_validator (an address), Jinja2 (a page), phonenumbers
# (a phone number), cryptography (a web push key), and the provider SDKs and boto3 not at all.
LOADED_ON_FIRST_USE = (
    "psycopg",
    "aws_lambda_powertools.event_handler.openapi.models",
    "email_validator",
    "jinja2",
    "phonenumbers",
    "cryptography",
    "twilio",
    "firebase_admin",
    "pywebpush",
    "boto3",
    "aws_xray_sdk",
)
_IMPORT_THE_HANDLER = """
import json, os, sys
from local.openapi import ENVIRONMENT
os.environ.update(ENVIRONMENT)
import functions.api.handler
print(json.dumps(sorted(sys.modules)))
"""


def test_importing_the_api_handler_loads_nothing_a_request_may_not_need() -> None:
    # when a fresh interpreter imports the handler, as a cold start does
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_THE_HANDLER],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(json.loads(result.stdout))

    # then
    assert "functions.api.handler" in loaded
    early = [m for m in LOADED_ON_FIRST_USE if any(n == m or n.startswith(f"{m}.") for n in loaded)]
    assert early == []


def test_a_value_the_database_refuses_is_a_400_in_the_error_shape() -> None:
    # given a route whose statement PostgreSQL refuses (psycopg, loaded by then, raises)
    app = APIGatewayHttpResolver()
    errors.register(app)

    @app.get("/v1/out-of-range")
    def out_of_range() -> Response[str]:
        raise psycopg.errors.NumericValueOutOfRange("integer out of range")

    # when
    response = app.resolve(_event("GET", "/v1/out-of-range"), _Context())

    # then
    assert response["statusCode"] == 400
    body = json.loads(response["body"])
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert body["error"]["message"] == "a value is out of the range the service stores"


def test_any_other_error_is_still_a_500() -> None:
    # given
    app = APIGatewayHttpResolver()
    errors.register(app)

    @app.get("/v1/broken")
    def broken() -> Response[str]:
        raise RuntimeError("a bug")

    # when
    response = app.resolve(_event("GET", "/v1/broken"), _Context())

    # then
    assert response["statusCode"] == 500
    assert json.loads(response["body"])["error"]["code"] == "INTERNAL"


def _event(method: str, path: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(
        (ROOT / "tests" / "fixtures" / "apigw_http_event.json").read_text()
    )
    event["rawPath"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    return event


class _Context:
    function_name = "api"
    aws_request_id = "test"
