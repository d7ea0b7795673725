"""Through HTTP only, against `herald dev`: a fallback channel standing in for a refused one,
and the dead-letter queues listed and redriven."""

from __future__ import annotations

import random
from typing import Any

import httpx
from herald.aws.sqs import DELIVERED_CHANNELS

from tests.e2e.conftest import LocalHerald, wait_for


def _deliveries(client: httpx.Client, notification_id: str) -> dict[str, dict[str, Any]]:
    body = client.get(f"/v1/notifications/{notification_id}").json()
    return {d["channel"]: d for d in body["deliveries"]}


def test_a_refused_email_is_replaced_by_the_sms_fallback(herald: LocalHerald) -> None:
    # given an address the email simulator refuses for good, and SMS as fallback
    phone = f"+1415{random.randrange(200, 999)}{random.randrange(1000, 9999)}"  # noqa: S311
    client = herald.client()
    response = client.post(
        "/v1/notifications",
        json={
            "recipients": [{"email": "invalid@example.com", "phone": phone}],
            "content": {"email": {"subject": "Code", "text": "1234"}, "sms": {"text": "1234"}},
            "channels": ["email"],
            "fallback": ["sms"],
        },
    )
    assert response.status_code == 202, response.text
    notification_id = response.json()["id"]

    # when Herald has worked on it
    wait_for(lambda: _deliveries(client, notification_id).get("sms", {}).get("status") == "sent")

    # then the SMS replaced the email, and reached the simulator once
    deliveries = _deliveries(client, notification_id)
    assert deliveries["email"]["status"] == "failed"
    assert deliveries["sms"]["replaces"] == [deliveries["email"]["id"]]
    outbox = httpx.get(f"{herald.url}/_dev/outbox").json()
    assert [m["channel"] for m in outbox if m["to"] == phone] == ["sms"]


def test_dead_letter_queues_are_listed_and_redriven(herald: LocalHerald) -> None:
    client = herald.client()

    # when
    listed = client.get("/v1/dead-letters")
    redriven = client.post("/v1/dead-letters/redrive", json={"queue": "email"})
    unknown = client.post("/v1/dead-letters/redrive", json={"queue": "nope"})

    # then every queue's DLQ is listed, and only a listed one can be redriven
    assert listed.status_code == 200, listed.text
    assert {item["queue"] for item in listed.json()["items"]} == {
        "dispatch",
        "email",
        "sms",
        "whatsapp",
        "push",
        "web_push",
        "in_app",
        "webhook",
        "webhook_events",
        "ses_events",
        # each delivered channel's bulk lane
        *(f"{channel}_bulk" for channel in DELIVERED_CHANNELS),
    }
    assert redriven.status_code == 202, redriven.text
    assert redriven.json()["queue"] == "email"
    assert unknown.status_code == 422, unknown.text
