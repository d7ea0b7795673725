"""Push and web push through `herald dev`, over HTTP only, as the README walks through them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.e2e.conftest import LocalHerald, wait_for

CONTENT = {
    "push": {"title": "Order shipped", "body": "It is on its way.", "badge": 1},
    "web_push": {"title": "Order shipped", "body": "It is on its way.", "url": "https://x.test/o"},
}


def _user_with(herald: LocalHerald, tokens: list[tuple[str, str]], web: list[str]) -> str:
    client = herald.client()
    user_id = f"u_{uuid.uuid4().hex[:10]}"
    assert client.put(f"/v1/users/{user_id}", json={}).status_code == 200
    for platform, token in tokens:
        response = client.post(
            f"/v1/users/{user_id}/devices", json={"platform": platform, "token": token}
        )
        assert response.status_code == 201, response.text
    for behaviour in web:
        subscription = httpx.post(
            f"{herald.url}/_dev/web-push/subscriptions", json={"behaviour": behaviour}
        ).json()
        response = client.post(
            f"/v1/users/{user_id}/devices", json={"platform": "web", "subscription": subscription}
        )
        assert response.status_code == 201, response.text
    return user_id


def _settled(client: httpx.Client, notification_id: str) -> dict[str, Any] | None:
    notification = client.get(f"/v1/notifications/{notification_id}").json()
    statuses = {d["status"] for d in notification["deliveries"]}
    if not statuses or statuses & {"queued", "sending"}:
        return None
    return {d["channel"]: d for d in notification["deliveries"]}


def _send(client: httpx.Client, user_id: str) -> str:
    response = client.post(
        "/v1/notifications", json={"recipients": [{"user_id": user_id}], "content": CONTENT}
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def test_android_ios_and_web_get_it_and_gone_devices_are_skipped_next_time(
    herald: LocalHerald,
) -> None:
    # given
    client = herald.client()
    tag = uuid.uuid4().hex[:8]
    user_id = _user_with(
        herald,
        [("android", f"android-{tag}"), ("ios", f"ios-{tag}"), ("android", f"unregistered-{tag}")],
        ["ok", "gone"],
    )

    # when
    first = _send(client, user_id)
    sent = wait_for(lambda: _settled(client, first))

    # then: sent on both channels; the outbox shows the FCM messages and the decrypted payload
    assert {c: d["status"] for c, d in sent.items()} == {"push": "sent", "web_push": "sent"}
    outbox = httpx.get(f"{herald.url}/_dev/outbox").json()
    ios = next(m for m in outbox if m["to"] == f"ios-{tag}")
    assert ios["payload"]["apns"]["payload"]["aps"]["badge"] == 1
    assert any(m["to"] == f"android-{tag}" for m in outbox)
    devices = client.get(f"/v1/users/{user_id}/devices").json()["items"]
    web = next(d for d in devices if d["endpoint"] and "/ok/" in d["endpoint"])
    decrypted = next(m for m in outbox if m["to"] == web["endpoint"])
    assert decrypted["payload"]["title"] == "Order shipped"
    inactive = {d["token"] or d["endpoint"] for d in devices if not d["active"]}
    assert f"unregistered-{tag}" in inactive and any("/gone/" in e for e in inactive)

    # and a user whose devices are all gone is skipped with no_device
    lost = _user_with(herald, [("ios", f"unregistered-{tag}-2")], ["expired"])
    wait_for(lambda: _settled(client, _send(client, lost)))
    again = _send(client, lost)
    skipped = wait_for(lambda: _settled(client, again))
    assert {c: (d["status"], d["reason"]) for c, d in skipped.items()} == {
        "push": ("skipped", "no_device"),
        "web_push": ("skipped", "no_device"),
    }


def test_a_throttled_token_is_retried(herald: LocalHerald) -> None:
    client = herald.client()
    user_id = _user_with(herald, [("android", f"quota-{uuid.uuid4().hex[:8]}")], [])

    response = client.post(
        "/v1/notifications",
        json={"recipients": [{"user_id": user_id}], "content": {"push": CONTENT["push"]}},
    )
    notification_id = response.json()["id"]

    deferred = wait_for(lambda: _settled(client, notification_id))
    assert deferred["push"]["status"] == "deferred"
    assert "QuotaExceeded" in deferred["push"]["error"]


def test_the_vapid_public_key_and_bad_subscriptions(herald: LocalHerald) -> None:
    key = httpx.get(f"{herald.url}/v1/web-push/vapid-public-key").json()["public_key"]
    assert len(key) == 87
    unknown = httpx.post(f"{herald.url}/_dev/web-push/subscriptions", json={"behaviour": "nope"})
    assert unknown.status_code == 400
    no_key = httpx.post(
        f"{herald.url}/_dev/web-push/subscriptions",
        json={"behaviour": "ok", "application_server_key": "not-a-key"},
    )
    assert no_key.status_code == 400
    no_integration = httpx.get(
        f"{herald.url}/v1/web-push/vapid-public-key", params={"integration_id": "int_" + "0" * 26}
    )
    assert no_integration.status_code == 404


def test_a_simulated_firebase_project_hands_out_its_service_account_and_tokens(
    herald: LocalHerald,
) -> None:
    project = httpx.post(f"{herald.url}/_dev/fcm/projects/acme-app").json()

    assert project["service_account"]["project_id"] == "acme-app"
    assert project["service_account"]["token_uri"].startswith("http://127.0.0.1:")
    assert ":sim.acme-app." in project["registration_token"]
    assert httpx.post(f"{herald.url}/_dev/fcm/projects/Not_A_Project").status_code == 400
