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
from herald.db.connection import Connection, Database
from herald.errors import HeraldError
from herald.models.messages import ChannelMessage

logger = logging.getLogger(__name__)

M = TypeVar("M")
Compose = Callable[[dict[str, Any]], M]
"""Builds the provider message of one claimed delivery row (rendering its template)."""
Send = Callable[[M], str]
"""Sends one message; returns the provider message id or raises SendError."""
Store = Callable[[Connection, list[tuple[dict[str, Any], M]]], list[Any]]
"""Stores the composed messages of many claimed deliveries (row, message) in one statement,
inside the transaction that records their outcome; returns what it stored."""


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
    # What a bulk channel stored (`deliver_stored_batch`), for its worker to announce.
    stored: list[Any] = field(default_factory=list)


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
            events.append(_event(row, "failed"))
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
            events.append(_event(row, status))

    if unexpected is not None:
        raise unexpected
    if outcome.retrying:
        retry_queue.send(
            ChannelMessage(
                tenant_id=message.tenant_id, channel=message.channel, delivery_ids=outcome.retrying
            ),
            delay_seconds=retry_delay,
        )
    _finish(conn, claimed, events, publisher)
    return outcome


def deliver_stored_batch(
    db: Database,
    message: ChannelMessage,
    *,
    provider: str,
    compose: Compose[M],
    store: Store[M],
    status: str,
    publisher: EventPublisher,
    lease_seconds: int,
) -> BatchOutcome:
    """Deliver one channel message by storing it: the loop of a channel whose "provider" is
    Herald's own database (the in-app inbox), so there is nothing to retry.

    Claims like `deliver_batch` (a redelivered message or a concurrent worker stores
    nothing twice), composes each delivery (a render failure fails that delivery alone),
    then stores every message and records every outcome as `status` in one transaction:
    a few statements per batch, whatever its size.
    """
    conn = db.connection()
    claimed = deliveries.claim(conn, message.tenant_id, message.delivery_ids, lease_seconds)
    outcome = BatchOutcome(not_claimed=len(message.delivery_ids) - len(claimed))
    events: list[dict[str, Any]] = []
    composed: list[tuple[dict[str, Any], M]] = []
    for row in claimed:
        try:
            composed.append((row, compose(row)))
        except HeraldError as exc:
            deliveries.record_outcome(
                conn, row["id"], status="failed", error=exc.message, reason="render_failed"
            )
            outcome.failed.append(row["id"])
            events.append(_event(row, "failed"))
    if composed:
        with db.transaction() as tx:
            outcome.stored = store(tx, composed)
            moved = set(
                deliveries.record_many(
                    tx, [row["id"] for row, _ in composed], status=status, provider=provider
                )
            )
        for row, _ in composed:
            if row["id"] in moved:
                outcome.sent.append(row["id"])
                events.append(_event(row, status))
    _finish(conn, claimed, events, publisher)
    return outcome


def _finish(
    conn: Connection,
    claimed: list[dict[str, Any]],
    events: list[dict[str, Any]],
    publisher: EventPublisher,
) -> None:
    """Close the notifications left with nothing in flight, then publish every event."""
    touched = list({row["notification_id"] for row in claimed})
    if touched:
        events.extend(
            {
                "type": "notification.completed",
                "tenant_id": n["tenant_id"],
                "notification_id": n["id"],
                "status": n["status"],
                "at": datetime.now(UTC).isoformat(),
            }
            for n in notifications.complete_finished(conn, touched)
        )
    if events:
        publisher.publish(events)


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


def _event(row: dict[str, Any], status: str) -> dict[str, Any]:
    return {
        "type": f"delivery.{status}",
        "tenant_id": row["tenant_id"],
        "notification_id": row["notification_id"],
        "delivery_id": row["id"],
        "channel": row["channel"],
        "status": status,
        "at": datetime.now(UTC).isoformat(),
    }
