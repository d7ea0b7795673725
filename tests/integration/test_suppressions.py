"""Suppressions through the real API handler (scope admin), and the bulk functions dispatch
and the provider-event handler use."""

from __future__ import annotations

from typing import Any

import pytest
from herald.db.suppressions import add_suppressions, suppressed

from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import call_api


def suppress(stack: Stack, key: str, address: str, **fields: Any) -> tuple[int, Any]:
    status, _, body = call_api(
        stack, "POST", "/v1/suppressions", key=key, body={"address": address, **fields}
    )
    return status, body


def listed(stack: Stack, key: str, **query: str) -> tuple[list[str], str | None]:
    _, _, page = call_api(stack, "GET", "/v1/suppressions", key=key, query=query or None)
    return [item["address"] for item in page["items"]], page["next_cursor"]


def address_events(stack: Stack) -> list[tuple[str, str, Any]]:
    rows = (
        stack.db.connection()
        .execute("SELECT address, source, change FROM preference_events ORDER BY id")
        .fetchall()
    )
    return [(row["address"], row["source"], row["change"]) for row in rows]


def test_an_address_is_suppressed_listed_and_lifted(stack: Stack, tenant: Tenant) -> None:
    # when
    status, created = suppress(stack, tenant.key, "Ada@Example.com", note="asked by phone")

    # then
    assert status == 201
    assert {k: created[k] for k in ("address", "reason", "source", "detail")} == {
        "address": "ada@example.com",
        "reason": "manual",
        "source": "api",
        "detail": {"note": "asked by phone"},
    }
    assert listed(stack, tenant.key) == (["ada@example.com"], None)

    # when
    status, _, body = call_api(
        stack, "DELETE", "/v1/suppressions/ADA%40example.com", key=tenant.key
    )

    # then
    assert (status, body) == (204, None)
    assert listed(stack, tenant.key) == ([], None)
    assert address_events(stack) == [
        ("ada@example.com", "api", {"suppressed": "manual"}),
        ("ada@example.com", "api", {"suppressed": None}),
    ]


def test_a_phone_is_stored_in_e164_and_removed_by_it(stack: Stack, tenant: Tenant) -> None:
    # when
    status, created = suppress(stack, tenant.key, "+1 (415) 555-0100", reason="stop")
    removed, _, _ = call_api(stack, "DELETE", "/v1/suppressions/+14155550100", key=tenant.key)

    # then
    assert (status, created["address"], created["reason"]) == (201, "+14155550100", "stop")
    assert removed == 204


