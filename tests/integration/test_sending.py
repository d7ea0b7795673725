"""Sending email end to end through the real handlers, PostgreSQL, moto and the simulator."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from herald.aws.sns import EventPublisher
from herald.aws.sqs import MessageQueue
from herald.models.messages import ChannelMessage
from herald.services.delivering import RetryPolicy, deliver_batch

from tests.integration.conftest import LambdaContext, Stack, Tenant
from tests.integration.pipeline import (
    call_api,
    email_body,
    run_dispatch,
    run_email_worker,
    run_pipeline,
    send_email,
)


def test_an_email_to_several_recipients_is_sent_to_each(stack: Stack, tenant: Tenant) -> None:
    # given
    body = email_body(["ada@example.com", "grace@example.com"])

    # when
    status, _, accepted = call_api(stack, "POST", "/v1/notifications", key=tenant.key, body=body)
    run_pipeline(stack)

    # then
    assert status == 202
    assert accepted["status"] == "accepted" and accepted["recipient_count"] == 2
    outbox = stack.simulator.outbox.list()
    assert sorted(m["to"] for m in outbox) == ["ada@example.com", "grace@example.com"]
    assert {m["subject"] for m in outbox} == {"Your order shipped"}
    assert {m["text"] for m in outbox} == {"It is on its way."}
    assert {m["html"] for m in outbox} == {"<p>It is on its way.</p>"}
    _, _, notification = call_api(
        stack, "GET", f"/v1/notifications/{accepted['id']}", key=tenant.key
    )
    assert notification["status"] == "completed"
    assert [d["status"] for d in notification["deliveries"]] == ["sent", "sent"]
    for delivery in notification["deliveries"]:
        assert delivery["provider"] == "sendgrid" and delivery["provider_message_id"]
        assert delivery["attempts"] == 1
        assert [e["status"] for e in delivery["events"]] == ["queued", "sending", "sent"]


def test_dispatch_packs_many_deliveries_into_few_channel_messages(
    stack: Stack, tenant: Tenant
) -> None:
    # given 120 recipients
    body = email_body([f"user{i}@example.com" for i in range(120)])
    call_api(stack, "POST", "/v1/notifications", key=tenant.key, body=body)

    # when
    run_dispatch(stack)

    # then three messages of at most 50 deliveries carry all 120
    messages = stack.drain(stack.resources.email.url)
    sizes = sorted(len(json.loads(m["Body"])["delivery_ids"]) for m in messages)
    assert sizes == [20, 50, 50]


def test_a_redelivered_message_never_sends_twice(stack: Stack, tenant: Tenant) -> None:
    # given a sent notification, and a copy of its email-queue message
    send_email(stack, tenant.key, ["ada@example.com"])
    run_dispatch(stack)
    message = stack.drain(stack.resources.email.url)[0]
    stack.sqs().send_message(QueueUrl=stack.resources.email.url, MessageBody=message["Body"])
    stack.sqs().send_message(QueueUrl=stack.resources.email.url, MessageBody=message["Body"])

    # when both copies are consumed
    run_email_worker(stack)

    # then the provider saw one email
    assert len(stack.simulator.outbox.list()) == 1


def test_a_redelivered_dispatch_creates_no_second_delivery(stack: Stack, tenant: Tenant) -> None:
    # given
    send_email(stack, tenant.key, ["ada@example.com"])
    message = stack.drain(stack.resources.dispatch.url)[0]
    for _ in range(2):
        stack.sqs().send_message(QueueUrl=stack.resources.dispatch.url, MessageBody=message["Body"])

    # when
    run_pipeline(stack)

    # then
    with stack.db.transaction() as conn:
        count = conn.execute("SELECT count(*) AS n FROM deliveries").fetchone()
    assert count is not None and count["n"] == 1
    assert len(stack.simulator.outbox.list()) == 1


def test_a_recipient_without_an_email_address_is_skipped_with_a_reason(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    body = email_body(["ada@example.com"])
    body["recipients"].append({"phone": "+14155550100"})

    # when
    _, _, accepted = call_api(stack, "POST", "/v1/notifications", key=tenant.key, body=body)
    run_pipeline(stack)

    # then
    _, _, notification = call_api(
        stack, "GET", f"/v1/notifications/{accepted['id']}", key=tenant.key
    )
    by_status = {d["status"]: d for d in notification["deliveries"]}
    assert by_status["skipped"]["reason"] == "no_address"
    assert by_status["sent"]["recipient"] == {"email": "ada@example.com"}
    assert notification["status"] == "completed"


def test_throttled_sends_are_retried_then_fail_with_a_reason(stack: Stack, tenant: Tenant) -> None:
    # given the provider answers 429 to this address every time (retry delay 0 in tests)
    _, _, accepted = send_email(stack, tenant.key, ["ratelimit@example.com"])

    # when
    run_pipeline(stack)

    # then five attempts, then failed, and the notification is closed as failed
    _, _, notification = call_api(
        stack, "GET", f"/v1/notifications/{accepted['id']}", key=tenant.key
    )
    delivery = notification["deliveries"][0]
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 5
    assert delivery["reason"] == "max_attempts"
    assert "429" in delivery["error"]
    assert [e["status"] for e in delivery["events"]].count("deferred") == 4
    assert notification["status"] == "failed"


def test_a_rejected_send_fails_at_once(stack: Stack, tenant: Tenant) -> None:
    # given an address the provider rejects with a 400
    _, _, accepted = send_email(stack, tenant.key, ["invalid@example.com"])

    # when
    run_pipeline(stack)

    # then
    _, _, notification = call_api(
        stack, "GET", f"/v1/notifications/{accepted['id']}", key=tenant.key
    )
    delivery = notification["deliveries"][0]
    assert (delivery["status"], delivery["attempts"], delivery["reason"]) == (
        "failed",
        1,
        "rejected",
    )


def test_send_at_creates_a_one_time_schedule_instead_of_a_message(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    send_at = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    body = email_body(["ada@example.com"], send_at=send_at.isoformat())

    # when
    status, _, accepted = call_api(stack, "POST", "/v1/notifications", key=tenant.key, body=body)

    # then
    assert status == 202 and accepted["status"] == "scheduled"
    assert stack.drain(stack.resources.dispatch.url) == []
    schedule = boto3.client("scheduler", region_name="us-east-1").get_schedule(
        Name=accepted["id"], GroupName="herald"
    )
    assert schedule["ScheduleExpression"] == f"at({send_at.strftime('%Y-%m-%dT%H:%M:%S')})"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["Target"]["Arn"] == stack.resources.dispatch.arn
    assert accepted["id"] in schedule["Target"]["Input"]


def test_canceling_a_scheduled_notification_deletes_its_schedule(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    send_at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    _, _, accepted = call_api(
        stack,
        "POST",
        "/v1/notifications",
        key=tenant.key,
        body=email_body(["ada@example.com"], send_at=send_at),
    )

    # when
    status, _, canceled = call_api(
        stack, "POST", f"/v1/notifications/{accepted['id']}/cancel", key=tenant.key
    )
    again, _, error = call_api(
        stack, "POST", f"/v1/notifications/{accepted['id']}/cancel", key=tenant.key
    )

    # then
    assert status == 200 and canceled["status"] == "canceled"
    assert again == 409 and error["error"]["code"] == "CONFLICT"
    schedules = boto3.client("scheduler", region_name="us-east-1").list_schedules(
        GroupName="herald"
    )
    assert accepted["id"] not in [s["Name"] for s in schedules["Schedules"]]


def test_the_sweeper_dispatches_a_notification_whose_enqueue_was_lost(
    stack: Stack, tenant: Tenant
) -> None:
    # given an accepted notification whose dispatch message vanished, three minutes ago
    _, _, accepted = send_email(stack, tenant.key, ["ada@example.com"])
    stack.drain(stack.resources.dispatch.url)
    with stack.db.transaction() as conn:
        conn.execute("UPDATE notifications SET created_at = now() - interval '3 minutes'")

    # when
    stack.handlers["dispatch.sweeper"].handler({}, LambdaContext())
    run_pipeline(stack)

    # then
    _, _, notification = call_api(
        stack, "GET", f"/v1/notifications/{accepted['id']}", key=tenant.key
    )
    assert notification["status"] == "completed"
    assert len(stack.simulator.outbox.list()) == 1


def _email_message(stack: Stack) -> str:
    messages = stack.drain(stack.resources.email.url)
    assert len(messages) == 1
    return str(messages[0]["Body"])


def test_a_delivery_held_by_a_live_worker_is_left_alone_then_taken_over_when_its_lease_lapses(
    stack: Stack, tenant: Tenant
) -> None:
    # given a delivery claimed by a worker that is still within its lease
    send_email(stack, tenant.key, ["ada@example.com"])
    run_dispatch(stack)
    body = _email_message(stack)
    with stack.db.transaction() as conn:
        conn.execute(
            "UPDATE deliveries SET status = 'sending', lease_expires_at = now() + interval '1 hour'"
        )

    # when its message is delivered again
    stack.sqs().send_message(QueueUrl=stack.resources.email.url, MessageBody=body)
    run_email_worker(stack)

    # then nothing is sent while the lease holds
    assert stack.simulator.outbox.list() == []

    # when the worker died and its lease lapsed
    with stack.db.transaction() as conn:
        conn.execute("UPDATE deliveries SET lease_expires_at = now() - interval '1 second'")
    stack.sqs().send_message(QueueUrl=stack.resources.email.url, MessageBody=body)
    run_email_worker(stack)

    # then it is sent, once
    assert len(stack.simulator.outbox.list()) == 1


def test_an_unexpected_error_fails_the_message_but_every_other_result_is_recorded(
    stack: Stack, tenant: Tenant
) -> None:
    # given three deliveries, one of which makes the sender crash
    body = email_body(["ada@example.com", "crash@example.com", "grace@example.com"])
    _, _, accepted = call_api(stack, "POST", "/v1/notifications", key=tenant.key, body=body)
    run_dispatch(stack)
    message = ChannelMessage.model_validate_json(_email_message(stack))

    def send(row: dict[str, Any]) -> str:
        if row["address"] == "crash@example.com":
            raise RuntimeError("bug in an adapter")
        return f"msg-{row['id']}"

    # when
    with pytest.raises(RuntimeError), ThreadPoolExecutor(max_workers=3) as senders:
        deliver_batch(
            stack.db,
            message,
            provider="test",
            compose=lambda row: row,
            send=send,
            retry_queue=MessageQueue(stack.resources.email.url),
            publisher=EventPublisher(stack.resources.events_topic_arn),
            policy=RetryPolicy(),
            lease_seconds=120,
            senders=senders,
        )

    # then the two sends that happened are recorded; the crashed one waits for its lease
    _, _, notification = call_api(
        stack, "GET", f"/v1/notifications/{accepted['id']}", key=tenant.key
    )
    statuses = {d["recipient"]["email"]: d["status"] for d in notification["deliveries"]}
    assert statuses == {
        "ada@example.com": "sent",
        "crash@example.com": "sending",
        "grace@example.com": "sent",
    }
