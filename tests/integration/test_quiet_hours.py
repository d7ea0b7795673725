"""Quiet hours through the real dispatch: deferred, woken up by a schedule, then sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from herald.services.dispatch import dispatch_notification
from herald.services.sweeper import sweep

from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import call_api, run_dispatch, run_email_worker

NOW = datetime.now(UTC)


def _quiet_user(stack: Stack, tenant: Tenant) -> None:
    # quiet from an hour ago to an hour from now, UTC
    window = {
        "start": (NOW - timedelta(hours=1)).strftime("%H:%M"),
        "end": (NOW + timedelta(hours=1)).strftime("%H:%M"),
    }
    call_api(stack, "PUT", "/v1/users/u_1", key=tenant.key, body={"email": "ada@example.com"})
    call_api(
        stack, "PUT", "/v1/users/u_1/preferences", key=tenant.key, body={"quiet_hours": window}
    )


def _send(stack: Stack, tenant: Tenant) -> str:
    body = {
        "recipients": [{"user_id": "u_1"}],
        "content": {"email": {"subject": "Digest", "text": "Hello"}},
    }
    _, _, accepted = call_api(stack, "POST", "/v1/notifications", key=tenant.key, body=body)
    return str(accepted["id"])


def _delivery(stack: Stack, tenant: Tenant, notification_id: str) -> dict[str, Any]:
    _, _, notification = call_api(
        stack, "GET", f"/v1/notifications/{notification_id}", key=tenant.key
    )
    return dict(notification["deliveries"][0])


def test_a_deferred_delivery_is_released_by_its_wake_up_schedule_and_sent(
    stack: Stack, tenant: Tenant
) -> None:
    # given a send inside the user's quiet hours
    _quiet_user(stack, tenant)
    notification_id = _send(stack, tenant)

    # when it is dispatched
    run_dispatch(stack)

    # then it waits, with one schedule to wake it up when the window ends
    delivery = _delivery(stack, tenant, notification_id)
    assert (delivery["status"], delivery["reason"]) == ("deferred", "quiet_hours")
    schedules = boto3.client("scheduler").list_schedules(GroupName="herald")["Schedules"]
    names = [s["Name"] for s in schedules if s["Name"].startswith(notification_id)]
    assert len(names) == 1
    wake_at = datetime.fromtimestamp(int(names[0].rsplit("-", 1)[1]), UTC)
    assert NOW + timedelta(minutes=58) < wake_at <= NOW + timedelta(hours=1)

    # when the schedule fires early (clock skew) nothing is released; at its time it is
    ports = stack.handlers["dispatch.handler"].ports
    dispatch_notification(
        stack.db, ports, tenant.id, notification_id, now=wake_at - timedelta(minutes=1)
    )
    assert _delivery(stack, tenant, notification_id)["status"] == "deferred"
    dispatch_notification(stack.db, ports, tenant.id, notification_id, now=wake_at)
    run_email_worker(stack)

    # then it is sent, with its history
    delivery = _delivery(stack, tenant, notification_id)
    assert (delivery["status"], delivery["reason"]) == ("sent", None)
    statuses = [e["status"] for e in delivery["events"]]
    assert statuses == ["deferred", "queued", "sending", "sent"]
    assert [m["to"] for m in stack.simulator.outbox.list()] == ["ada@example.com"]


def test_the_sweeper_sends_a_deferred_delivery_whose_wake_up_was_lost(
    stack: Stack, tenant: Tenant
) -> None:
    # given a deferred delivery and no schedule
    _quiet_user(stack, tenant)
    notification_id = _send(stack, tenant)
    run_dispatch(stack)
    ports = stack.handlers["dispatch.handler"].ports
    sweeper = stack.handlers["dispatch.sweeper"]

    # when the sweeper runs during the window, and again well after it
    during = sweep(stack.db, sweeper.dispatch_queue, ports.channel_queues, now=NOW)
    after = sweep(
        stack.db, sweeper.dispatch_queue, ports.channel_queues, now=NOW + timedelta(hours=2)
    )
    run_email_worker(stack)

    # then it is left alone during the window and sent after it
    assert during.deliveries_requeued == 0 and after.deliveries_requeued == 1
    assert _delivery(stack, tenant, notification_id)["status"] == "sent"
