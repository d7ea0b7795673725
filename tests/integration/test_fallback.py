"""Fallback channels: the next channel, in order, per recipient, once the primary ones gave up
or (with `fallback_after_seconds`) reached nobody in time. Real handlers, real simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from herald.services.dispatch import dispatch_notification

from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import call_api, run_pipeline
from tests.integration.test_sms import status_callback

PHONE = "+14155550123"
CONTENT = {
    "email": {"subject": "Your code", "text": "Code 1234"},
    "sms": {"text": "Code 1234"},
    "push": {"title": "Your code", "body": "Code 1234"},
    "whatsapp": {"text": "Code 1234"},
}


def send(stack: Stack, tenant: Tenant, **fields: Any) -> str:
    body = {"content": CONTENT, **fields}
    status, _, answer = call_api(stack, "POST", "/v1/notifications", key=tenant.key, body=body)
    assert status == 202, answer
    return str(answer["id"])


def notification(stack: Stack, tenant: Tenant, notification_id: str) -> dict[str, Any]:
    status, _, body = call_api(stack, "GET", f"/v1/notifications/{notification_id}", key=tenant.key)
    assert status == 200, body
    return dict(body)


def by_channel(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["channel"]: d for d in body["deliveries"]}


def sent_to(stack: Stack) -> list[tuple[str, str]]:
    return sorted((e["channel"], e["to"]) for e in stack.simulator.outbox.list())


def put_user(stack: Stack, tenant: Tenant, **fields: Any) -> None:
    status, _, body = call_api(stack, "PUT", "/v1/users/u_1", key=tenant.key, body=fields)
    assert status in (200, 201), body


def test_a_failed_primary_is_replaced_by_the_fallback_which_records_what_it_replaces(
    stack: Stack, tenant: Tenant
) -> None:
    # given an email address the provider refuses for good, and SMS as fallback
    notification_id = send(
        stack,
        tenant,
        recipients=[{"email": "invalid@example.com", "phone": PHONE}],
        channels=["email"],
        fallback=["sms"],
    )

    # when the pipeline runs
    run_pipeline(stack)

    # then the SMS went out in its place, saying which delivery it replaces
    body = notification(stack, tenant, notification_id)
    deliveries = by_channel(body)
    assert deliveries["email"]["status"] == "failed"
    assert deliveries["sms"]["status"] == "sent"
    assert deliveries["sms"]["replaces"] == [deliveries["email"]["id"]]
    assert sent_to(stack) == [("sms", PHONE)]
    assert body["status"] == "completed"
    assert body["fallback"] == ["sms"]


def test_no_fallback_is_sent_when_a_primary_channel_went_out(stack: Stack, tenant: Tenant) -> None:
    # given a deliverable email address
    notification_id = send(
        stack,
        tenant,
        recipients=[{"email": "ok@example.com", "phone": PHONE}],
        channels=["email"],
        fallback=["sms"],
    )

    # when the pipeline runs
    run_pipeline(stack)

    # then only the email went out, and the notification is closed
    body = notification(stack, tenant, notification_id)
    assert [d["channel"] for d in body["deliveries"]] == ["email"]
    assert sent_to(stack) == [("email", "ok@example.com")]
    assert body["status"] == "completed"


def test_fallbacks_are_tried_in_order_past_those_without_an_address_or_device(
    stack: Stack, tenant: Tenant
) -> None:
    # given a user with no device and a refused email address, push then SMS as fallbacks
    put_user(stack, tenant, email="invalid@example.com", phone=PHONE)
    notification_id = send(
        stack, tenant, recipients=[{"user_id": "u_1"}], channels=["email"], fallback=["push", "sms"]
    )

    # when the pipeline runs
    run_pipeline(stack)

    # then push was skipped for want of a device, and SMS (replacing push) went out
    deliveries = by_channel(notification(stack, tenant, notification_id))
    assert (deliveries["push"]["status"], deliveries["push"]["reason"]) == ("skipped", "no_device")
    assert deliveries["push"]["replaces"] == [deliveries["email"]["id"]]
    assert deliveries["sms"]["status"] == "sent"
    assert deliveries["sms"]["replaces"] == [deliveries["push"]["id"]]
    assert sent_to(stack) == [("sms", PHONE)]


def test_a_primary_without_an_address_falls_back_at_dispatch(stack: Stack, tenant: Tenant) -> None:
    # given a recipient with a phone number only, email first
    notification_id = send(
        stack, tenant, recipients=[{"phone": PHONE}], channels=["email"], fallback=["sms"]
    )

    # when the pipeline runs
    run_pipeline(stack)

    # then the email was skipped (no address) and the SMS sent
    deliveries = by_channel(notification(stack, tenant, notification_id))
    assert deliveries["email"]["reason"] == "no_address"
    assert deliveries["sms"]["status"] == "sent"


def test_preferences_apply_to_fallbacks(stack: Stack, tenant: Tenant) -> None:
    # given a user who turned SMS off, whose email is refused
    put_user(stack, tenant, email="invalid@example.com", phone=PHONE)
    status, _, body = call_api(
        stack,
        "PUT",
        "/v1/users/u_1/preferences",
        key=tenant.key,
        body={"channels": {"sms": False}},
    )
    assert status == 200, body
    notification_id = send(
        stack, tenant, recipients=[{"user_id": "u_1"}], channels=["email"], fallback=["sms"]
    )

    # when the pipeline runs
    run_pipeline(stack)

    # then the SMS fallback is skipped as opted out: nothing is sent, and the notification ends
    body = notification(stack, tenant, notification_id)
    deliveries = by_channel(body)
    assert (deliveries["sms"]["status"], deliveries["sms"]["reason"]) == ("skipped", "opted_out")
    assert sent_to(stack) == []
    assert body["status"] == "completed"


def test_each_recipient_falls_back_on_its_own(stack: Stack, tenant: Tenant) -> None:
    # given two recipients, only the first of whom the email cannot reach
    notification_id = send(
        stack,
        tenant,
        recipients=[
            {"email": "invalid@example.com", "phone": PHONE},
            {"email": "ok@example.com", "phone": "+14155550124"},
        ],
        channels=["email"],
        fallback=["sms"],
    )

    # when the pipeline runs
    run_pipeline(stack)

    # then only the first recipient got the SMS
    assert sent_to(stack) == [("email", "ok@example.com"), ("sms", PHONE)]
    assert notification(stack, tenant, notification_id)["status"] == "completed"


def dispatch_at(stack: Stack, tenant: Tenant, notification_id: str, now: datetime) -> None:
    """Run dispatch as the fallback deadline's schedule would, at `now`."""
    handler = stack.handlers["dispatch.handler"]
    dispatch_notification(handler.db, handler.ports, tenant.id, notification_id, now=now)


