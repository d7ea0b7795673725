"""The sweeper and deliveries whose queue message was lost or dead-lettered: re-enqueued while
attempts remain, then failed with reason `dead_lettered`, announced, and replaced by the
fallback channel if the notification has one."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from herald.services.sweeper import sweep

from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import call_api, run_dispatch, run_pipeline
from tests.integration.test_events import _events, _subscribed_queue
from tests.integration.test_ses import _apply_ses_events, _ses_integration

PHONE = "+14155550123"


def _stuck_in_sending(stack: Stack, notification_id: str, attempts: int) -> None:
    """As a worker that died mid-send left it, its message then dead-lettered: a lapsed lease,
    untouched for an hour."""
    with stack.db.transaction() as conn:
        conn.execute(
            "UPDATE deliveries SET status = 'sending', attempts = %s,"
            " lease_expires_at = now() - interval '1 hour', updated_at = now() - interval '1 hour'"
            " WHERE notification_id = %s",
            (attempts, notification_id),
        )


def _send(stack: Stack, tenant: Tenant, **fields: Any) -> str:
    body = {
        "recipients": [{"email": "ok@example.com", "phone": PHONE}],
        "content": {"email": {"subject": "Hi", "text": "Hi"}, "sms": {"text": "Hi"}},
        "channels": ["email"],
        **fields,
    }
    status, _, answer = call_api(stack, "POST", "/v1/notifications", key=tenant.key, body=body)
    assert status == 202, answer
    return str(answer["id"])


def _sweep(stack: Stack) -> Any:
    sweeper: Any = stack.handlers["dispatch.sweeper"]
    return sweep(
        stack.db,
        sweeper.dispatch_queue,
        sweeper.channel_queues,
        grace=timedelta(seconds=60),
        delivery_grace=timedelta(seconds=60),
        policy=sweeper.policy,
        publisher=sweeper.publisher,
    )


def _notification(stack: Stack, tenant: Tenant, notification_id: str) -> dict[str, Any]:
    status, _, body = call_api(stack, "GET", f"/v1/notifications/{notification_id}", key=tenant.key)
    assert status == 200, body
    return dict(body)


def test_a_stuck_delivery_with_attempts_left_is_sent_again(stack: Stack, tenant: Tenant) -> None:
    # given an email stuck in sending after one attempt, its message gone
    notification_id = _send(stack, tenant)
    run_dispatch(stack)
    stack.drain(stack.resources.email.url)
    _stuck_in_sending(stack, notification_id, attempts=1)

    # when the sweeper runs, then the pipeline
    result = _sweep(stack)
    run_pipeline(stack)

    # then it went out, once
    assert (result.deliveries_requeued, result.deliveries_failed) == (1, 0)
    (delivery,) = _notification(stack, tenant, notification_id)["deliveries"]
    assert delivery["status"] == "sent"
    assert [e["to"] for e in stack.simulator.outbox.list()] == ["ok@example.com"]


def test_a_dead_lettered_delivery_out_of_attempts_fails_and_is_announced(
    stack: Stack, tenant: Tenant
) -> None:
    # given an email stuck in sending with every attempt spent
    events_url = _subscribed_queue(stack)
    notification_id = _send(stack, tenant)
    run_dispatch(stack)
    stack.drain(stack.resources.email.url)
    _stuck_in_sending(stack, notification_id, attempts=5)

    # when the sweeper runs
    result = _sweep(stack)

    # then it is failed as dead-lettered, nothing is sent, and both events are out
    assert result.deliveries_failed == 1
    body = _notification(stack, tenant, notification_id)
    (delivery,) = body["deliveries"]
    assert (delivery["status"], delivery["reason"]) == ("failed", "dead_lettered")
    assert body["status"] == "failed"
    assert stack.simulator.outbox.list() == []
    events = {e["type"]: e for e in _events(stack, events_url)}
    assert events["delivery.failed"]["reason"] == "dead_lettered"
    assert events["delivery.failed"]["delivery_id"] == delivery["id"]
    assert events["notification.completed"]["status"] == "failed"


def test_a_dead_lettered_delivery_is_replaced_by_its_fallback(stack: Stack, tenant: Tenant) -> None:
    # given an email with SMS as fallback, stuck with every attempt spent
    notification_id = _send(stack, tenant, fallback=["sms"])
    run_dispatch(stack)
    stack.drain(stack.resources.email.url)
    _stuck_in_sending(stack, notification_id, attempts=5)

    # when the sweeper runs, then the pipeline
    _sweep(stack)
    run_pipeline(stack)

    # then the SMS went out in the email's place
    body = _notification(stack, tenant, notification_id)
    deliveries = {d["channel"]: d for d in body["deliveries"]}
    assert deliveries["email"]["reason"] == "dead_lettered"
    assert deliveries["sms"]["status"] == "sent"
    assert deliveries["sms"]["replaces"] == [deliveries["email"]["id"]]
    assert [e["to"] for e in stack.simulator.outbox.list()] == [PHONE]
    assert body["status"] == "completed"


def _dead_letter(stack: Stack, tenant: Tenant, delivery_ids: list[str]) -> None:
    """A channel message as SQS leaves it in the email DLQ after its last failed receive."""
    body = {"tenant_id": tenant.id, "channel": "email", "delivery_ids": delivery_ids}
    stack.sqs().send_message(QueueUrl=stack.resources.email.dlq_url, MessageBody=json.dumps(body))


def _email_dead_letters(stack: Stack, tenant: Tenant) -> dict[str, Any]:
    status, _, body = call_api(stack, "GET", "/v1/dead-letters", key=tenant.key)
    assert status == 200, body
    return next(item for item in body["items"] if item["queue"] == "email")


def test_dead_letters_are_listed_with_their_deliveries_to_their_tenant_only(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given a dead-lettered email message
    notification_id = _send(stack, tenant)
    run_dispatch(stack)
    stack.drain(stack.resources.email.url)
    (delivery,) = _notification(stack, tenant, notification_id)["deliveries"]
    _dead_letter(stack, tenant, [delivery["id"]])

    # when its tenant and another list the dead letters
    mine = _email_dead_letters(stack, tenant)
    theirs = _email_dead_letters(stack, other_tenant)

    # then both see the depth; only its tenant sees what the message carries
    assert mine["depth"] == theirs["depth"] == 1
    assert [s["delivery_ids"] for s in mine["samples"]] == [[delivery["id"]]]
    assert mine["oldest_age_seconds"] is not None
    assert theirs["samples"] == []


def test_a_redriven_message_sends_its_delivery_once(stack: Stack, tenant: Tenant) -> None:
    # given a dead-lettered message whose delivery is still queued
    notification_id = _send(stack, tenant)
    run_dispatch(stack)
    stack.drain(stack.resources.email.url)
    (delivery,) = _notification(stack, tenant, notification_id)["deliveries"]
    _dead_letter(stack, tenant, [delivery["id"]])

    # when it is redriven, then the pipeline runs
    status, _, body = call_api(
        stack, "POST", "/v1/dead-letters/redrive", key=tenant.key, body={"queue": "email"}
    )
    run_pipeline(stack)

    # then the DLQ is empty and the email went out, once
    assert status == 202, body
    assert (body["queue"], body["depth"]) == ("email", 1)
    assert _email_dead_letters(stack, tenant)["depth"] == 0
    assert [e["to"] for e in stack.simulator.outbox.list()] == ["ok@example.com"]
    (delivery,) = _notification(stack, tenant, notification_id)["deliveries"]
    assert delivery["status"] == "sent"


def test_a_message_redriven_after_its_delivery_was_sent_sends_nothing(
    stack: Stack, tenant: Tenant
) -> None:
    # given an email sent, whose message (a duplicate) also landed in the DLQ
    notification_id = _send(stack, tenant)
    run_pipeline(stack)
    (delivery,) = _notification(stack, tenant, notification_id)["deliveries"]
    assert delivery["status"] == "sent"
    _dead_letter(stack, tenant, [delivery["id"]])
    stack.simulator.outbox.clear()

    # when it is redriven, then the pipeline runs
    status, _, _ = call_api(
        stack, "POST", "/v1/dead-letters/redrive", key=tenant.key, body={"queue": "email"}
    )
    run_pipeline(stack)

    # then nothing is sent again, and the delivery is as it was
    assert status == 202
    assert stack.simulator.outbox.list() == []
    (after,) = _notification(stack, tenant, notification_id)["deliveries"]
    assert (after["status"], after["attempts"]) == ("sent", delivery["attempts"])


def test_redriving_an_unknown_queue_is_refused(stack: Stack, tenant: Tenant) -> None:
    status, _, body = call_api(
        stack, "POST", "/v1/dead-letters/redrive", key=tenant.key, body={"queue": "nope"}
    )
    assert status == 422, body
    assert body["error"]["details"][0]["field"] == "queue"


def _ses_events_dead_lettered(stack: Stack, tenant: Tenant) -> str:
    """An email sent through SES whose two events (send, delivery) the SES-events consumer
    never managed to take: SQS left them in that queue's DLQ."""
    _ses_integration(stack, tenant)
    notification_id = _send(stack, tenant)
    run_pipeline(stack)
    bodies: list[str] = []
    deadline = time.monotonic() + 10
    while len(bodies) < 2 and time.monotonic() < deadline:
        bodies += [m["Body"] for m in stack.drain(stack.resources.ses_events.url)]
        time.sleep(0.1)
    assert len(bodies) == 2
    for body in bodies:
        stack.sqs().send_message(QueueUrl=stack.resources.ses_events.dlq_url, MessageBody=body)
    return notification_id


