"""The HTTP contract of API.md: auth, tenant isolation, validation, idempotency."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import LambdaContext, Stack, Tenant, http_event
from tests.integration.pipeline import call_api, email_body, send_email


def _counts(stack: Stack) -> tuple[int, int]:
    with stack.db.transaction() as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM notifications) AS n,"
            " (SELECT count(*) FROM idempotency_keys) AS k"
        ).fetchone()
    assert row is not None
    return row["n"], row["k"]


def test_health_needs_no_key(stack: Stack) -> None:
    status, _, body = call_api(stack, "GET", "/v1/health")
    assert (status, body["status"]) == (200, "ok")


@pytest.mark.parametrize("authorization", [None, "Bearer nope", "Basic abc", "Bearer "])
def test_a_request_without_a_valid_key_is_401(stack: Stack, authorization: str | None) -> None:
    # given
    headers = {"authorization": authorization} if authorization is not None else {}

    # when
    status, _, body = call_api(
        stack, "POST", "/v1/notifications", body=email_body(["a@example.com"]), headers=headers
    )

    # then
    assert status == 401
    assert body["error"]["code"] == "UNAUTHENTICATED" and body["request_id"]
    assert _counts(stack) == (0, 0)


def test_a_key_without_the_scope_is_403(stack: Stack, tenant: Tenant) -> None:
    # given a read-only key created through the API
    status, _, created = call_api(
        stack,
        "POST",
        "/v1/api-keys",
        key=tenant.key,
        body={"name": "dashboard", "scopes": ["read"]},
    )
    assert status == 201 and created["key"].startswith("hk_") and created["scopes"] == ["read"]

    # when it tries to send
    status, _, body = call_api(
        stack, "POST", "/v1/notifications", key=created["key"], body=email_body(["a@example.com"])
    )

    # then
    assert status == 403 and body["error"]["code"] == "FORBIDDEN"
    assert _counts(stack) == (0, 0)


def test_a_revoked_key_is_401(stack: Stack, tenant: Tenant) -> None:
    # given
    _, _, created = call_api(
        stack, "POST", "/v1/api-keys", key=tenant.key, body={"scopes": ["send"]}
    )

    # when
    status, _, _ = call_api(stack, "DELETE", f"/v1/api-keys/{created['id']}", key=tenant.key)

    # then
    assert status == 204
    status, _, _ = call_api(
        stack, "POST", "/v1/notifications", key=created["key"], body=email_body(["a@example.com"])
    )
    assert status == 401


def test_a_tenant_cannot_see_another_tenants_notification(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given
    _, _, accepted = send_email(stack, tenant.key, ["a@example.com"])

    # when
    status, _, body = call_api(
        stack, "GET", f"/v1/notifications/{accepted['id']}", key=other_tenant.key
    )
    cancel, _, _ = call_api(
        stack, "POST", f"/v1/notifications/{accepted['id']}/cancel", key=other_tenant.key
    )
    _, _, listing = call_api(stack, "GET", "/v1/notifications", key=other_tenant.key)

    # then
    assert status == 404 and body["error"]["code"] == "NOT_FOUND"
    assert cancel == 404
    assert listing["items"] == []
    own, _, _ = call_api(stack, "GET", f"/v1/notifications/{accepted['id']}", key=tenant.key)
    assert own == 200


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (
            lambda b: b["recipients"].__setitem__(0, {"email": "not-an-email"}),
            "recipients[0].email",
        ),
        (lambda b: b.__setitem__("channels", ["pigeon"]), "channels[0]"),
        (lambda b: b.__setitem__("recipients", []), "recipients"),
        (
            lambda b: b["content"]["email"].__setitem__("subject", "x" * 999),
            "content.email.subject",
        ),
        (lambda b: b["recipients"].__setitem__(0, {"phone": "12"}), "recipients[0].phone"),
        (lambda b: b.__setitem__("surprise", 1), "surprise"),
        (lambda b: b["recipients"].__setitem__(0, {}), "recipients[0]"),
    ],
)
def test_a_malformed_body_is_400_naming_the_field(
    stack: Stack, tenant: Tenant, mutate, field: str
) -> None:  # type: ignore[no-untyped-def]
    # given
    body = email_body(["a@example.com"])
    mutate(body)

    # when
    status, _, error = call_api(stack, "POST", "/v1/notifications", key=tenant.key, body=body)

    # then
    assert status == 400
    assert error["error"]["code"] == "VALIDATION_ERROR"
    assert field in [d["field"] for d in error["error"]["details"]]
    assert _counts(stack) == (0, 0)
    assert stack.drain(stack.resources.dispatch.url) == []


def test_a_body_that_is_not_json_is_400(stack: Stack, tenant: Tenant) -> None:
    status, _, error = call_api(
        stack, "POST", "/v1/notifications", key=tenant.key, raw_body="{nope"
    )
    assert status == 400 and error["error"]["code"] == "VALIDATION_ERROR"


def test_a_body_over_one_megabyte_is_413(stack: Stack, tenant: Tenant) -> None:
    # given
    body = email_body(["a@example.com"])
    body["content"]["email"]["text"] = "x" * (1024 * 1024)

    # when
    status, _, error = call_api(stack, "POST", "/v1/notifications", key=tenant.key, body=body)

    # then
    assert status == 413 and error["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert _counts(stack) == (0, 0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"send_at": "2020-01-01T00:00:00Z"}, "send_at is in the past"),
        ({"channels": ["sms"]}, "some channels cannot be sent"),
        ({"fallback": ["email"]}, "some channels cannot be sent"),
        ({"template": "order_shipped", "content": None}, "template 'order_shipped' not found"),
    ],
)
def test_a_business_rule_violation_is_422(
    stack: Stack, tenant: Tenant, changes: dict, message: str
) -> None:  # type: ignore[type-arg]
    # given
    body = {**email_body(["a@example.com"]), **changes}
    body = {k: v for k, v in body.items() if v is not None}

    # when
    status, _, error = call_api(stack, "POST", "/v1/notifications", key=tenant.key, body=body)

    # then
    assert status == 422 and error["error"]["code"] == "UNPROCESSABLE"
    assert error["error"]["message"] == message
    assert _counts(stack) == (0, 0)


def test_an_idempotent_replay_returns_the_first_response(stack: Stack, tenant: Tenant) -> None:
    # given
    body = email_body(["a@example.com"])
    headers = {"Idempotency-Key": "order-123-shipped"}
    first_status, first_headers, first = call_api(
        stack, "POST", "/v1/notifications", key=tenant.key, body=body, headers=headers
    )

    # when
    status, replay_headers, replay = call_api(
        stack, "POST", "/v1/notifications", key=tenant.key, body=body, headers=headers
    )

    # then
    assert (first_status, status) == (202, 202)
    assert replay == first
    assert replay_headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first_headers
    assert _counts(stack) == (1, 1)
    assert len(stack.drain(stack.resources.dispatch.url)) == 1


def test_an_idempotency_key_reused_with_another_body_is_409(stack: Stack, tenant: Tenant) -> None:
    # given
    headers = {"Idempotency-Key": "k-1"}
    send_email(stack, tenant.key, ["a@example.com"], headers=headers)

    # when
    status, _, error = send_email(stack, tenant.key, ["b@example.com"], headers=headers)

    # then
    assert status == 409 and error["error"]["code"] == "CONFLICT"
    assert _counts(stack) == (1, 1)


def test_idempotency_keys_are_per_tenant(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    headers = {"Idempotency-Key": "same"}
    _, _, first = send_email(stack, tenant.key, ["a@example.com"], headers=headers)
    _, _, second = send_email(stack, other_tenant.key, ["b@example.com"], headers=headers)
    assert first["id"] != second["id"]


def test_notifications_are_listed_newest_first_with_a_cursor(stack: Stack, tenant: Tenant) -> None:
    # given
    ids = [send_email(stack, tenant.key, ["a@example.com"])[2]["id"] for _ in range(3)]

    # when
    _, _, page1 = call_api(stack, "GET", "/v1/notifications", key=tenant.key, query={"limit": "2"})
    _, _, page2 = call_api(
        stack,
        "GET",
        "/v1/notifications",
        key=tenant.key,
        query={"limit": "2", "cursor": page1["next_cursor"]},
    )

    # then
    assert [n["id"] for n in page1["items"]] == ids[::-1][:2]
    assert [n["id"] for n in page2["items"]] == ids[:1]
    assert page2["next_cursor"] is None


def test_the_openapi_document_describes_the_api(stack: Stack) -> None:
    status, _, document = call_api(stack, "GET", "/v1/openapi.json")
    assert status == 200
    assert {
        "/v1/notifications",
        "/v1/notifications/{notification_id}",
        "/v1/api-keys",
        "/v1/health",
    } <= set(document["paths"])
    docs = stack.handlers["api.handler"].handler(http_event("GET", "/v1/docs"), LambdaContext())
    assert docs["statusCode"] == 200 and "swagger" in docs["body"].lower()
    assert docs["headers"]["Content-Type"] == "text/html"
    # the page's document, alone: the same one, with the server the page was served from
    docs_event = http_event("GET", "/v1/docs", query={"format": "json"})
    embedded = stack.handlers["api.handler"].handler(docs_event, LambdaContext())
    assert embedded["statusCode"] == 200
    assert json.loads(embedded["body"]) == {**document, "servers": [{"url": "/"}]}
