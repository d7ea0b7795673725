"""A client generated from docs/openapi.json (openapi-python-client) types what the API answers.

The generated client raises `UnexpectedStatus` on a status the document does not declare for
the operation, and parses every declared one into its model: each call below must come back
as the model the document names, success and error alike. It talks to the real API handler
through the API Gateway emulator's event translation, in process.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from local.gateway import build_event, translate_result
from local.http import DevRequest
from tests.integration.conftest import LambdaContext, Stack, Tenant

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture(scope="module")
def herald_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    out = tmp_path_factory.mktemp("client")
    config = out / "config.yaml"
    config.write_text("post_hooks: []\npackage_name_override: herald_client\n")
    subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(ROOT / "docs" / "openapi.json"),
            "--config",
            str(config),
            "--meta",
            "none",
            "--output-path",
            str(out / "herald_client"),
        ],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("herald_client")
    finally:
        sys.path.remove(str(out))


def _api(module: str) -> Any:
    return importlib.import_module(f"herald_client.api.{module}")


def _model(name: str) -> Any:
    return getattr(importlib.import_module("herald_client.models"), name)


def _through_the_gateway(stack: Stack) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        raw_path, _, raw_query = request.url.raw_path.decode().partition("?")
        dev = DevRequest(
            method=request.method,
            path=raw_path,
            query=dict(request.url.params),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=request.read(),
            raw_query=raw_query,
        )
        result = stack.handlers["api.handler"].handler(
            build_event(dev, uuid.uuid4().hex), LambdaContext()
        )
        response = translate_result(result)
        body = response.body if isinstance(response.body, bytes) else str(response.body).encode()
        return httpx.Response(response.status, headers=response.headers, content=body)

    return httpx.MockTransport(handle)


def _client(herald_client: ModuleType, stack: Stack, key: str | None) -> Any:
    options = {"transport": _through_the_gateway(stack)}
    if key is None:
        return herald_client.Client(
            base_url="http://herald", httpx_args=options, raise_on_unexpected_status=True
        )
    return herald_client.AuthenticatedClient(
        base_url="http://herald", token=key, httpx_args=options, raise_on_unexpected_status=True
    )


def _email(to: str) -> Any:
    content = {"email": {"subject": "Hello", "text": "Hi."}}
    return _model("SendNotificationRequest").from_dict(
        {"recipients": [{"email": to}], "content": content}
    )


def test_every_answer_is_the_model_the_document_declares(
    herald_client: ModuleType, stack: Stack, tenant: Tenant
) -> None:
    client = _client(herald_client, stack, tenant.key)
    notifications = "notifications.send_notification_v1_notifications_post"
    get = "notifications.get_notification_v1_notifications_notification_id_get"
    cancel = "notifications.cancel_notification_v1_notifications_notification_id_cancel_post"
    templates = "templates.create_template_v1_templates_post"
    preview = "templates.preview_template_v1_templates_key_preview_post"
    archive = "templates.archive_template_v1_templates_key_delete"
    keys = "api_keys.create_api_key_v1_api_keys_post"
    template = _model("CreateTemplateRequest").from_dict(
        {"key": "welcome", "name": "Welcome", "channels": {"email": {"subject": "Hi", "text": "."}}}
    )
    by_unknown_template = _model("SendNotificationRequest").from_dict(
        {"recipients": [{"email": "a@example.com"}], "template": "nope"}
    )

    # when each kind of answer is provoked, (status, parsed type) is what the document says
    calls = {
        "health": (_api("operations.health_v1_health_get"), {}, None),
        "202": (_api(notifications), {"body": _email("a@example.com")}, tenant.key),
        "400": (_api(notifications), {"body": _email("not-an-address")}, tenant.key),
        "401": (_api(notifications), {"body": _email("a@example.com")}, None),
        "404": (_api(get), {"notification_id": "ntf_missing"}, tenant.key),
        "422": (_api(notifications), {"body": by_unknown_template}, tenant.key),
        "201": (_api(templates), {"body": template}, tenant.key),
        "409": (_api(templates), {"body": template}, tenant.key),
        "204": (_api(archive), {"key": "welcome"}, tenant.key),
    }
    results: dict[str, tuple[int, str]] = {}
    for name, (operation, arguments, key) in calls.items():
        response = operation.sync_detailed(client=_client(herald_client, stack, key), **arguments)
        results[name] = (int(response.status_code), type(response.parsed).__name__)
    sent = _api(notifications).sync(client=client, body=_email("b@example.com"))
    results["200"] = _status_and_type(
        _api(get).sync_detailed(client=client, notification_id=sent.id)
    )
    results["cancel"] = _status_and_type(
        _api(cancel).sync_detailed(client=client, notification_id=sent.id)
    )
    results["cancel again"] = _status_and_type(
        _api(cancel).sync_detailed(client=client, notification_id=sent.id)
    )
    created = _api(keys).sync(
        client=client,
        body=_model("CreateApiKeyRequest").from_dict({"name": "r", "scopes": ["read"]}),
    )
    results["403"] = _status_and_type(
        _api(notifications).sync_detailed(
            client=_client(herald_client, stack, created.key), body=_email("a@example.com")
        )
    )
    greet = {
        "key": "greet",
        "name": "Greet",
        "channels": {"email": {"subject": "{{ who }}", "text": "."}},
    }
    _api(templates).sync(client=client, body=_model("CreateTemplateRequest").from_dict(greet))
    results["422 preview"] = _status_and_type(
        _api(preview).sync_detailed(
            client=client,
            key="greet",
            body=_model("PreviewRequest").from_dict({"channel": "email", "variables": {}}),
        )
    )

    # then
    assert results == {
        "health": (200, "HealthV1HealthGetReturn"),
        "202": (202, "NotificationAccepted"),
        "400": (400, "Error"),
        "401": (401, "Error"),
        "404": (404, "Error"),
        "422": (422, "Error"),
        "201": (201, "TemplateOut"),
        "409": (409, "Error"),
        "204": (204, "NoneType"),
        "200": (200, "NotificationOut"),
        "cancel": (200, "NotificationAccepted"),
        "cancel again": (409, "Error"),
        "403": (403, "Error"),
        "422 preview": (422, "Error"),
    }


def _status_and_type(response: Any) -> tuple[int, str]:
    return int(response.status_code), type(response.parsed).__name__
