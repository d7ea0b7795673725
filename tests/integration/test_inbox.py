"""The in-app inbox through the server API: the channel stores items, the API lists, counts
and changes them, reading moves the delivery to `read`, erasure empties the inbox."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import call_api, run_dispatch, run_in_app_worker, run_pipeline
from tests.integration.test_events import _events, _subscribed_queue


def send_in_app(
    stack: Stack, tenant: Tenant, user_ids: list[str], title: str = "Order shipped", **content: Any
) -> str:
    status, _, body = call_api(
        stack,
        "POST",
        "/v1/notifications",
        key=tenant.key,
        body={
            "recipients": [{"user_id": u} for u in user_ids],
            "content": {"in_app": {"title": title, "body": "It is on its way.", **content}},
        },
    )
    assert status == 202, body
    run_pipeline(stack)
    return str(body["id"])


def inbox(stack: Stack, tenant: Tenant, user_id: str, **query: str) -> dict[str, Any]:
    status, _, body = call_api(
        stack, "GET", f"/v1/users/{user_id}/inbox", key=tenant.key, query=query or None
    )
    assert status == 200, body
    return dict(body)


def titles(stack: Stack, tenant: Tenant, user_id: str, **query: str) -> list[str]:
    return [item["title"] for item in inbox(stack, tenant, user_id, **query)["items"]]


def counts(stack: Stack, tenant: Tenant, user_id: str) -> dict[str, int]:
    status, _, body = call_api(stack, "GET", f"/v1/users/{user_id}/inbox/count", key=tenant.key)
    assert status == 200, body
    return dict(body)


def act(
    stack: Stack, tenant: Tenant, user_id: str, item_id: str, action: str, **kw: Any
) -> tuple[int, Any]:
    status, _, body = call_api(
        stack, "POST", f"/v1/users/{user_id}/inbox/{item_id}/{action}", key=tenant.key, **kw
    )
    return status, body


def item_ids(stack: Stack, tenant: Tenant, user_id: str) -> dict[str, str]:
    """title -> id of every visible item (archived and snoozed included)."""
    return {i["title"]: i["id"] for i in inbox(stack, tenant, user_id, status="all")["items"]}


def test_an_in_app_notification_becomes_an_item_and_its_delivery_is_delivered(
    stack: Stack, tenant: Tenant
) -> None:
    # given / when: a notification with actions, to a user Herald has no record of
    notification_id = send_in_app(
        stack,
        tenant,
        ["u_ada"],
        action_url="https://shop.example.com/orders/42",
        actions=[{"label": "Track", "url": "https://shop.example.com/track/42"}],
        data={"order": 42},
    )

    # then: the item is in her inbox, unread and unseen
    page = inbox(stack, tenant, "u_ada")
    assert page["next_cursor"] is None
    [item] = page["items"]
    assert item["id"].startswith("inb_")
    assert item["notification_id"] == notification_id
    assert (item["title"], item["body"]) == ("Order shipped", "It is on its way.")
    assert item["action_url"] == "https://shop.example.com/orders/42"
    assert item["actions"] == [{"label": "Track", "url": "https://shop.example.com/track/42"}]
    assert item["data"] == {"order": 42}
    assert item["read_at"] is None and item["seen_at"] is None
    assert counts(stack, tenant, "u_ada") == {"unread": 1, "unseen": 1, "total": 1}
    # and the delivery is delivered, the notification completed
    _, _, notification = call_api(
        stack, "GET", f"/v1/notifications/{notification_id}", key=tenant.key
    )
    assert notification["status"] == "completed"
    [delivery] = notification["deliveries"]
    assert (delivery["channel"], delivery["status"], delivery["provider"]) == (
        "in_app",
        "delivered",
        "herald",
    )


def test_a_batch_is_stored_once_even_when_its_message_comes_twice(
    stack: Stack, tenant: Tenant
) -> None:
    # given: 120 users, so three channel messages of at most 50 deliveries
    users = [f"u_{i}" for i in range(120)]
    status, _, _ = call_api(
        stack,
        "POST",
        "/v1/notifications",
        key=tenant.key,
        body={
            "recipients": [{"user_id": u} for u in users],
            "content": {"in_app": {"title": "Hello", "body": "Welcome"}},
        },
    )
    assert status == 202
    run_dispatch(stack)
    messages = stack.drain(stack.resources.in_app.url)
    assert len(messages) == 3

    # when: every message is delivered twice (SQS is at-least-once)
    for message in messages + messages:
        stack.sqs().send_message(QueueUrl=stack.resources.in_app.url, MessageBody=message["Body"])
    run_in_app_worker(stack)

    # then: each user has exactly one item
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        rows = conn.execute(
            "SELECT user_id, count(*) FROM inbox_items WHERE tenant_id = %s GROUP BY user_id",
            (tenant.id,),
        ).fetchall()
    assert sorted(r[0] for r in rows) == sorted(users)
    assert {r[1] for r in rows} == {1}


def test_reading_marks_the_delivery_read_and_publishes_delivery_read(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    notification_id = send_in_app(stack, tenant, ["u_ada"])
    events = _subscribed_queue(stack)
    [item_id] = item_ids(stack, tenant, "u_ada").values()

    # when: read twice
    first = act(stack, tenant, "u_ada", item_id, "read")
    second = act(stack, tenant, "u_ada", item_id, "read")

    # then: the item is read and seen, the delivery read, and one event published
    assert first[0] == second[0] == 200
    assert first[1]["read_at"] is not None and first[1]["seen_at"] is not None
    assert second[1]["read_at"] == first[1]["read_at"]
    _, _, notification = call_api(
        stack, "GET", f"/v1/notifications/{notification_id}", key=tenant.key
    )
    [delivery] = notification["deliveries"]
    assert delivery["status"] == "read"
    assert [e["status"] for e in delivery["events"]][-1] == "read"
    published = [e for e in _events(stack, events) if e["type"] == "delivery.read"]
    assert len(published) == 1
    assert published[0]["delivery_id"] == delivery["id"]
    assert published[0]["notification_id"] == notification_id
    assert published[0]["channel"] == "in_app"


def test_counts_follow_every_change(stack: Stack, tenant: Tenant) -> None:
    # given: three items
    for title in ("one", "two", "three"):
        send_in_app(stack, tenant, ["u_ada"], title=title)
    ids = item_ids(stack, tenant, "u_ada")
    assert counts(stack, tenant, "u_ada") == {"unread": 3, "unseen": 3, "total": 3}

    # when / then
    assert act(stack, tenant, "u_ada", ids["one"], "seen")[0] == 200
    assert counts(stack, tenant, "u_ada") == {"unread": 3, "unseen": 2, "total": 3}
    assert act(stack, tenant, "u_ada", ids["one"], "read")[0] == 200
    assert counts(stack, tenant, "u_ada") == {"unread": 2, "unseen": 2, "total": 3}
    assert act(stack, tenant, "u_ada", ids["one"], "unread")[0] == 200
    assert counts(stack, tenant, "u_ada") == {"unread": 3, "unseen": 2, "total": 3}
    assert act(stack, tenant, "u_ada", ids["two"], "archive")[0] == 200
    assert counts(stack, tenant, "u_ada") == {"unread": 2, "unseen": 1, "total": 2}
    assert titles(stack, tenant, "u_ada") == ["three", "one"]
    assert titles(stack, tenant, "u_ada", status="archived") == ["two"]
    assert act(stack, tenant, "u_ada", ids["two"], "unarchive")[0] == 200
    assert counts(stack, tenant, "u_ada") == {"unread": 3, "unseen": 2, "total": 3}

    until = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    status, snoozed = act(stack, tenant, "u_ada", ids["three"], "snooze", body={"until": until})
    assert status == 200 and snoozed["snoozed_until"] is not None
    assert counts(stack, tenant, "u_ada") == {"unread": 2, "unseen": 1, "total": 2}
    assert titles(stack, tenant, "u_ada", status="snoozed") == ["three"]

    status, _, _ = call_api(stack, "DELETE", f"/v1/users/u_ada/inbox/{ids['one']}", key=tenant.key)
    assert status == 204
    assert counts(stack, tenant, "u_ada") == {"unread": 1, "unseen": 1, "total": 1}


def test_a_snoozed_item_comes_back_unread_when_its_snooze_ends(
    stack: Stack, tenant: Tenant
) -> None:
    # given: a read item, snoozed
    send_in_app(stack, tenant, ["u_ada"])
    [item_id] = item_ids(stack, tenant, "u_ada").values()
    act(stack, tenant, "u_ada", item_id, "read")
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert act(stack, tenant, "u_ada", item_id, "snooze", body={"until": until})[0] == 200
    assert counts(stack, tenant, "u_ada")["total"] == 0

    # when: the snooze ends
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            "UPDATE inbox_items SET snoozed_until = now() - interval '1 second' WHERE id = %s",
            (item_id,),
        )

    # then: it is back, unread
    assert counts(stack, tenant, "u_ada") == {"unread": 1, "unseen": 1, "total": 1}
    [item] = inbox(stack, tenant, "u_ada")["items"]
    assert item["read_at"] is None


def test_read_all_and_seen_all_change_only_what_is_shown(stack: Stack, tenant: Tenant) -> None:
    # given: three items, one archived; another user's item
    for title in ("one", "two", "three"):
        send_in_app(stack, tenant, ["u_ada"], title=title)
    send_in_app(stack, tenant, ["u_bob"], title="bob's")
    ids = item_ids(stack, tenant, "u_ada")
    act(stack, tenant, "u_ada", ids["one"], "archive")

    # when
    seen = call_api(stack, "POST", "/v1/users/u_ada/inbox/seen-all", key=tenant.key)
    # then
    assert (seen[0], seen[2]) == (200, {"changed": 2})
    assert counts(stack, tenant, "u_ada") == {"unread": 2, "unseen": 0, "total": 2}

    # when
    read = call_api(stack, "POST", "/v1/users/u_ada/inbox/read-all", key=tenant.key)
    again = call_api(stack, "POST", "/v1/users/u_ada/inbox/read-all", key=tenant.key)
    # then: the archived item and Bob's are untouched
    assert (read[2], again[2]) == ({"changed": 2}, {"changed": 0})
    assert counts(stack, tenant, "u_ada") == {"unread": 0, "unseen": 0, "total": 2}
    archived = inbox(stack, tenant, "u_ada", status="archived")["items"]
    assert archived[0]["read_at"] is None
    assert counts(stack, tenant, "u_bob") == {"unread": 1, "unseen": 1, "total": 1}


def test_expired_items_leave_lists_and_counts(stack: Stack, tenant: Tenant) -> None:
    # given: an item that expires (later: a loaded machine may take seconds to list it),
    # another that does not
    soon = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    send_in_app(stack, tenant, ["u_ada"], title="flash sale", expires_at=soon)
    send_in_app(stack, tenant, ["u_ada"], title="order shipped")
    flash = item_ids(stack, tenant, "u_ada")["flash sale"]

    # when: it expires
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            "UPDATE inbox_items SET expires_at = now() - interval '1 second' WHERE id = %s",
            (flash,),
        )

    # then
    assert titles(stack, tenant, "u_ada", status="all") == ["order shipped"]
    assert counts(stack, tenant, "u_ada") == {"unread": 1, "unseen": 1, "total": 1}
    assert act(stack, tenant, "u_ada", flash, "read")[0] == 404


def test_lists_filter_by_status_and_page_with_a_cursor(stack: Stack, tenant: Tenant) -> None:
    # given: five items, the second read
    for n in range(5):
        send_in_app(stack, tenant, ["u_ada"], title=f"item {n}")
    act(stack, tenant, "u_ada", item_ids(stack, tenant, "u_ada")["item 1"], "read")

    # when: pages of two, newest first
    seen: list[str] = []
    cursor = None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = inbox(stack, tenant, "u_ada", **query)
        seen += [i["title"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    # then
    assert seen == ["item 4", "item 3", "item 2", "item 1", "item 0"]
    assert titles(stack, tenant, "u_ada", status="read") == ["item 1"]
    assert titles(stack, tenant, "u_ada", status="unread") == [
        "item 4",
        "item 3",
        "item 2",
        "item 0",
    ]
    assert titles(stack, tenant, "u_ada", status="unseen") == [
        "item 4",
        "item 3",
        "item 2",
        "item 0",
    ]


def test_a_template_renders_in_app_content_per_recipient(stack: Stack, tenant: Tenant) -> None:
    # given
    status, _, body = call_api(
        stack,
        "POST",
        "/v1/templates",
        key=tenant.key,
        body={
            "key": "order_shipped",
            "name": "Order shipped",
            "channels": {
                "in_app": {
                    "title": "Order {{ order_id }} shipped",
                    "body": "Hi {{ recipient.user_id }}",
                    "action_url": "/orders/{{ order_id }}",
                    "actions": [{"label": "Track {{ order_id }}", "url": "/track/{{ order_id }}"}],
                }
            },
        },
    )
    assert status == 201, body

    # when
    status, _, body = call_api(
        stack,
        "POST",
        "/v1/notifications",
        key=tenant.key,
        body={
            "recipients": [{"user_id": "u_ada"}],
            "template": "order_shipped",
            "variables": {"order_id": "A-42"},
        },
    )
    assert status == 202, body
    run_pipeline(stack)

    # then
    [item] = inbox(stack, tenant, "u_ada")["items"]
    assert (item["title"], item["body"], item["action_url"]) == (
        "Order A-42 shipped",
        "Hi u_ada",
        "/orders/A-42",
    )
    assert item["actions"] == [{"label": "Track A-42", "url": "/track/A-42"}]


def test_a_recipient_without_a_user_id_is_skipped(stack: Stack, tenant: Tenant) -> None:
    # given / when
    status, _, body = call_api(
        stack,
        "POST",
        "/v1/notifications",
        key=tenant.key,
        body={
            "recipients": [{"email": "ada@example.com"}],
            "content": {"in_app": {"title": "Hi", "body": "there"}},
        },
    )
    assert status == 202
    run_pipeline(stack)

    # then
    _, _, notification = call_api(stack, "GET", f"/v1/notifications/{body['id']}", key=tenant.key)
    [delivery] = notification["deliveries"]
    assert (delivery["status"], delivery["reason"]) == ("skipped", "no_address")


@pytest.mark.parametrize(
    "content",
    [
        {"title": "x", "body": "y", "action_url": "javascript:alert(1)"},
        {"title": "x", "body": "y", "actions": [{"label": "a", "url": "data:text/html,hi"}]},
        {"title": "x", "body": "y", "actions": [{"label": "a", "url": "/a"}] * 4},
        {"title": "x", "body": "y", "expires_at": "2030-01-01T00:00:00"},
        {"title": "a\u0000b", "body": "y"},
        {"title": "x", "body": "y", "data": {"k": "\u0000"}},
        {"title": "x", "body": "y", "expires_at": "99999-01-01T00:00:00Z"},
    ],
    ids=["javascript-url", "data-url", "four-actions", "naive-expiry", "nul", "nul-data", "year"],
)
def test_unsafe_or_malformed_in_app_content_is_refused(
    stack: Stack, tenant: Tenant, content: dict[str, Any]
) -> None:
    status, _, body = call_api(
        stack,
        "POST",
        "/v1/notifications",
        key=tenant.key,
        body={"recipients": [{"user_id": "u_ada"}], "content": {"in_app": content}},
    )
    assert status == 400, body
    assert body["error"]["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    "case",
    [
        ("GET", "/v1/users/u_ada/inbox", {"cursor": "not a cursor!"}, None, 400),
        ("GET", "/v1/users/u_ada/inbox", {"cursor": "AA"}, None, 400),
        ("GET", "/v1/users/u_ada/inbox", {"limit": "99999999999999999999999"}, None, 400),
        ("GET", "/v1/users/u_ada/inbox", {"limit": "0"}, None, 400),
        ("GET", "/v1/users/u_ada/inbox", {"status": "sideways"}, None, 400),
        ("GET", "/v1/users/u%00ada/inbox", None, None, 400),
        ("GET", "/v1/users/u%00ada/inbox/count", None, None, 400),
        ("POST", "/v1/users/u_ada/inbox/inb_nope/read", None, None, 404),
        ("POST", "/v1/users/u_ada/inbox/inb_%00/read", None, None, 400),
        ("POST", "/v1/users/u_ada/inbox/inb_01ARZ3NDEKTSV4RRFFQ69G5FAV/fly", None, None, 400),
        ("DELETE", "/v1/users/u_ada/inbox/inb_01ARZ3NDEKTSV4RRFFQ69G5FAV", None, None, 404),
        (
            "POST",
            "/v1/users/u_ada/inbox/inb_01ARZ3NDEKTSV4RRFFQ69G5FAV/snooze",
            None,
            {"until": "2020-01-01T00:00:00Z"},
            422,
        ),
        (
            "POST",
            "/v1/users/u_ada/inbox/inb_01ARZ3NDEKTSV4RRFFQ69G5FAV/snooze",
            None,
            {"until": "9999-12-31T00:00:00Z"},
            422,
        ),
        (
            "POST",
            "/v1/users/u_ada/inbox/inb_01ARZ3NDEKTSV4RRFFQ69G5FAV/snooze",
            None,
            {"until": "tomorrow"},
            400,
        ),
        (
            "POST",
            "/v1/users/u_ada/inbox/inb_01ARZ3NDEKTSV4RRFFQ69G5FAV/snooze",
            None,
            {"until": "2030-01-01T00:00:00Z", "extra": 1},
            400,
        ),
        ("PUT", "/v1/inbox/settings", None, {"allowed_origins": ["https://a.example/path"]}, 400),
        ("PUT", "/v1/inbox/settings", None, {"allowed_origins": ["https://a\u0000.example"]}, 400),
    ],
)
def test_bad_input_is_a_4xx_in_the_error_shape(
    stack: Stack, tenant: Tenant, case: tuple[str, str, dict[str, str] | None, Any, int]
) -> None:
    method, path, query, body, expected = case
    # given: an item exists, and its counts
    send_in_app(stack, tenant, ["u_ada"])
    before = counts(stack, tenant, "u_ada")

    # when
    status, _, answer = call_api(stack, method, path, key=tenant.key, query=query, body=body)

    # then
    assert status == expected, answer
    assert set(answer) == {"error", "request_id"}
    assert answer["error"]["code"] in ("VALIDATION_ERROR", "NOT_FOUND", "UNPROCESSABLE")
    assert counts(stack, tenant, "u_ada") == before


def test_the_export_lists_the_users_inbox(stack: Stack, tenant: Tenant) -> None:
    # given
    call_api(stack, "PUT", "/v1/users/u_ada", key=tenant.key, body={"name": "Ada"})
    send_in_app(stack, tenant, ["u_ada", "u_bob"])

    # when
    status, _, export = call_api(stack, "GET", "/v1/users/u_ada/export", key=tenant.key)

    # then: her item, and nobody else's
    assert status == 200
    assert [item["id"] for item in export["inbox_items"]] == list(
        item_ids(stack, tenant, "u_ada").values()
    )
    assert len(export["inbox_items"]) == 1


def test_erasing_a_user_erases_their_inbox(stack: Stack, tenant: Tenant) -> None:
    # given: one user with a profile, one known only by their in-app items
    call_api(stack, "PUT", "/v1/users/u_ada", key=tenant.key, body={"name": "Ada"})
    send_in_app(stack, tenant, ["u_ada", "u_ghost", "u_bob"])

    # when
    erased = [
        call_api(stack, "DELETE", f"/v1/users/{u}", key=tenant.key)[0] for u in ("u_ada", "u_ghost")
    ]

    # then
    assert erased == [204, 204]
    assert counts(stack, tenant, "u_ada")["total"] == 0
    assert counts(stack, tenant, "u_ghost")["total"] == 0
    assert counts(stack, tenant, "u_bob")["total"] == 1
    assert call_api(stack, "DELETE", "/v1/users/u_ghost", key=tenant.key)[0] == 404


def test_another_tenants_key_sees_nothing(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given
    send_in_app(stack, tenant, ["u_ada"])
    [item_id] = item_ids(stack, tenant, "u_ada").values()

    # when / then: the same user id under another tenant is another user
    assert counts(stack, other_tenant, "u_ada")["total"] == 0
    assert inbox(stack, other_tenant, "u_ada")["items"] == []
    assert act(stack, other_tenant, "u_ada", item_id, "read")[0] == 404
    assert (
        call_api(stack, "DELETE", f"/v1/users/u_ada/inbox/{item_id}", key=other_tenant.key)[0]
        == 404
    )
    assert counts(stack, tenant, "u_ada") == {"unread": 1, "unseen": 1, "total": 1}
