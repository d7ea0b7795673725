"""Every notification is closed, and announced once, even when the worker that recorded its
last delivery died (or lost the database) before it closed it, and when dispatch is what
finished it."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import (
    call_api,
    run_dispatch,
    run_email_worker,
    run_pipeline,
    send_email,
)
from tests.integration.test_dead_lettered import _notification, _sweep
from tests.integration.test_events import _events, _subscribed_queue
from tests.integration.test_suppressions import suppress


def _recorded_then_died(stack: Stack, notification_id: str) -> None:
    """As a worker leaves a delivery it sent and recorded, when it dies before closing the
    notification (killed, or the database restarted under it)."""
    with stack.db.transaction() as conn:
        conn.execute(
            "UPDATE deliveries SET status = 'sent', attempts = 1, provider = 'sendgrid',"
            " provider_message_id = 'sg-1', lease_expires_at = NULL WHERE notification_id = %s",
            (notification_id,),
        )


def _sent_and_left_open(stack: Stack, tenant: Tenant) -> tuple[str, str]:
    """An email dispatched, then sent and recorded by a worker that died before closing its
    notification; the events queue subscribed first. Returns (events queue, notification)."""
    events_url = _subscribed_queue(stack)
    _, _, accepted = send_email(stack, tenant.key, ["ada@example.com"])
    run_dispatch(stack)
    _recorded_then_died(stack, accepted["id"])
    return events_url, str(accepted["id"])


def _completions(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (e["notification_id"], e["status"]) for e in events if e["type"] == "notification.completed"
    ]


def test_the_sweeper_closes_a_notification_its_last_worker_left_open(
    stack: Stack, tenant: Tenant
) -> None:
    # given an email sent and recorded by a worker that died before closing its notification,
    # its message gone
    events_url, notification_id = _sent_and_left_open(stack, tenant)
    stack.drain(stack.resources.email.url)
    assert _notification(stack, tenant, notification_id)["status"] == "processing"

    # when the sweeper runs, twice
    first = _sweep(stack)
    second = _sweep(stack)

    # then it is completed, announced once, and nothing was sent again
    assert _notification(stack, tenant, notification_id)["status"] == "completed"
    assert (first.notifications_closed_late, second.notifications_closed_late) == (1, 0)
    assert _completions(_events(stack, events_url)) == [(notification_id, "completed")]
    assert stack.simulator.outbox.list() == []


def test_a_redelivered_message_closes_what_its_first_worker_left_open(
    stack: Stack, tenant: Tenant
) -> None:
    # given an email recorded as sent by a worker that then lost the database, so its
    # message was not deleted and comes back
    events_url, notification_id = _sent_and_left_open(stack, tenant)

    # when the next worker receives the message again
    assert run_email_worker(stack) == 1

    # then it sends nothing, and closes and announces the notification
    assert stack.simulator.outbox.list() == []
    assert _notification(stack, tenant, notification_id)["status"] == "completed"
    assert _completions(_events(stack, events_url)) == [(notification_id, "completed")]


def test_a_notification_dispatch_finishes_is_announced(stack: Stack, tenant: Tenant) -> None:
    # given an email to a suppressed address only: dispatch skips it, no worker sees it
    events_url = _subscribed_queue(stack)
    assert suppress(stack, tenant.key, "gone@example.com")[0] == 201
    _, _, accepted = send_email(stack, tenant.key, ["gone@example.com"])

    # when it is dispatched
    run_dispatch(stack)

    # then it is closed by dispatch, and announced like any other
    body = _notification(stack, tenant, accepted["id"])
    assert [d["status"] for d in body["deliveries"]] == ["skipped"]
    assert body["status"] == "completed"
    assert _completions(_events(stack, events_url)) == [(accepted["id"], "completed")]


def test_a_fallback_cascade_closed_by_dispatch_is_announced(stack: Stack, tenant: Tenant) -> None:
    # given an email the provider refuses for good, with an SMS fallback: its worker hands
    # the notification back to dispatch, which sends the SMS, and closes it once that is out
    events_url = _subscribed_queue(stack)
    body = {
        "recipients": [{"email": "invalid@example.com", "phone": "+14155550123"}],
        "content": {"email": {"subject": "Hi", "text": "Hi"}, "sms": {"text": "Hi"}},
        "channels": ["email"],
        "fallback": ["sms"],
    }
    status, _, accepted = call_api(stack, "POST", "/v1/notifications", key=tenant.key, body=body)
    assert status == 202, accepted

    # when the pipeline runs
    run_pipeline(stack)

    # then the SMS went out, and the notification's close is announced once
    notification = _notification(stack, tenant, accepted["id"])
    assert {d["channel"]: d["status"] for d in notification["deliveries"]} == {
        "email": "failed",
        "sms": "sent",
    }
    assert notification["status"] == "completed"
    assert _completions(_events(stack, events_url)) == [(accepted["id"], "completed")]