def send_sms_with_email_after_10_minutes(stack: Stack, tenant: Tenant) -> str:
    return send(
        stack,
        tenant,
        recipients=[{"email": "ok@example.com", "phone": PHONE}],
        channels=["sms"],
        fallback=["email"],
        fallback_after_seconds=600,
    )


def test_fallback_after_seconds_sends_the_next_channel_when_nothing_was_delivered_in_time(
    stack: Stack, tenant: Tenant
) -> None:
    # given an SMS sent (not yet delivered), with email as fallback after 10 minutes
    notification_id = send_sms_with_email_after_10_minutes(stack, tenant)
    run_pipeline(stack)
    assert sent_to(stack) == [("sms", PHONE)]
    assert notification(stack, tenant, notification_id)["status"] == "processing"

    # when the deadline passes without a delivery receipt
    dispatch_at(stack, tenant, notification_id, datetime.now(UTC) + timedelta(seconds=601))
    run_pipeline(stack)

    # then the email goes out in the SMS's place, and the notification is closed
    body = notification(stack, tenant, notification_id)
    deliveries = by_channel(body)
    assert deliveries["email"]["status"] == "sent"
    assert deliveries["email"]["replaces"] == [deliveries["sms"]["id"]]
    assert sent_to(stack) == [("email", "ok@example.com"), ("sms", PHONE)]
    assert body["status"] == "completed"


