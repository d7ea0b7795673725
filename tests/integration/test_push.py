"""Push and web push end to end through the real handlers: dispatch, the workers with the
real `firebase-admin` and `pywebpush` libraries, and the simulator behind them."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import (
    call_api,
    run_dispatch,
    run_pipeline,
    run_push_worker,
)

PUSH = {
    "title": "Your order shipped",
    "body": "It is on its way.",
    "data": {"order_id": "123"},
    "badge": 3,
    "sound": "default",
    "ttl_seconds": 3600,
    "collapse_key": "order-123",
}
WEB_PUSH = {
    "title": "Your order shipped",
    "body": "It is on its way.",
    "url": "https://shop.example.com/orders/123",
    "icon": "https://shop.example.com/icon.png",
    "data": {"order_id": 123},
    "urgency": "high",
    "topic": "order-123",
}


def user_with_devices(
    stack: Stack, key: str, user_id: str, tokens: list[tuple[str, str]], web: list[str]
) -> list[dict[str, Any]]:
    """A user with FCM tokens [(platform, token)] and simulator subscriptions [behaviour]."""
    assert call_api(stack, "PUT", f"/v1/users/{user_id}", key=key, body={})[0] == 200
    bodies: list[dict[str, Any]] = [{"platform": p, "token": t} for p, t in tokens]
    bodies += [
        {"platform": "web", "subscription": stack.simulator.create_web_push_subscription(b)}
        for b in web
    ]
    devices = []
    for body in bodies:
        status, _, device = call_api(
            stack, "POST", f"/v1/users/{user_id}/devices", key=key, body=body
        )
        assert status == 201, device
        devices.append(device)
    return devices


def send(stack: Stack, key: str, user_id: str, **content: Any) -> str:
    status, _, accepted = call_api(
        stack,
        "POST",
        "/v1/notifications",
        key=key,
        body={
            "recipients": [{"user_id": user_id}],
            "content": content or {"push": PUSH, "web_push": WEB_PUSH},
        },
    )
    assert status == 202, accepted
    return str(accepted["id"])


def deliveries(stack: Stack, key: str, notification_id: str) -> dict[str, dict[str, Any]]:
    _, _, notification = call_api(stack, "GET", f"/v1/notifications/{notification_id}", key=key)
    return {d["channel"]: d for d in notification["deliveries"]}


def device_states(stack: Stack, key: str, user_id: str) -> dict[str, tuple[bool, str | None]]:
    _, _, listed = call_api(stack, "GET", f"/v1/users/{user_id}/devices", key=key)
    return {
        d["token"] or d["endpoint"]: (d["active"], d["deactivated_reason"]) for d in listed["items"]
    }


def test_a_user_gets_the_notification_on_android_ios_and_the_web(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    devices = user_with_devices(
        stack, tenant.key, "u_1", [("android", "android-tok"), ("ios", "ios-tok")], ["ok"]
    )

    # when
    notification_id = send(stack, tenant.key, "u_1")
    run_pipeline(stack)

    # then: both deliveries sent, each device's result in the history
    sent = deliveries(stack, tenant.key, notification_id)
    assert {c: (d["status"], d["provider"]) for c, d in sent.items()} == {
        "push": ("sent", "fcm"),
        "web_push": ("sent", "web_push"),
    }
    outbox = {entry["to"]: entry for entry in stack.simulator.outbox.list()}
    assert set(outbox) == {"android-tok", "ios-tok", devices[2]["endpoint"]}
    # the FCM message, as firebase-admin built it
    fcm = outbox["ios-tok"]["payload"]
    assert fcm["notification"] == {"title": PUSH["title"], "body": PUSH["body"]}
    assert fcm["data"] == {"order_id": "123"}
    assert fcm["android"] == {
        "collapse_key": "order-123",
        "priority": "high",
        "ttl": "3600s",
        "notification": {"sound": "default"},
    }
    assert fcm["apns"]["headers"]["apns-priority"] == "10"
    assert fcm["apns"]["headers"]["apns-push-type"] == "alert"
    assert int(fcm["apns"]["headers"]["apns-expiration"]) > 0
    assert fcm["apns"]["payload"]["aps"] == {
        "alert": {"title": PUSH["title"], "body": PUSH["body"]},
        "badge": 3,
        "sound": "default",
    }
    # the web push payload, as the simulator decrypted it with the subscription's key
    web = outbox[devices[2]["endpoint"]]
    assert web["payload"] == {
        "title": WEB_PUSH["title"],
        "body": WEB_PUSH["body"],
        "url": WEB_PUSH["url"],
        "icon": WEB_PUSH["icon"],
        "data": {"order_id": 123},
    }
    assert web["headers"] == {"ttl": "86400", "urgency": "high", "topic": "order-123"}
    history = (
        stack.db.connection()
        .execute(
            "SELECT e.detail FROM delivery_events e JOIN deliveries d ON d.id = e.delivery_id"
            " WHERE d.notification_id = %s AND d.channel = 'push' AND e.status = 'sent'",
            (notification_id,),
        )
        .fetchone()
    )
    assert history is not None
    assert sorted((t["device_id"], t["status"]) for t in history["detail"]["targets"]) == sorted(
        [(devices[0]["id"], "accepted"), (devices[1]["id"], "accepted")]
    )


def test_gone_devices_are_deactivated_and_skipped_next_time(stack: Stack, tenant: Tenant) -> None:
    # given: a token FCM no longer knows, subscriptions the browser dropped (410) or lost (404)
    devices = user_with_devices(
        stack, tenant.key, "u_1", [("android", "unregistered-1")], ["gone", "expired"]
    )

    # when
    first = send(stack, tenant.key, "u_1")
    run_pipeline(stack)

    # then: nothing accepted: failed, and every device is deactivated
    failed = deliveries(stack, tenant.key, first)
    assert {c: (d["status"], d["reason"]) for c, d in failed.items()} == {
        "push": ("failed", "unregistered"),
        "web_push": ("failed", "unregistered"),
    }
    assert set(device_states(stack, tenant.key, "u_1").values()) == {(False, "unregistered")}
    assert len(devices) == 3

    # and the next send skips the user: no device left
    second = send(stack, tenant.key, "u_1")
    run_pipeline(stack)
    skipped = deliveries(stack, tenant.key, second)
    assert {c: (d["status"], d["reason"]) for c, d in skipped.items()} == {
        "push": ("skipped", "no_device"),
        "web_push": ("skipped", "no_device"),
    }


def test_one_accepted_device_is_enough_and_the_gone_one_is_deactivated(
    stack: Stack, tenant: Tenant
) -> None:
    user_with_devices(
        stack, tenant.key, "u_1", [("android", "good-tok"), ("ios", "unregistered-2")], []
    )

    notification_id = send(stack, tenant.key, "u_1", push=PUSH)
    run_pipeline(stack)

    assert deliveries(stack, tenant.key, notification_id)["push"]["status"] == "sent"
    assert device_states(stack, tenant.key, "u_1") == {
        "good-tok": (True, None),
        "unregistered-2": (False, "unregistered"),
    }


def test_a_user_without_devices_is_skipped_with_no_device(stack: Stack, tenant: Tenant) -> None:
    assert call_api(stack, "PUT", "/v1/users/u_1", key=tenant.key, body={})[0] == 200

    notification_id = send(stack, tenant.key, "u_1")
    run_pipeline(stack)

    skipped = deliveries(stack, tenant.key, notification_id)
    assert {c: (d["status"], d["reason"]) for c, d in skipped.items()} == {
        "push": ("skipped", "no_device"),
        "web_push": ("skipped", "no_device"),
    }
    assert stack.simulator.outbox.list() == []


def test_a_throttled_token_is_retried_after_retry_after(stack: Stack, tenant: Tenant) -> None:
    user_with_devices(stack, tenant.key, "u_1", [("android", "quota-1")], [])

    notification_id = send(stack, tenant.key, "u_1", push=PUSH)
    run_dispatch(stack)
    run_push_worker(stack)

    # then: deferred, with the retry on the queue no sooner than FCM's Retry-After (1 s)
    push = deliveries(stack, tenant.key, notification_id)["push"]
    assert (push["status"], push["attempts"]) == ("deferred", 1)
    assert "QuotaExceededError" in push["error"]
    row = (
        stack.db.connection()
        .execute(
            "SELECT next_attempt_at - updated_at AS wait FROM deliveries WHERE id = %s",
            (push["id"],),
        )
        .fetchone()
    )
    assert row is not None and row["wait"].total_seconds() >= 0.9


def test_web_push_failures_follow_the_push_service(stack: Stack, tenant: Tenant) -> None:
    # given: a throttled subscription and one refusing the size
    user_with_devices(stack, tenant.key, "u_1", [], ["ratelimit"])
    user_with_devices(stack, tenant.key, "u_2", [], ["toobig"])

    # when
    throttled = send(stack, tenant.key, "u_1", web_push=WEB_PUSH)
    too_big = send(stack, tenant.key, "u_2", web_push=WEB_PUSH)
    run_pipeline(stack)

    # then: 429 is retried, 413 fails without deactivating the subscription
    assert deliveries(stack, tenant.key, throttled)["web_push"]["status"] == "deferred"
    failed = deliveries(stack, tenant.key, too_big)["web_push"]
    assert (failed["status"], failed["reason"]) == ("failed", "rejected")
    assert list(device_states(stack, tenant.key, "u_2").values()) == [(True, None)]


def test_inline_content_over_the_provider_limits_is_refused(stack: Stack, tenant: Tenant) -> None:
    big = {"title": "t", "body": "b", "data": {"blob": "x" * 4100}}
    web_big = {"title": "t", "body": "x" * 3990}
    for content in ({"push": big}, {"web_push": web_big}):
        status, _, body = call_api(
            stack,
            "POST",
            "/v1/notifications",
            key=tenant.key,
            body={"recipients": [{"user_id": "u_1"}], "content": content},
        )
        assert status == 422, body
        assert "bytes" in body["error"]["message"]


def test_a_template_rendering_over_the_fcm_limit_fails_that_delivery(
    stack: Stack, tenant: Tenant
) -> None:
    # given: a template whose size depends on a variable
    template = {
        "key": "digest",
        "name": "Digest",
        "channels": {"push": {"title": "Digest", "body": "News", "data": {"text": "{{ text }}"}}},
    }
    assert call_api(stack, "POST", "/v1/templates", key=tenant.key, body=template)[0] == 201
    user_with_devices(stack, tenant.key, "u_1", [("android", "tok")], [])
    status, _, preview = call_api(
        stack,
        "POST",
        "/v1/templates/digest/preview",
        key=tenant.key,
        body={"channel": "push", "variables": {"text": "y" * 4100}},
    )
    assert status == 200
    assert preview["payload"]["fits"] is False and preview["payload"]["limit_bytes"] == 4096

    # when
    status, _, accepted = call_api(
        stack,
        "POST",
        "/v1/notifications",
        key=tenant.key,
        body={
            "recipients": [{"user_id": "u_1"}],
            "template": "digest",
            "variables": {"text": "y" * 4100},
        },
    )
    run_pipeline(stack)

    # then
    push = deliveries(stack, tenant.key, accepted["id"])["push"]
    assert (push["status"], push["reason"]) == ("failed", "render_failed")
    assert "4,096 bytes" in push["error"]


def test_nul_characters_in_push_content_are_a_400(stack: Stack, tenant: Tenant) -> None:
    for content in (
        {"push": {"title": "a\u0000", "body": "b"}},
        {"web_push": {"title": "a", "body": "b", "data": {"k\u0000": 1}}},
    ):
        status, _, body = call_api(
            stack,
            "POST",
            "/v1/notifications",
            key=tenant.key,
            body={"recipients": [{"user_id": "u_1"}], "content": content},
        )
        assert status == 400, body
        assert body["error"]["code"] == "VALIDATION_ERROR"
    row = stack.db.connection().execute("SELECT count(*) AS n FROM notifications").fetchone()
    assert row is not None and row["n"] == 0
