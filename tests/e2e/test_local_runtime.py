"""Through HTTP only: send, watch the outbox, see the status become delivered."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import LocalHerald, start_herald, wait_for


def _email(to: list[str], subject: str | None = None, **extra: Any) -> dict[str, Any]:
    subject = subject or f"Order {uuid.uuid4().hex[:8]} shipped"
    return {
        "recipients": [{"email": a} for a in to],
        "content": {
            "email": {"subject": subject, "text": "On its way.", "html": "<b>On its way.</b>"}
        },
        **extra,
    }


def _outbox_for(herald: LocalHerald, subject: str) -> list[dict[str, Any]]:
    return [m for m in httpx.get(f"{herald.url}/_dev/outbox").json() if m["subject"] == subject]


def _delivery_statuses(client: httpx.Client, notification_id: str) -> list[str]:
    return [
        d["status"] for d in client.get(f"/v1/notifications/{notification_id}").json()["deliveries"]
    ]


def test_a_sent_email_reaches_the_outbox_and_becomes_delivered(herald: LocalHerald) -> None:
    # given
    client = herald.client()
    body = _email(["ada@example.com", "grace@example.com"])

    # when
    response = client.post("/v1/notifications", json=body)

    # then
    assert response.status_code == 202
    notification_id = response.json()["id"]
    subject = body["content"]["email"]["subject"]
    received = wait_for(
        lambda: len(_outbox_for(herald, subject)) == 2 and _outbox_for(herald, subject)
    )
    assert sorted(m["to"] for m in received) == ["ada@example.com", "grace@example.com"]
    assert {(m["text"], m["html"]) for m in received} == {("On its way.", "<b>On its way.</b>")}
    wait_for(lambda: _delivery_statuses(client, notification_id) == ["delivered", "delivered"])
    notification = client.get(f"/v1/notifications/{notification_id}").json()
    assert notification["status"] == "completed"
    events = [e["status"] for e in notification["deliveries"][0]["events"]]
    assert events == ["queued", "sending", "sent", "delivered"]


def test_a_bounce_reported_by_the_provider_is_recorded(herald: LocalHerald) -> None:
    client = herald.client()
    notification_id = client.post("/v1/notifications", json=_email(["bounce@example.com"])).json()[
        "id"
    ]
    wait_for(lambda: _delivery_statuses(client, notification_id) == ["bounced"])


def test_a_send_three_seconds_ahead_arrives_after_three_seconds(herald: LocalHerald) -> None:
    # given
    client = herald.client()
    send_at = datetime.now(UTC) + timedelta(seconds=3)
    body = _email(["ada@example.com"], send_at=send_at.isoformat())
    subject = body["content"]["email"]["subject"]

    # when
    response = client.post("/v1/notifications", json=body)

    # then
    assert response.status_code == 202 and response.json()["status"] == "scheduled"
    while datetime.now(UTC) < send_at - timedelta(milliseconds=300):
        assert _outbox_for(herald, subject) == [], "delivered before its send_at"
        time.sleep(0.2)
    wait_for(lambda: _outbox_for(herald, subject), timeout=15)
    assert datetime.now(UTC) >= send_at


def test_an_idempotent_replay_returns_the_same_notification(herald: LocalHerald) -> None:
    # given
    client = herald.client()
    body = _email(["ada@example.com"])
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    first = client.post("/v1/notifications", json=body, headers=headers)

    # when
    replay = client.post("/v1/notifications", json=body, headers=headers)
    reused = client.post("/v1/notifications", json=_email(["eve@example.com"]), headers=headers)

    # then
    assert replay.status_code == 202 and replay.json()["id"] == first.json()["id"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "CONFLICT"
    subject = body["content"]["email"]["subject"]
    wait_for(lambda: _outbox_for(herald, subject))
    time.sleep(0.5)
    assert len(_outbox_for(herald, subject)) == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (
            {
                "recipients": [{"email": "nope"}],
                "content": {"email": {"subject": "s", "text": "t"}},
            },
            400,
            "VALIDATION_ERROR",
        ),
        (
            {
                "recipients": [{"email": "a@example.com"}],
                "channels": ["carrier-pigeon"],
                "content": {"email": {"subject": "s", "text": "t"}},
            },
            400,
            "VALIDATION_ERROR",
        ),
        (
            {"recipients": [], "content": {"email": {"subject": "s", "text": "t"}}},
            400,
            "VALIDATION_ERROR",
        ),
        (
            {
                "recipients": [{"email": "a@example.com"}],
                "content": {"email": {"subject": "s" * 999, "text": "t"}},
            },
            400,
            "VALIDATION_ERROR",
        ),
        (
            {
                "recipients": [{"email": "a@example.com"}],
                "content": {"email": {"subject": "s", "text": "t" * 1_100_000}},
            },
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            {
                "recipients": [{"email": "a@example.com"}],
                "send_at": "2020-01-01T00:00:00Z",
                "content": {"email": {"subject": "s", "text": "t"}},
            },
            422,
            "UNPROCESSABLE",
        ),
    ],
    ids=[
        "invalid-email",
        "unknown-channel",
        "no-recipients",
        "long-subject",
        "over-1mb",
        "past-send-at",
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    herald: LocalHerald, body: dict[str, Any], status: int, code: str
) -> None:
    # given
    client = herald.client()
    before = client.get("/v1/notifications", params={"limit": 500}).json()["items"]

    # when
    response = client.post(
        "/v1/notifications", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
    )

    # then
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert client.get("/v1/notifications", params={"limit": 500}).json()["items"] == before


def test_without_a_key_the_api_is_401(herald: LocalHerald) -> None:
    response = httpx.post(f"{herald.url}/v1/notifications", json=_email(["a@example.com"]))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


def test_ctrl_c_stops_cleanly_and_a_restart_keeps_the_data(herald_home: Any) -> None:
    # given a notification accepted by a first run, and one scheduled a few seconds ahead
    first = start_herald(herald_home / "restart")
    accepted = first.client().post("/v1/notifications", json=_email(["ada@example.com"])).json()
    send_at = (datetime.now(UTC) + timedelta(seconds=6)).isoformat()
    later = _email(["grace@example.com"], send_at=send_at)
    scheduled = first.client().post("/v1/notifications", json=later).json()

    # when it is stopped with Ctrl-C and started again on the same data
    exit_code = first.stop()
    second = start_herald(herald_home / "restart")
    try:
        found = second.client().get(f"/v1/notifications/{accepted['id']}")
        # the scheduled send still goes out, though moto forgot its schedule: restored at
        # start, not found by the sweeper (whose grace is 2 minutes), so well within one
        wait_for(lambda: _outbox_for(second, later["content"]["email"]["subject"]), timeout=60)
        assert datetime.now(UTC) < datetime.fromisoformat(send_at) + timedelta(seconds=60)
        status = second.client().get(f"/v1/notifications/{scheduled['id']}").json()["status"]
    finally:
        second.stop()

    # then
    assert exit_code == 0
    assert found.status_code == 200 and found.json()["id"] == accepted["id"]
    assert status == "completed"
