"""Outbound webhooks through `herald dev`: endpoints receive signed events in the dev sink."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.e2e.conftest import LocalHerald, start_herald, wait_for


@pytest.fixture(scope="module")
def quiet_herald(herald_home: Path) -> Iterator[LocalHerald]:
    """A Herald of its own: on the shared one, a late `delivered` of another test's email
    reaches an endpoint of the same tenant, and "one message per delivered email" cannot be
    told apart from it."""
    running = start_herald(herald_home / "webhooks")
    yield running
    if running.process.poll() is None:
        running.stop()


def _sink(herald: LocalHerald, status: int | None = None) -> tuple[str, str]:
    """A fresh sink: (its name, the URL an endpoint posts to)."""
    name = uuid.uuid4().hex[:12]
    query = f"?status={status}" if status else ""
    return name, f"{herald.url}/_dev/webhook-sink/{name}{query}"


def _received(herald: LocalHerald, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = httpx.get(f"{herald.url}/_dev/webhook-sink/{name}").json()[
        "items"
    ]
    return items


def _endpoint(client: httpx.Client, url: str, events: list[str]) -> dict[str, Any]:
    response = client.post("/v1/webhook-endpoints", json={"url": url, "events": events})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _verified(secret: str, item: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = Webhook(secret).verify(item["body"], item["headers"])
    return payload


def test_an_endpoint_gets_one_signed_message_per_delivered_email_and_no_other_type(
    quiet_herald: LocalHerald,
) -> None:
    herald = quiet_herald
    # given
    client = herald.client()
    name, url = _sink(herald)
    endpoint = _endpoint(client, url, ["delivery.delivered"])
    assert endpoint["secret"].startswith("whsec_")
    assert "secret" not in client.get(f"/v1/webhook-endpoints/{endpoint['id']}").json()

    # when
    sent = client.post(
        "/v1/notifications",
        json={
            "recipients": [{"email": "ada@example.com"}, {"email": "grace@example.com"}],
            "content": {"email": {"subject": "Webhooks", "text": "Hello"}},
        },
    ).json()

    # then
    items = wait_for(lambda: len(_received(herald, name)) >= 2 and _received(herald, name))
    payloads = [_verified(endpoint["secret"], item) for item in items]
    assert {p["type"] for p in payloads} == {"delivery.delivered"}
    assert {p["data"]["notification_id"] for p in payloads} == {sent["id"]}
    assert sorted(p["data"]["recipient"]["email"] for p in payloads) == [
        "ada@example.com",
        "grace@example.com",
    ]
    assert set(payloads[0]) == {"type", "timestamp", "data"}
    assert set(payloads[0]["data"]) == {
        "delivery_id",
        "notification_id",
        "channel",
        "status",
        "reason",
        "provider",
        "recipient",
        "at",
    }
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(items[0]["body"], items[0]["headers"])
    # delivery.sent happened too, but this endpoint is not subscribed to it
    client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test")
    wait_for(lambda: len(_received(herald, name)) == 3)
    assert _verified(endpoint["secret"], _received(herald, name)[2])["type"] == "webhook.test"


def test_a_failing_endpoint_is_retried_with_the_same_webhook_id_until_it_succeeds(
    herald: LocalHerald,
) -> None:
    # given: the sink answers 500
    client = herald.client()
    name, failing_url = _sink(herald, status=500)
    endpoint = _endpoint(client, failing_url, ["delivery.failed"])

    # when: a test message is sent, fails twice, then the sink answers 200 again
    client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test")
    wait_for(lambda: len(_received(herald, name)) >= 2)
    patched = client.patch(
        f"/v1/webhook-endpoints/{endpoint['id']}",
        json={"url": failing_url.removesuffix("?status=500")},
    )
    assert patched.status_code == 200

    # then
    def attempts() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = client.get(
            f"/v1/webhook-endpoints/{endpoint['id']}/attempts"
        ).json()["items"]
        return items

    log = wait_for(lambda: (a := attempts()) and a[0]["status_code"] == 200 and a)
    assert len(log) >= 3
    assert {a["status_code"] for a in log[1:]} == {500}
    assert len({a["message_id"] for a in log}) == 1
    assert all(a["next_attempt_at"] for a in log[1:]) and log[0]["next_attempt_at"] is None
    ids = {item["headers"]["webhook-id"] for item in _received(herald, name)}
    assert ids == {log[0]["message_id"]}


def test_an_endpoint_answering_410_is_disabled_and_the_event_is_published(
    herald: LocalHerald,
) -> None:
    # given: one endpoint that is gone, one watching for disabled endpoints
    client = herald.client()
    watcher_name, watcher_url = _sink(herald)
    watcher = _endpoint(client, watcher_url, ["webhook.endpoint_disabled"])
    _, gone_url = _sink(herald, status=410)
    gone = _endpoint(client, gone_url, ["delivery.sent"])

    # when
    client.post(f"/v1/webhook-endpoints/{gone['id']}/test")

    # then
    wait_for(
        lambda: client.get(f"/v1/webhook-endpoints/{gone['id']}").json()["status"] == "disabled"
    )
    assert client.get(f"/v1/webhook-endpoints/{gone['id']}").json()["disabled_reason"] == "gone"
    items = wait_for(lambda: _received(herald, watcher_name))
    event = _verified(watcher["secret"], items[0])
    assert event["type"] == "webhook.endpoint_disabled"
    assert event["data"]["endpoint_id"] == gone["id"]
    assert event["data"]["reason"] == "gone"
    # a disabled endpoint is not tested until enabled again
    assert client.post(f"/v1/webhook-endpoints/{gone['id']}/test").status_code == 409


def test_after_rotation_both_secrets_verify_and_replay_resends_a_time_range(
    herald: LocalHerald,
) -> None:
    # given
    client = herald.client()
    name, url = _sink(herald)
    endpoint = _endpoint(client, url, ["delivery.delivered"])
    since = datetime.now(UTC) - timedelta(seconds=1)
    first = client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test").json()["message_id"]
    wait_for(lambda: len(_received(herald, name)) == 1)

    # when: the secret is rotated and the message replayed
    rotated = client.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret").json()
    replayed = client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/replay", json={"since": since.isoformat()}
    )

    # then
    assert replayed.status_code == 202 and replayed.json() == {"replayed": 1}
    items = wait_for(lambda: len(_received(herald, name)) == 2 and _received(herald, name))
    again = items[1]
    assert again["headers"]["webhook-id"] == first
    assert again["body"] == items[0]["body"]
    assert len(again["headers"]["webhook-signature"].split(" ")) == 2
    assert rotated["secret"] != endpoint["secret"]
    for secret in (endpoint["secret"], rotated["secret"]):
        assert _verified(secret, again)["type"] == "webhook.test"
    # a range with nothing in it resends nothing
    empty = client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/replay",
        json={"since": "2020-01-01T00:00:00Z", "until": "2020-01-02T00:00:00Z"},
    )
    assert empty.json() == {"replayed": 0}


@pytest.mark.parametrize(
    ("method", "path", "body", "params"),
    [
        ("POST", "", {"url": "https://example.com/\x00", "events": ["delivery.sent"]}, None),
        ("POST", "", {"url": "https://example.com/", "events": ["delivery.nope"]}, None),
        ("POST", "", {"url": "https://example.com/", "events": []}, None),
        ("POST", "", {"url": "ftp://example.com/", "events": ["delivery.sent"]}, None),
        ("POST", "", {"url": "http://example.com/", "events": ["delivery.sent"]}, None),
        ("POST", "", {"url": "https://example.com:22/", "events": ["delivery.sent"]}, None),
        ("POST", "", {"url": "https://10.0.0.1/", "events": ["delivery.sent"]}, None),
        ("POST", "", {"url": "https://[::1]/", "events": ["delivery.sent"]}, None),
        ("POST", "", {"url": "https://169.254.169.254/", "events": ["delivery.sent"]}, None),
        ("POST", "", {"url": "http://10.0.0.1/", "events": ["delivery.sent"]}, None),
        (
            "POST",
            "",
            {"url": "https://example.com/", "events": ["delivery.sent"], "description": "\x00"},
            None,
        ),
        ("GET", "", None, {"limit": str(2**70)}),
        ("GET", "", None, {"cursor": "not-base64!"}),
        ("GET", "", None, {"cursor": "AA"}),  # decodes to a NUL
        ("GET", "/whe_%00", None, None),
        ("PATCH", "/{id}", {"enabled": "maybe"}, None),
        ("PATCH", "/{id}", {"url": "https://127.0.0.1/"}, None),
        ("POST", "/{id}/replay", {"since": "yesterday"}, None),
        (
            "POST",
            "/{id}/replay",
            {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
            None,
        ),
        ("POST", "/{id}/replay", {"since": "99999-01-01T00:00:00Z"}, None),
        ("GET", "/{id}/attempts", None, {"cursor": "AA"}),
    ],
)
def test_bad_input_is_a_400_in_the_error_shape(
    herald: LocalHerald,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    params: dict[str, str] | None,
) -> None:
    # given
    client = herald.client()
    _, url = _sink(herald)
    endpoint = _endpoint(client, url, ["delivery.sent"])

    # when
    response = client.request(
        method,
        "/v1/webhook-endpoints" + path.replace("{id}", endpoint["id"]),
        json=body,
        params=params,
    )

    # then
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert client.get(f"/v1/webhook-endpoints/{endpoint['id']}").json()["url"] == url


def test_another_tenants_endpoint_is_a_404_and_unknown_ids_too(herald: LocalHerald) -> None:
    client = herald.client()
    for method, path in (
        ("GET", "/v1/webhook-endpoints/whe_01M8VRCEH91M8T6058PB6NWPHA"),
        ("DELETE", "/v1/webhook-endpoints/whe_01M8VRCEH91M8T6058PB6NWPHA"),
        ("POST", "/v1/webhook-endpoints/whe_01M8VRCEH91M8T6058PB6NWPHA/rotate-secret"),
    ):
        response = client.request(method, path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"


def test_a_webhook_channel_notification_reaches_the_sink_rendered_and_signed(
    herald: LocalHerald,
) -> None:
    # given a user whose webhook URL is a sink, and a template rendering per recipient
    client = herald.client()
    name, url = _sink(herald)
    user_id = f"u_{uuid.uuid4().hex[:8]}"
    assert client.put(
        f"/v1/users/{user_id}", json={"name": "Ada", "webhook_url": url}
    ).status_code in (200, 201)
    key = f"deploy_{uuid.uuid4().hex[:8]}"
    template = client.post(
        "/v1/templates",
        json={
            "key": key,
            "name": "Deploy",
            "channels": {
                "webhook": {"body": {"text": "Hi {{ recipient.name }}, {{ app }} is live"}}
            },
        },
    )
    assert template.status_code == 201, template.text
    secret = client.get("/v1/webhook-channel/secret").json()["secret"]

    # when
    sent = client.post(
        "/v1/notifications",
        json={"recipients": [{"user_id": user_id}], "template": key, "variables": {"app": "shop"}},
    )

    # then
    assert sent.status_code == 202, sent.text
    (item,) = wait_for(lambda: _received(herald, name))
    assert Webhook(secret).verify(item["body"], item["headers"]) == {"text": "Hi Ada, shop is live"}
    notification = wait_for(
        lambda: (
            (n := client.get(f"/v1/notifications/{sent.json()['id']}").json())["status"]
            == "completed"
            and n
        )
    )
    (delivery,) = notification["deliveries"]
    assert (delivery["channel"], delivery["status"]) == ("webhook", "sent")
    assert item["headers"]["webhook-id"] == delivery["id"]
    # the secret is the same on every read
    assert client.get("/v1/webhook-channel/secret").json()["secret"] == secret


def test_a_webhook_channel_url_that_is_gone_fails_the_delivery(herald: LocalHerald) -> None:
    # given an inline send to a URL answering 410
    client = herald.client()
    _, url = _sink(herald, status=410)

    # when
    sent = client.post(
        "/v1/notifications",
        json={"recipients": [{"webhook_url": url}], "content": {"webhook": {"body": {"a": 1}}}},
    ).json()

    # then
    notification = wait_for(
        lambda: (
            (n := client.get(f"/v1/notifications/{sent['id']}").json())["status"] == "failed" and n
        )
    )
    assert [(d["status"], d["error"]) for d in notification["deliveries"]] == [
        ("failed", 'HTTP 410: {"received": true}')
    ]
