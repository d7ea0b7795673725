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


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_seconds: float = 30
    # SQS caps a message delay at 15 minutes.
    cap_seconds: int = 900

    def delay_for(self, attempt: int) -> int:
        """Exponential backoff with jitter (half to full of the exponential step)."""
        step = min(self.cap_seconds, self.base_seconds * 2 ** (attempt - 1))
        return int(random.uniform(step / 2, step))  # noqa: S311 - jitter, not security


@dataclass
class BatchOutcome:
    sent: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    not_claimed: int = 0


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
        if status == "sent":
            outcome.sent.append(row["id"])
        elif status == "deferred":
            outcome.retrying.append(row["id"])
            retry_delay = max(retry_delay, delay)
        else:
            outcome.failed.append(row["id"])
        if status in ("sent", "failed"):
            events.append(_event(row, status, fields))

    if unexpected is not None:
        raise unexpected
    if outcome.retrying:
        retry_queue.send(
            ChannelMessage(
                tenant_id=message.tenant_id, channel=message.channel, delivery_ids=outcome.retrying
            ),
            delay_seconds=retry_delay,
        )
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
        if attempt >= policy.max_attempts:
            return "failed", {"provider": provider, "error": str(exc), "reason": "max_attempts"}, 0
        delay = policy.delay_for(attempt)
        next_at = datetime.now(UTC) + timedelta(seconds=delay)
        return (
            "deferred",
            {"provider": provider, "error": str(exc), "next_attempt_at": next_at},
            delay,
        )
    except PermanentSendError as exc:
        return "failed", {"provider": provider, "error": str(exc), "reason": "rejected"}, 0
    return "sent", {"provider": provider, "provider_message_id": message_id}, 0


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
