"""The sweeper: finds accepted work that stalled and puts it back in the pipeline."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from herald.aws.sns import EventPublisher
from herald.aws.sqs import MessageQueue
from herald.db import batches, deliveries, idempotency, notifications, stats
from herald.db.connection import Database
from herald.models.messages import DispatchMessage
from herald.services.completion import completion_events
from herald.services.delivering import RetryPolicy, delivery_event
from herald.services.dispatch import enqueue_deliveries, enqueue_waves
from herald.services.lanes import Lane

logger = logging.getLogger(__name__)

_BATCH = 500
# Why a delivery the sweeper gives up on failed: its queue message was lost or moved to the
# dead-letter queue after every receive failed, and its attempts are spent.
DEAD_LETTERED = "dead_lettered"


@dataclass(frozen=True)
class SweepResult:
    notifications_requeued: int
    deliveries_requeued: int
    deliveries_failed: int
    idempotency_keys_expired: int
    # Closed here because the worker that recorded their last delivery did not.
    notifications_closed_late: int = 0


def sweep(
    db: Database,
    dispatch_queue: MessageQueue,
    channel_queues: Mapping[str, MessageQueue],
    *,
    grace: timedelta = timedelta(minutes=2),
    delivery_grace: timedelta = timedelta(minutes=15),
    policy: RetryPolicy | None = None,
    now: datetime | None = None,
    publisher: EventPublisher | None = None,
    bulk_queues: Mapping[str, MessageQueue] | None = None,
) -> SweepResult:
    """Re-enqueue what should be moving but is not.

    - notifications still `accepted` (enqueue lost) or `scheduled` past their time (schedule
      lost) -> the dispatch queue;
    - deliveries in flight that nobody holds (message lost or dead-lettered, lease lapsed)
      -> their channel queue of their lane (`bulk_queues` for the bulk one), or, once out
      of attempts, `failed` with reason `dead_lettered` (their `delivery.failed` event
      published to `publisher`);
    - notifications left `processing` with nothing in flight (the worker that recorded their
      last delivery died before it closed them) -> closed, `notification.completed`
      published.
    It also folds the stats changes the deliveries' writes appended into the hourly rollup
    (herald.db.stats), so stats reads have few left to add.
    Re-enqueueing is harmless: dispatch is idempotent and workers claim before sending. A
    notification with fallback channels whose delivery failed here goes back to dispatch,
    which takes the next fallback step.
    """
    policy = policy or RetryPolicy()
    now = now or datetime.now(UTC)
    with db.transaction() as conn:
        stalled = notifications.find_stalled(conn, older_than=now - grace, limit=_BATCH)
        slices = batches.stalled_slices(conn, older_than=now - grace, limit=_BATCH)
        # Deliveries get longer: a large send can keep them queued for minutes legitimately.
        stuck = deliveries.find_stalled(conn, older_than=now - delivery_grace, limit=_BATCH)
        exhausted = [d["id"] for d in stuck if d["attempts"] >= policy.max_attempts]
        failed = deliveries.fail_in_flight(
            conn, exhausted, DEAD_LETTERED, "no successful attempt before the attempt limit"
        )
        touched = list({f["notification_id"] for f in failed})
        # And those whose last worker died between recording its result and closing them.
        unclosed = notifications.find_unclosed(conn, limit=_BATCH)
        closed = notifications.complete_finished(conn, list({*touched, *unclosed}))
        completed = completion_events(conn, closed)  # and batch.completed with them
        to_cascade = notifications.to_cascade(conn, touched, gave_up=set(touched))
        expired = idempotency.delete_expired(conn)

    dispatch_queue.send_many(
        [
            DispatchMessage(tenant_id=n["tenant_id"], notification_id=n["id"])
            for n in [*stalled, *to_cascade]
        ]
        # A batch's slices never planned (their message lost): planned at most once anyway.
        + [
            DispatchMessage(
                tenant_id=s["tenant_id"],
                notification_id=s["notification_id"],
                batch_id=s["batch_id"],
                first_index=s["first_index"],
            )
            for s in slices
        ]
    )
    if publisher is not None and (failed or closed):
        publisher.publish(
            [delivery_event(dict(f), "failed", {"reason": DEAD_LETTERED}) for f in failed]
            + completed
        )
    with db.transaction() as conn:
        stats.fold(conn)
    retry = [d for d in stuck if d["attempts"] < policy.max_attempts]
    by_tenant: dict[tuple[str, Lane], list[dict[str, Any]]] = {}
    for d in retry:
        by_tenant.setdefault((d["tenant_id"], d["lane"]), []).append(d)
    for (tenant_id, lane), rows in by_tenant.items():
        enqueue_deliveries(tenant_id, rows, lane, channel_queues, bulk_queues)
    if slices:
        logger.warning("sweeper: %d batch slices re-enqueued", len(slices))
    if stalled or retry or failed:
        logger.warning(
            "sweeper: %d notifications and %d deliveries re-enqueued, %d deliveries failed",
            len(stalled),
            len(retry),
            len(failed),
        )
    late = len(set(unclosed) & {n["id"] for n in closed})
    if late:
        logger.warning("sweeper: %d notifications closed that their last worker left open", late)
    return SweepResult(len(stalled), len(retry), len(failed), expired, late)


def recover(
    db: Database,
    dispatch_queue: MessageQueue,
    channel_queues: Mapping[str, MessageQueue],
    *,
    policy: RetryPolicy | None = None,
    publisher: EventPublisher | None = None,
    bulk_queues: Mapping[str, MessageQueue] | None = None,
) -> SweepResult:
    """Put all in-flight work back on the queues at once, after a restart that lost both the
    queues' messages and every worker (the local runtime: moto keeps queues in memory).

    Nothing then waits for a grace: no message is on its way and no worker holds a lease. A
    delivery whose provider call was cut off is sent again, as after any lost worker; one
    recorded as sent is not. A delivery waiting for a retry, or a throttled batch's for its
    wave, goes back with what remains of its wait as the message's delay.
    """
    with db.transaction() as conn:
        released = deliveries.release_leases(conn)
        waiting = deliveries.find_waiting_retries(conn, limit=_BATCH)
    if released:
        logger.warning("recovery: %d leases of workers that died released", released)
    result = sweep(
        db,
        dispatch_queue,
        channel_queues,
        grace=timedelta(0),
        delivery_grace=timedelta(0),
        policy=policy,
        publisher=publisher,
        bulk_queues=bulk_queues,
    )
    # Each back with what remains of its wait (beyond 15 minutes it hops, never early).
    by_lane: dict[tuple[str, Lane], list[dict[str, Any]]] = {}
    for d in waiting:
        by_lane.setdefault((d["tenant_id"], d["lane"]), []).append(
            {**d, "due": d["next_attempt_at"]}
        )
    for (tenant_id, lane), rows in by_lane.items():
        enqueue_waves(tenant_id, rows, lane, channel_queues, bulk_queues, now=datetime.now(UTC))
    return replace(result, deliveries_requeued=result.deliveries_requeued + len(waiting))