def test_a_delivery_before_the_deadline_cancels_the_pending_fallback(
    stack: Stack, tenant: Tenant
) -> None:
    # given an SMS sent with email as fallback after 10 minutes
    notification_id = send_sms_with_email_after_10_minutes(stack, tenant)
    run_pipeline(stack)
    sms = by_channel(notification(stack, tenant, notification_id))["sms"]

    # when Twilio reports it delivered, then the deadline passes
    assert status_callback(stack, tenant, sms, "delivered")["statusCode"] == 200
    dispatch_at(stack, tenant, notification_id, datetime.now(UTC) + timedelta(seconds=601))
    run_pipeline(stack)

    # then no email was sent, and the notification is closed
    body = notification(stack, tenant, notification_id)
    assert [d["channel"] for d in body["deliveries"]] == ["sms"]
    assert sent_to(stack) == [("sms", PHONE)]
    assert body["status"] == "completed"


def test_before_the_deadline_nothing_falls_back(stack: Stack, tenant: Tenant) -> None:
    # given an SMS sent with email as fallback after 10 minutes
    notification_id = send_sms_with_email_after_10_minutes(stack, tenant)
    run_pipeline(stack)

    # when dispatch runs again before the deadline (a redelivered message)
    dispatch_at(stack, tenant, notification_id, datetime.now(UTC) + timedelta(seconds=300))
    run_pipeline(stack)

    # then nothing more was sent, and the notification waits
    assert sent_to(stack) == [("sms", PHONE)]
    assert notification(stack, tenant, notification_id)["status"] == "processing"


def test_fallback_after_seconds_without_fallback_channels_is_refused(
    stack: Stack, tenant: Tenant
) -> None:
    status, _, body = call_api(
        stack,
        "POST",
        "/v1/notifications",
        key=tenant.key,
        body={
            "recipients": [{"phone": PHONE}],
            "content": CONTENT,
            "channels": ["sms"],
            "fallback_after_seconds": 60,
        },
    )
    assert status == 400, body
    assert "fallback_after_seconds needs fallback channels" in str(body["error"]["details"])


def sent_and_closed(
    stack: Stack, tenant: Tenant, channels: list[str], fallback: list[str]
) -> tuple[str, dict[str, Any]]:
    """A notification to one recipient, sent and closed; its id and its SMS delivery."""
    notification_id = send(
        stack,
        tenant,
        recipients=[{"phone": PHONE, "email": "late@example.com"}],
        channels=channels,
        fallback=fallback,
    )
    run_pipeline(stack)
    body = notification(stack, tenant, notification_id)
    assert body["status"] == "completed"
    return notification_id, by_channel(body)["sms"]


def test_a_failure_reported_after_the_notification_closed_sends_the_fallback(
    stack: Stack, tenant: Tenant
) -> None:
    # given an SMS sent, with email as fallback, and the notification closed
    notification_id, sms = sent_and_closed(stack, tenant, ["sms"], ["email"])

    # when Twilio reports it undelivered afterwards
    answer = status_callback(stack, tenant, sms, "undelivered", ErrorCode="30003")
    assert answer["statusCode"] == 200
    run_pipeline(stack)

    # then the email went out in its place, and the notification is closed again
    body = notification(stack, tenant, notification_id)
    deliveries = by_channel(body)
    assert deliveries["sms"]["status"] == "failed"
    assert deliveries["email"]["status"] == "sent"
    assert deliveries["email"]["replaces"] == [sms["id"]]
    assert sent_to(stack) == [("email", "late@example.com"), ("sms", PHONE)]
    assert body["status"] == "completed"


def test_a_late_failure_of_a_recipient_another_channel_reached_sends_nothing(
    stack: Stack, tenant: Tenant
) -> None:
    # given an SMS and an email sent to one recipient, WhatsApp as fallback
    notification_id, sms = sent_and_closed(stack, tenant, ["sms", "email"], ["whatsapp"])

    # when only the SMS is reported undelivered (the email went out)
    assert status_callback(stack, tenant, sms, "undelivered")["statusCode"] == 200
    run_pipeline(stack)

    # then no fallback: the step has not given up, and the notification stays closed
    body = notification(stack, tenant, notification_id)
    assert sorted(d["channel"] for d in body["deliveries"]) == ["email", "sms"]
    assert body["status"] == "completed"