@pytest.mark.parametrize(
    "body",
    [
        {"address": "not-an-address"},
        {"address": "555 0100"},
        {"address": "ada@example.com", "reason": "bored"},
        {"address": "ada@example.com", "extra": True},
    ],
)
def test_an_invalid_suppression_is_400(stack: Stack, tenant: Tenant, body: dict[str, Any]) -> None:
    # when
    status, _, response = call_api(stack, "POST", "/v1/suppressions", key=tenant.key, body=body)

    # then
    assert (status, response["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert listed(stack, tenant.key) == ([], None)


def test_suppressing_twice_is_409_and_keeps_the_first_reason(stack: Stack, tenant: Tenant) -> None:
    # given
    suppress(stack, tenant.key, "ada@example.com", reason="bounce")

    # when
    status, body = suppress(stack, tenant.key, "ADA@example.com")

    # then
    assert (status, body["error"]["code"]) == (409, "CONFLICT")
    _, _, page = call_api(stack, "GET", "/v1/suppressions", key=tenant.key)
    assert [(i["address"], i["reason"]) for i in page["items"]] == [("ada@example.com", "bounce")]


def test_an_idempotent_retry_replays_the_201(stack: Stack, tenant: Tenant) -> None:
    # given
    headers = {"Idempotency-Key": "suppress-ada"}
    first = call_api(
        stack,
        "POST",
        "/v1/suppressions",
        key=tenant.key,
        body={"address": "ada@example.com"},
        headers=headers,
    )

    # when
    again = call_api(
        stack,
        "POST",
        "/v1/suppressions",
        key=tenant.key,
        body={"address": "ada@example.com"},
        headers=headers,
    )

    # then
    assert first[0] == again[0] == 201 and first[2] == again[2]
    assert again[1].get("idempotent-replayed") == "true"


def test_lifting_an_address_that_is_not_suppressed_is_404(stack: Stack, tenant: Tenant) -> None:
    status, _, body = call_api(
        stack, "DELETE", "/v1/suppressions/nobody@example.com", key=tenant.key
    )
    assert (status, body["error"]["code"]) == (404, "NOT_FOUND")


def test_suppressions_are_listed_by_address_with_a_cursor(stack: Stack, tenant: Tenant) -> None:
    # given
    for name in ("carol", "alice", "bob"):
        suppress(stack, tenant.key, f"{name}@example.com")

    # when
    first, cursor = listed(stack, tenant.key, limit="2")
    assert cursor is not None
    second, last = listed(stack, tenant.key, limit="2", cursor=cursor)

    # then
    assert first == ["alice@example.com", "bob@example.com"]
    assert (second, last) == (["carol@example.com"], None)


def test_a_malformed_cursor_is_400(stack: Stack, tenant: Tenant) -> None:
    status, _, body = call_api(
        stack, "GET", "/v1/suppressions", key=tenant.key, query={"cursor": "!!!"}
    )
    assert (status, body["error"]["details"][0]["field"]) == (400, "cursor")


def test_suppressions_need_the_admin_scope(stack: Stack, tenant: Tenant) -> None:
    # given
    suppress(stack, tenant.key, "ada@example.com")
    _, _, created = call_api(
        stack, "POST", "/v1/api-keys", key=tenant.key, body={"scopes": ["send", "users"]}
    )

    # when
    statuses = [
        call_api(stack, "GET", "/v1/suppressions", key=created["key"])[0],
        suppress(stack, created["key"], "bob@example.com")[0],
        call_api(stack, "DELETE", "/v1/suppressions/ada@example.com", key=created["key"])[0],
    ]

    # then
    assert statuses == [403, 403, 403]
    assert listed(stack, tenant.key) == (["ada@example.com"], None)


def test_suppressions_are_per_tenant(stack: Stack, tenant: Tenant, other_tenant: Tenant) -> None:
    # given
    suppress(stack, tenant.key, "ada@example.com")

    # when
    other_list = listed(stack, other_tenant.key)
    other_delete, _, _ = call_api(
        stack, "DELETE", "/v1/suppressions/ada@example.com", key=other_tenant.key
    )
    other_add, _ = suppress(stack, other_tenant.key, "ada@example.com")

    # then
    assert other_list == ([], None)
    assert other_delete == 404
    assert other_add == 201
    assert listed(stack, tenant.key) == (["ada@example.com"], None)


def test_bulk_suppressions_report_what_is_new_and_record_provider_events(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given: one address already suppressed by an operator, one in another tenant
    suppress(stack, tenant.key, "ada@example.com")
    suppress(stack, other_tenant.key, "bob@example.com")
    conn = stack.db.connection()

    # when: a provider's callback reports three addresses, one of them twice
    added = add_suppressions(
        conn,
        tenant.id,
        [
            ("ADA@example.com", "bounce", "sendgrid", {"sg_event_id": "e1"}),
            ("Bob@example.com", "spamreport", "sendgrid", {"sg_event_id": "e2"}),
            ("bob@example.com", "bounce", "sendgrid", {"sg_event_id": "e3"}),
            ("+14155550100", "stop", "twilio", {}),
        ],
    )

    # then
    assert added == ["+14155550100", "bob@example.com"]
    assert suppressed(
        conn, tenant.id, ["Ada@Example.com", "bob@example.com", "+14155550100", "c@example.com"]
    ) == {"Ada@Example.com": "manual", "bob@example.com": "spamreport", "+14155550100": "stop"}
    assert suppressed(conn, other_tenant.id, ["ada@example.com", "bob@example.com"]) == {
        "bob@example.com": "manual"
    }
    provider_events = [e for e in address_events(stack) if e[1] == "provider"]
    assert sorted(provider_events, key=lambda e: e[0]) == [
        ("+14155550100", "provider", {"suppressed": "stop"}),
        ("bob@example.com", "provider", {"suppressed": "spamreport"}),
    ]
    assert add_suppressions(conn, tenant.id, []) == []
    assert suppressed(conn, tenant.id, []) == {}
