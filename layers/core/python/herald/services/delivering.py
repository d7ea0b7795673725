"""The channel-agnostic worker loop: claim, send through an adapter, record, retry."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from herald.aws.sns import EventPublisher
from herald.aws.sqs import MessageQueue
from herald.channels.base import PermanentSendError, RetryableSendError
from herald.db import deliveries, notifications
from herald.db.connection import Database
from herald.errors import HeraldError
from herald.models.messages import ChannelMessage

logger = logging.getLogger(__name__)

M = TypeVar("M")
Compose = Callable[[dict[str, Any]], M]
"""Builds the provider message of one claimed delivery row (rendering its template)."""
Send = Callable[[M], str]
"""Sends one message; returns the provider message id or raises SendError."""


# SQS caps a message delay at 15 minutes; longer waits are made of hops (`not_before`).
SQS_MAX_DELAY_SECONDS = 900


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_seconds: float = 30
    cap_seconds: int = SQS_MAX_DELAY_SECONDS
    # A fixed schedule instead of the exponential backoff above: the wait before each
    # attempt (the first is the first attempt's), each spread by up to ±10%, as many
    # attempts as entries. Waits may pass SQS's 15 minutes (webhooks retry for about a day).
    schedule: tuple[float, ...] = ()

    def delay_for(self, attempt: int) -> int:
        """Exponential backoff with jitter (half to full of the exponential step)."""
        step = min(self.cap_seconds, self.base_seconds * 2 ** (attempt - 1))
        return int(random.uniform(step / 2, step))  # noqa: S311 - jitter, not security

    def next_delay(self, attempts_made: int) -> float | None:
        """The wait before the next attempt once `attempts_made` attempts failed; None when
        no attempt is left."""
        if not self.schedule:
            return None if attempts_made >= self.max_attempts else self.delay_for(attempts_made)
        if attempts_made >= len(self.schedule):
            return None
        step = self.schedule[attempts_made]
        return step * random.uniform(0.9, 1.1)  # noqa: S311 - jitter, not security


@dataclass
class BatchOutcome:
    sent: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    not_claimed: int = 0

    def count(self, status: str, delivery_id: str) -> None:
        """Count a delivery by the status its attempt left it in (deferred: retrying)."""
        {"sent": self.sent, "deferred": self.retrying}.get(status, self.failed).append(delivery_id)


def deliver_batch(
    db: Database,
    message: ChannelMessage,
    *,
    provider: str,
    compose: Compose[M],
    send: Send[M],
    retry_queue: MessageQueue,
    publisher: EventPublisher,
    policy: RetryPolicy,
    lease_seconds: int,
    senders: Executor,
) -> BatchOutcome:
    """Send the deliveries of one channel message.

    Only deliveries this call claims are sent, so a redelivered message or a concurrent
    worker never sends twice. Messages are composed on this thread (rendering is CPU-bound
    and may read a template version); a delivery whose content cannot be rendered fails
    with reason `render_failed`. Provider calls run concurrently on `senders` (they are
    network-bound: one at a time, a batch of 500 would outlast the function's timeout);
    each result is recorded by this thread as soon as it arrives, keeping the window in
    which a crash could cause a resend to the sends in flight.
    """
    if message.not_before is not None and message.not_before > datetime.now(UTC):
        # A long retry wait, not over yet: one more hop, nothing else.
        retry_queue.send(message, delay_seconds=hop_delay(message.not_before))
        return BatchOutcome()
    # Single statements, each atomic on its own: no BEGIN/COMMIT round trips per delivery.
    conn = db.connection()
    claimed = deliveries.claim(conn, message.tenant_id, message.delivery_ids, lease_seconds)
    outcome = BatchOutcome(not_claimed=len(message.delivery_ids) - len(claimed))
    events: list[dict[str, Any]] = []
    retry_delay = 0
    attempts = {}
    for row in claimed:
        try:
            composed = compose(row)
        except HeraldError as exc:
            deliveries.record_outcome(
                conn, row["id"], status="failed", error=exc.message, reason="render_failed"
            )
            outcome.failed.append(row["id"])
            events.append(_event(row, "failed", {"reason": "render_failed"}))
            continue
        attempts[senders.submit(_attempt, composed, send, provider, policy, row["attempts"])] = row
    unexpected: BaseException | None = None
    for future in as_completed(attempts):
        row = attempts[future]
        try:
            status, fields, delay = future.result()
        except Exception as exc:
            # Record every other result before failing the message: an unrecorded send
            # would be sent again once its lease lapses.
            unexpected = unexpected or exc
            continue
        deliveries.record_outcome(conn, row["id"], status=status, **fields)
        outcome.count(status, row["id"])
        if status == "deferred":
            retry_delay = max(retry_delay, delay)
        if status in ("sent", "failed"):
            events.append(_event(row, status, fields))

    if unexpected is not None:
        raise unexpected
    if outcome.retrying:
        _requeue(retry_queue, message, outcome.retrying, retry_delay)
    touched = list({row["notification_id"] for row in claimed})
    if touched:
        closed = notifications.complete_finished(conn, touched)
        events.extend(
            {
                "type": "notification.completed",
                "tenant_id": n["tenant_id"],
                "notification_id": n["id"],
                "status": n["status"],
                "at": datetime.now(UTC).isoformat(),
            }
            for n in closed
        )
    if events:
        publisher.publish(events)
    return outcome


def _attempt(
    message: M, send: Send[M], provider: str, policy: RetryPolicy, attempt: int
) -> tuple[str, dict[str, Any], int]:
    """Returns the new status, the fields to record and, for a retry, its delay in seconds."""
    try:
        message_id = send(message)
    except RetryableSendError as exc:
        wait = policy.next_delay(attempt)
        if wait is None:
            return "failed", {"provider": provider, "error": str(exc), "reason": "max_attempts"}, 0
        delay = max(int(wait), exc.retry_after_seconds or 0)
        next_at = datetime.now(UTC) + timedelta(seconds=delay)
        return (
            "deferred",
            {"provider": provider, "error": str(exc), "next_attempt_at": next_at},
            delay,
        )
    except PermanentSendError as exc:
        return "failed", {"provider": provider, "error": str(exc), "reason": "rejected"}, 0
    return "sent", {"provider": provider, "provider_message_id": message_id}, 0


def hop_delay(not_before: datetime) -> int:
    """The delay of the next hop towards `not_before`: the rest of the wait, at most 15 min."""
    wait = (not_before - datetime.now(UTC)).total_seconds()
    return max(0, min(SQS_MAX_DELAY_SECONDS, int(wait + 0.999)))


def _requeue(
    retry_queue: MessageQueue, message: ChannelMessage, delivery_ids: list[str], delay: int
) -> None:
    """Send the deliveries to retry back to their queue, due in `delay` seconds."""
    not_before = None
    if delay > SQS_MAX_DELAY_SECONDS:
        not_before = datetime.now(UTC) + timedelta(seconds=delay)
    retry_queue.send(
        ChannelMessage(
            tenant_id=message.tenant_id,
            channel=message.channel,
            delivery_ids=delivery_ids,
            not_before=not_before,
        ),
        delay_seconds=min(delay, SQS_MAX_DELAY_SECONDS),
    )


def _event(row: dict[str, Any], status: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A delivery status event, with what webhook subscribers see of the delivery."""
    return {
        "type": f"delivery.{status}",
        "tenant_id": row["tenant_id"],
        "notification_id": row["notification_id"],
        "delivery_id": row["id"],
        "channel": row["channel"],
        "status": status,
        "reason": fields.get("reason"),
        "provider": fields.get("provider"),
        "recipient": row.get("recipient"),
        "at": datetime.now(UTC).isoformat(),
    }
