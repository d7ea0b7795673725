"""`recover`: after a restart that lost the queues and every worker, in-flight work goes back
on the queues at once, with no grace and no lease to wait for."""

from __future__ import annotations

import json
import time
from typing import Any

from herald.services.sweeper import recover

from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import run_dispatch, send_email


def _queued_ids(stack: Stack) -> set[str]:
    return {
        i
        for m in stack.drain(stack.resources.email.url)
        for i in json.loads(m["Body"])["delivery_ids"]
    }


def _set(stack: Stack, delivery_id: str, sql: str) -> None:
    with stack.db.transaction() as conn:
        conn.execute(f"UPDATE deliveries SET {sql} WHERE id = %s", (delivery_id,))


def test_recover_requeues_held_queued_and_waiting_deliveries(stack: Stack, tenant: Tenant) -> None:
    # given four deliveries, each as a killed run left it, and queues emptied by the restart
    send_email(stack, tenant.key, [f"r{i}@example.com" for i in range(4)])
    run_dispatch(stack)
    ids = sorted(_queued_ids(stack))
    held, queued, retry_soon, done = ids
    # a worker claimed it a moment ago (its lease has 2 minutes to run) and died
    _set(
        stack, held, "status = 'sending', attempts = 1, lease_expires_at = now() + interval '2 min'"
    )
    # its first attempt failed and it waits 2 seconds for the next
    _set(
        stack,
        retry_soon,
        "status = 'deferred', attempts = 1, next_attempt_at = now() + interval '2 s'",
    )
    _set(stack, done, "status = 'sent', attempts = 1")
    sweeper: Any = stack.handlers["dispatch.sweeper"]

    # when
    result = recover(stack.db, sweeper.dispatch_queue, sweeper.channel_queues)

    # then the held and queued ones are on the queue at once, the waiting one after its wait
    assert _queued_ids(stack) == {held, queued}
    time.sleep(2.5)
    assert _queued_ids(stack) == {retry_soon}
    assert result.deliveries_requeued == 3 and result.deliveries_failed == 0


def test_recover_keeps_a_throttled_batch_waiting_for_its_waves(
    stack: Stack, tenant: Tenant
) -> None:
    # given a throttled batch's deliveries queued for waves 2 s and an hour ahead, and
    # queues emptied by the restart
    send_email(stack, tenant.key, ["w0@example.com", "w1@example.com"])
    run_dispatch(stack)
    soon, later = sorted(_queued_ids(stack))
    _set(stack, soon, "next_attempt_at = now() + interval '2 s'")
    _set(stack, later, "next_attempt_at = now() + interval '1 hour'")
    sweeper: Any = stack.handlers["dispatch.sweeper"]

    # when
    recover(stack.db, sweeper.dispatch_queue, sweeper.channel_queues)

    # then neither goes before its wave: the near one comes once due, the far one hops
    assert _queued_ids(stack) == set()
    time.sleep(2.5)
    assert _queued_ids(stack) == {soon}
    attributes = stack.sqs().get_queue_attributes(
        QueueUrl=stack.resources.email.url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"
