"""Two lanes per channel: a batch drains on its channels' bulk queues, so a transactional send
(and any `priority: "high"` one) is sent without waiting behind it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from herald.services.sweeper import sweep

from local.lambda_context import LocalFunction
from local.pollers import QueuePoller
from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import call_api, email_body, run_dispatch, run_pipeline

BATCH_SIZE = 1000  # 20 channel messages of 50 on the email bulk lane


def _depth(stack: Stack, url: str) -> int:
    attributes = stack.sqs().get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _start_batch(stack: Stack, tenant: Tenant) -> str:
    body = {
        "content": {"email": {"subject": "News", "text": "Our news."}},
        "recipients": [{"email": f"b{i}@example.com"} for i in range(BATCH_SIZE)],
    }
    status, _, accepted = call_api(stack, "POST", "/v1/batches", key=tenant.key, body=body)
    assert status == 202, accepted
    return str(accepted["id"])


def _send(stack: Stack, tenant: Tenant, to: str, **fields: Any) -> None:
    status, _, answer = call_api(
        stack, "POST", "/v1/notifications", key=tenant.key, body=email_body([to], **fields)
    )
    assert status == 202, answer


def _email_worker_on(stack: Stack, queue_url: str, queue_arn: str) -> QueuePoller:
    """One of the email worker's two event source mappings."""
    module = "workers.email_worker"
    worker = LocalFunction(module, stack.handlers[module].handler, 60)
    return QueuePoller(stack.sqs(), queue_url, queue_arn, worker, batch_size=10, wait_seconds=0)


def test_a_transactional_email_is_sent_while_a_batch_drains_not_behind_it(
    stack: Stack, tenant: Tenant
) -> None:
    # given a batch of 1,000 planned: all of it waits on the email bulk lane
    _start_batch(stack, tenant)
    run_dispatch(stack)
    bulk, normal = stack.resources.bulk["email"], stack.resources.email
    assert (_depth(stack, bulk.url), _depth(stack, normal.url)) == (BATCH_SIZE // 50, 0)
    # ... and the bulk lane's consumer through its first messages (the batch is draining)
    _email_worker_on(stack, bulk.url, bulk.arn).poll_once()
    drained = len(stack.simulator.outbox.list())
    assert 0 < drained < BATCH_SIZE

    # when a single-recipient transactional email and a high-priority one are sent, and the
    # normal lane's consumer takes its next messages
    _send(stack, tenant, "receipt@example.com", category="transactional")
    _send(stack, tenant, "alert@example.com", priority="high")
    run_dispatch(stack)
    _email_worker_on(stack, normal.url, normal.arn).poll_once()

    # then both are sent right after what the batch had sent, none of the batch in between,
    # while the rest of the batch still waits on its own lane
    sent = [m["to"] for m in reversed(stack.simulator.outbox.list())]  # oldest first
    assert sorted(sent[drained:]) == ["alert@example.com", "receipt@example.com"]
    assert _depth(stack, bulk.url) > 0
    # ... and the batch then completes, every recipient sent once
    run_pipeline(stack)
    sent = [m["to"] for m in stack.simulator.outbox.list()]
    assert len(sent) == len(set(sent)) == BATCH_SIZE + 2


def test_a_low_priority_notification_goes_on_the_bulk_lane_a_high_one_on_the_normal_lane(
    stack: Stack, tenant: Tenant
) -> None:
    # given / when
    _send(stack, tenant, "digest@example.com", priority="low")
    run_dispatch(stack)
    low = (
        _depth(stack, stack.resources.bulk["email"].url),
        _depth(stack, stack.resources.email.url),
    )
    stack.drain(stack.resources.bulk["email"].url)
    _send(stack, tenant, "alert@example.com", priority="high")
    _send(stack, tenant, "receipt@example.com")
    run_dispatch(stack)
    high = (
        _depth(stack, stack.resources.bulk["email"].url),
        _depth(stack, stack.resources.email.url),
    )

    # then
    assert low == (1, 0)
    assert high == (0, 2)
    (message,) = stack.drain(stack.resources.email.url)[:1]
    assert json.loads(message["Body"])["lane"] == "normal"


def test_the_sweeper_puts_a_batchs_lost_deliveries_back_on_the_bulk_lane(
    stack: Stack, tenant: Tenant
) -> None:
    # given a batch planned whose bulk-lane messages were lost
    _start_batch(stack, tenant)
    run_dispatch(stack)
    stack.sqs().purge_queue(QueueUrl=stack.resources.bulk["email"].url)
    sweeper: Any = stack.handlers["dispatch.sweeper"]

    # when the sweeper finds them stalled
    result = sweep(
        stack.db,
        sweeper.dispatch_queue,
        sweeper.channel_queues,
        grace=timedelta(0),
        delivery_grace=timedelta(0),
        policy=sweeper.policy,
        bulk_queues=sweeper.bulk_queues,
    )

    # then they go back on the bulk lane, not the normal one, and the batch completes
    assert result.deliveries_requeued == 500  # the sweeper's page
    assert _depth(stack, stack.resources.email.url) == 0
    bodies = [json.loads(m["Body"]) for m in stack.drain(stack.resources.bulk["email"].url)]
    assert {b["lane"] for b in bodies} == {"bulk"}
    assert sum(len(b["delivery_ids"]) for b in bodies) == 500


def test_a_bulk_lanes_dead_letters_are_listed_and_redriven_to_the_bulk_lane(
    stack: Stack, tenant: Tenant
) -> None:
    # given a channel message of a batch left in the email bulk lane's dead-letter queue
    body = {"tenant_id": tenant.id, "channel": "email", "delivery_ids": ["dlv_x"], "lane": "bulk"}
    bulk = stack.resources.bulk["email"]
    stack.sqs().send_message(QueueUrl=bulk.dlq_url, MessageBody=json.dumps(body))

    # when
    _, _, listed = call_api(stack, "GET", "/v1/dead-letters", key=tenant.key)
    status, _, redriven = call_api(
        stack, "POST", "/v1/dead-letters/redrive", key=tenant.key, body={"queue": "email_bulk"}
    )

    # then
    (item,) = [i for i in listed["items"] if i["queue"] == "email_bulk"]
    assert item["depth"] == 1
    assert status == 202, redriven
    assert [json.loads(m["Body"]) for m in stack.drain(bulk.url)] == [body]