def _dead_letters(stack: Stack, tenant: Tenant, queue: str) -> dict[str, Any]:
    status, _, body = call_api(stack, "GET", "/v1/dead-letters", key=tenant.key)
    assert status == 200, body
    return next(item for item in body["items"] if item["queue"] == queue)


def test_ses_events_dead_letters_are_listed_to_their_tenant_and_redriven_into_deliveries(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given
    notification_id = _ses_events_dead_lettered(stack, tenant)
    (delivery,) = _notification(stack, tenant, notification_id)["deliveries"]
    assert (delivery["provider"], delivery["status"]) == ("ses", "sent")

    # when its tenant and another list the dead letters
    mine = _dead_letters(stack, tenant, "ses_events")
    theirs = _dead_letters(stack, other_tenant, "ses_events")

    # then both see the depth; only its tenant sees which delivery the events are about
    assert mine["depth"] == theirs["depth"] == 2
    assert [s["delivery_ids"] for s in mine["samples"]] == [[delivery["id"]]] * 2
    assert theirs["samples"] == []

    # when they are redriven, and the consumer runs
    status, _, body = call_api(
        stack, "POST", "/v1/dead-letters/redrive", key=tenant.key, body={"queue": "ses_events"}
    )
    _apply_ses_events(stack, 2)

    # then the DLQ is empty and the events reached the delivery
    assert status == 202, body
    assert (body["queue"], body["depth"]) == ("ses_events", 2)
    assert _dead_letters(stack, tenant, "ses_events")["depth"] == 0
    (after,) = _notification(stack, tenant, notification_id)["deliveries"]
    assert after["status"] == "delivered"
