"""Through HTTP only, against `herald dev`: SMS and WhatsApp through the Twilio simulator, its
signed callbacks, and STOP sent by hand with `/_dev/twilio/inbound`."""

from __future__ import annotations

import itertools
import random
import uuid
from typing import Any

import httpx

from tests.e2e.conftest import LocalHerald, wait_for

# Exchanges (the 3 digits after the area code) handed out in turn: one number per test.
_exchanges = itertools.count(random.randrange(200, 800))  # noqa: S311 - test data


def _new_phone(suffix: str | None = None) -> str:
    """A number no other test uses (the e2e Herald is shared); `suffix` picks a behaviour."""
    return f"+1415{next(_exchanges)}{suffix or '0123'}"


def _send(client: httpx.Client, phone: str, content: dict[str, Any]) -> str:
    response = client.post("/v1/notifications", json={"recipients": [{"phone": phone}], **content})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _delivery(client: httpx.Client, notification_id: str) -> dict[str, Any]:
    """The notification's one delivery; `{"status": None}` until it is dispatched."""
    deliveries = client.get(f"/v1/notifications/{notification_id}").json()["deliveries"]
    if not deliveries:
        return {"status": None}
    (delivery,) = deliveries
    return dict(delivery)


def _outbox_to(herald: LocalHerald, to: str) -> list[dict[str, Any]]:
    return [m for m in httpx.get(f"{herald.url}/_dev/outbox").json() if m["to"] == to]


def test_an_sms_reaches_the_outbox_and_ends_delivered(herald: LocalHerald) -> None:
    # given
    client = herald.client()
    phone = _new_phone()
    text = f"Order {uuid.uuid4().hex[:6]} shipped"

    # when
    notification_id = _send(client, phone, {"content": {"sms": {"text": text}}})

    # then
    (entry,) = wait_for(lambda: _outbox_to(herald, phone))
    assert (entry["channel"], entry["provider"], entry["text"]) == ("sms", "twilio", text)
    delivered = wait_for(
        lambda: (d := _delivery(client, notification_id))["status"] == "delivered" and d
    )
    assert delivered["provider_message_id"] == entry["id"]
    assert [e["status"] for e in delivered["events"]][-2:] == ["sent", "delivered"]


def test_a_number_ending_0303_ends_failed_undelivered(herald: LocalHerald) -> None:
    # given
    client = herald.client()

    # when
    notification_id = _send(client, _new_phone("0303"), {"content": {"sms": {"text": "Hi"}}})

    # then
    failed = wait_for(lambda: (d := _delivery(client, notification_id))["status"] == "failed" and d)
    assert failed["reason"] == "undelivered"
    assert "30003" in failed["error"]


def test_stop_by_hand_suppresses_the_number_and_start_lifts_it(herald: LocalHerald) -> None:
    # given
    client = herald.client()
    phone = _new_phone()
    first = _send(client, phone, {"content": {"sms": {"text": "Hello"}}})
    wait_for(lambda: _delivery(client, first)["status"] == "delivered")

    # when
    stop = httpx.post(f"{herald.url}/_dev/twilio/inbound", json={"from": phone, "body": "STOP"})
    skipped = _send(client, phone, {"content": {"sms": {"text": "Still there?"}}})

    # then
    assert stop.status_code == 200, stop.text
    assert stop.json()["herald_status"] == 200
    delivery = wait_for(lambda: (d := _delivery(client, skipped))["status"] == "skipped" and d)
    assert delivery["reason"] == "suppressed"

    # when
    httpx.post(f"{herald.url}/_dev/twilio/inbound", json={"from": phone, "body": "start"})
    resumed = _send(client, phone, {"content": {"sms": {"text": "Welcome back"}}})

    # then
    wait_for(lambda: _delivery(client, resumed)["status"] == "delivered")


def test_whatsapp_free_form_needs_the_window_a_template_does_not(herald: LocalHerald) -> None:
    # given
    client = herald.client()
    phone = _new_phone()
    content_sid = "HX" + uuid.uuid4().hex

    # when
    free_form = _send(client, phone, {"content": {"whatsapp": {"text": "Hi"}}})
    templated = _send(client, phone, {"content": {"whatsapp": {"content_sid": content_sid}}})

    # then
    failed = wait_for(lambda: (d := _delivery(client, free_form))["status"] == "failed" and d)
    assert failed["reason"] == "outside_session_window"
    wait_for(lambda: _delivery(client, templated)["status"] == "read")
    (entry,) = _outbox_to(herald, f"whatsapp:{phone}")
    assert entry["content_sid"] == content_sid

    # when the user writes first, free-form text goes
    reply = httpx.post(
        f"{herald.url}/_dev/twilio/inbound", json={"from": f"whatsapp:{phone}", "body": "Hi!"}
    )
    assert reply.status_code == 200, reply.text
    answered = _send(client, phone, {"content": {"whatsapp": {"text": "How can we help?"}}})

    # then
    wait_for(lambda: _delivery(client, answered)["status"] in ("delivered", "read"))


def test_dev_inbound_refuses_a_bad_body_with_400(herald: LocalHerald) -> None:
    # when
    response = httpx.post(f"{herald.url}/_dev/twilio/inbound", json={"body": "STOP"})

    # then
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
