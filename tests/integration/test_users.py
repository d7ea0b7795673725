"""Users and their preferences through the real API handler: storage, validation, scopes,
tenant isolation, export and erasure."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import call_api

ADA: dict[str, Any] = {
    "email": "Ada@Example.com",
    "phone": "+1 415 555 0100",
    "name": "Ada Lovelace",
    "locale": "en_GB",
    "timezone": "Europe/London",
    "data": {"plan": "pro"},
}
PREFERENCES: dict[str, Any] = {
    "channels": {"email": True, "sms": False},
    "categories": {"marketing": False},
    "quiet_hours": {"start": "22:00", "end": "08:00"},
}


def put_user(stack: Stack, key: str, user_id: str = "u_1", **fields: Any) -> tuple[int, Any]:
    status, _, body = call_api(
        stack, "PUT", f"/v1/users/{user_id}", key=key, body={**ADA, **fields}
    )
    return status, body


def user_count(stack: Stack) -> int:
    row = stack.db.connection().execute("SELECT count(*) AS n FROM users").fetchone()
    assert row is not None
    return int(row["n"])


def test_a_user_is_stored_in_canonical_form_and_read_back(stack: Stack, tenant: Tenant) -> None:
    # when
    status, created = put_user(stack, tenant.key)

    # then
    assert status == 200
    assert {k: created[k] for k in ("email", "phone", "name", "locale", "timezone", "data")} == {
        "email": "Ada@example.com",  # the domain is case-insensitive, the local part is not
        "phone": "+14155550100",
        "name": "Ada Lovelace",
        "locale": "en-GB",
        "timezone": "Europe/London",
        "data": {"plan": "pro"},
    }
    assert created["user_id"] == "u_1"
    _, _, fetched = call_api(stack, "GET", "/v1/users/u_1", key=tenant.key)
    assert fetched == created


def test_put_replaces_the_profile_and_keeps_the_preferences(stack: Stack, tenant: Tenant) -> None:
    # given
    put_user(stack, tenant.key)
    call_api(stack, "PUT", "/v1/users/u_1/preferences", key=tenant.key, body=PREFERENCES)

    # when: the second PUT leaves out the phone
    status, updated = put_user(stack, tenant.key, phone=None, name="Ada King")

    # then
    assert status == 200
    assert (updated["phone"], updated["name"]) == (None, "Ada King")
    assert updated["updated_at"] > updated["created_at"]
    _, _, preferences = call_api(stack, "GET", "/v1/users/u_1/preferences", key=tenant.key)
    assert preferences == PREFERENCES
    assert user_count(stack) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("phone", "555 0100"),
        ("timezone", "Mars/Phobos"),
        ("locale", "not a locale!"),
    ],
)
def test_an_invalid_field_is_400_naming_it_and_nothing_is_stored(
    stack: Stack, tenant: Tenant, field: str, value: str
) -> None:
    # when
    status, body = put_user(stack, tenant.key, **{field: value})

    # then
    assert status == 400
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in body["error"]["details"]] == [field]
    assert user_count(stack) == 0


def test_an_unknown_user_is_404(stack: Stack, tenant: Tenant) -> None:
    for path in ("/v1/users/ghost", "/v1/users/ghost/preferences", "/v1/users/ghost/export"):
        status, _, body = call_api(stack, "GET", path, key=tenant.key)
        assert (status, body["error"]["code"]) == (404, "NOT_FOUND"), path
    status, _, _ = call_api(
        stack, "PUT", "/v1/users/ghost/preferences", key=tenant.key, body=PREFERENCES
    )
    assert status == 404


def test_a_tenant_cannot_see_or_change_another_tenants_user(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given
    put_user(stack, tenant.key)

    # when
    reads = [
        call_api(stack, "GET", path, key=other_tenant.key)[0]
        for path in ("/v1/users/u_1", "/v1/users/u_1/preferences", "/v1/users/u_1/export")
    ]
    erase, _, _ = call_api(stack, "DELETE", "/v1/users/u_1", key=other_tenant.key)

    # then
    assert reads == [404, 404, 404] and erase == 404
    assert call_api(stack, "GET", "/v1/users/u_1", key=tenant.key)[0] == 200


def test_the_same_user_id_in_two_tenants_is_two_users(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # when
    put_user(stack, tenant.key, name="Ada")
    put_user(stack, other_tenant.key, name="Grace")

    # then
    assert call_api(stack, "GET", "/v1/users/u_1", key=tenant.key)[2]["name"] == "Ada"
    assert call_api(stack, "GET", "/v1/users/u_1", key=other_tenant.key)[2]["name"] == "Grace"


def test_a_key_without_the_users_scope_is_403(stack: Stack, tenant: Tenant) -> None:
    # given
    _, _, created = call_api(
        stack, "POST", "/v1/api-keys", key=tenant.key, body={"scopes": ["send", "read"]}
    )

    # when
    status, body = put_user(stack, created["key"])
    read, _, _ = call_api(stack, "GET", "/v1/users/u_1", key=created["key"])

    # then
    assert (status, body["error"]["code"]) == (403, "FORBIDDEN")
    assert read == 403
    assert user_count(stack) == 0


def test_preferences_round_trip_and_each_change_is_recorded(stack: Stack, tenant: Tenant) -> None:
    # given
    put_user(stack, tenant.key)
    _, _, defaults = call_api(stack, "GET", "/v1/users/u_1/preferences", key=tenant.key)

    # when: the same preferences are saved twice
    for _ in range(2):
        status, _, saved = call_api(
            stack, "PUT", "/v1/users/u_1/preferences", key=tenant.key, body=PREFERENCES
        )

    # then
    assert defaults == {"channels": {}, "categories": {}, "quiet_hours": None}
    assert status == 200 and saved == PREFERENCES
    _, _, fetched = call_api(stack, "GET", "/v1/users/u_1/preferences", key=tenant.key)
    assert fetched == PREFERENCES
    _, _, export = call_api(stack, "GET", "/v1/users/u_1/export", key=tenant.key)
    assert [(e["source"], e["change"]) for e in export["preference_events"]] == [
        ("api", PREFERENCES)
    ]


@pytest.mark.parametrize(
    "preferences",
    [
        {"channels": {"carrier_pigeon": False}},
        {"categories": {"Not A Category": False}},
        {"quiet_hours": {"start": "22:00", "end": "22:00"}},
        {"quiet_hours": {"start": "25:00", "end": "08:00"}},
    ],
)
def test_invalid_preferences_are_400_and_change_nothing(
    stack: Stack, tenant: Tenant, preferences: dict[str, Any]
) -> None:
    # given
    put_user(stack, tenant.key)

    # when
    status, _, body = call_api(
        stack, "PUT", "/v1/users/u_1/preferences", key=tenant.key, body=preferences
    )

    # then
    assert (status, body["error"]["code"]) == (400, "VALIDATION_ERROR")
    _, _, fetched = call_api(stack, "GET", "/v1/users/u_1/preferences", key=tenant.key)
    assert fetched == {"channels": {}, "categories": {}, "quiet_hours": None}


def test_the_export_holds_the_user_preferences_and_suppressions_of_their_addresses(
    stack: Stack, tenant: Tenant
) -> None:
    # given: the user's email is suppressed, as is an address of someone else
    put_user(stack, tenant.key)
    call_api(stack, "PUT", "/v1/users/u_1/preferences", key=tenant.key, body=PREFERENCES)
    for address in ("ADA@example.com", "grace@example.com"):
        call_api(stack, "POST", "/v1/suppressions", key=tenant.key, body={"address": address})

    # when
    status, _, export = call_api(stack, "GET", "/v1/users/u_1/export", key=tenant.key)

    # then
    assert status == 200
    assert export["user"]["email"] == "Ada@example.com"
    assert export["preferences"] == PREFERENCES
    assert export["devices"] == []
    assert [(s["address"], s["reason"]) for s in export["suppressions"]] == [
        ("ada@example.com", "manual")
    ]


def insert_delivery(conn: psycopg.Connection[Any], tenant_id: str, user_id: str) -> str:
    """A sent notification with one delivered email to a user, as dispatch would leave it."""
    notification_id = f"ntf_{user_id}"
    recipients = psycopg.types.json.Jsonb([{"user_id": user_id}, {"email": "someone@example.com"}])
    conn.execute(
        "INSERT INTO notifications (id, tenant_id, status, channels, recipients, content,"
        " recipient_count) VALUES (%s, %s, 'completed', '{email}', %s, '{}', 2)",
        (notification_id, tenant_id, recipients),
    )
    for index, (recipient, address) in enumerate(
        [
            ({"user_id": user_id, "email": "ada@example.com"}, "ada@example.com"),
            ({"email": "someone@example.com"}, "someone@example.com"),
        ]
    ):
        conn.execute(
            "INSERT INTO deliveries (id, tenant_id, notification_id, recipient_index, channel,"
            " recipient, address, status) VALUES (%s, %s, %s, %s, 'email', %s, %s, 'delivered')",
            (
                f"dlv_{user_id}_{index}",
                tenant_id,
                notification_id,
                index,
                psycopg.types.json.Jsonb(recipient),
                address,
            ),
        )
    return notification_id


def test_erasing_a_user_removes_their_data_and_keeps_anonymous_delivery_counts(
    stack: Stack, tenant: Tenant
) -> None:
    # given: a user with preferences, a delivered email, and another user who stays
    put_user(stack, tenant.key)
    put_user(stack, tenant.key, user_id="u_2")
    call_api(stack, "PUT", "/v1/users/u_1/preferences", key=tenant.key, body=PREFERENCES)
    call_api(stack, "PUT", "/v1/users/u_2/preferences", key=tenant.key, body=PREFERENCES)
    conn = stack.db.connection()
    notification_id = insert_delivery(conn, tenant.id, "u_1")

    # when
    status, _, body = call_api(stack, "DELETE", "/v1/users/u_1", key=tenant.key)

    # then
    assert (status, body) == (204, None)
    assert call_api(stack, "GET", "/v1/users/u_1", key=tenant.key)[0] == 404
    assert call_api(stack, "GET", "/v1/users/u_1/export", key=tenant.key)[0] == 404
    deliveries = conn.execute(
        "SELECT recipient, address, status FROM deliveries WHERE notification_id = %s"
        " ORDER BY recipient_index",
        (notification_id,),
    ).fetchall()
    assert deliveries == [
        {"recipient": {"user_id": "<erased>"}, "address": None, "status": "delivered"},
        {
            "recipient": {"email": "someone@example.com"},
            "address": "someone@example.com",
            "status": "delivered",
        },
    ]
    notification = conn.execute(
        "SELECT recipients FROM notifications WHERE id = %s", (notification_id,)
    ).fetchone()
    assert notification == {
        "recipients": [{"user_id": "<erased>"}, {"email": "someone@example.com"}]
    }
    events = conn.execute("SELECT user_id FROM preference_events ORDER BY id").fetchall()
    assert events == [{"user_id": "u_2"}]
    assert call_api(stack, "GET", "/v1/users/u_2", key=tenant.key)[0] == 200


def test_erasing_an_unknown_user_is_404(stack: Stack, tenant: Tenant) -> None:
    status, _, body = call_api(stack, "DELETE", "/v1/users/ghost", key=tenant.key)
    assert (status, body["error"]["code"]) == (404, "NOT_FOUND")


def test_a_user_id_over_255_characters_is_400(stack: Stack, tenant: Tenant) -> None:
    # when
    status, body = put_user(stack, tenant.key, user_id="u" * 256)

    # then
    assert (status, body["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert user_count(stack) == 0
