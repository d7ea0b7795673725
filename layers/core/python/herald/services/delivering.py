"""The channel-agnostic worker loop: claim, send through an adapter, record, retry."""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from herald.aws.sns import EventPublisher
from herald.aws.sqs import MessageQueue
from herald.channels.base import (
    FanOutResult,
    PermanentSendError,
    RetryableSendError,
    RetryAfterError,
)
from herald.db import deliveries, notifications, suppressions
from herald.db.connection import Connection, Database
from herald.errors import HeraldError
from herald.models.messages import ChannelMessage

logger = logging.getLogger(__name__)

M = TypeVar("M")
Compose = Callable[[dict[str, Any]], M]
"""Builds the provider message of one claimed delivery row (rendering its template)."""
Send = Callable[[M], str | FanOutResult]
"""Sends one message; returns the provider message id, or each target's outcome for a
message sent to several devices, or raises SendError."""
Store = Callable[[Connection, list[tuple[dict[str, Any], M]]], list[Any]]
"""Stores the composed messages of many claimed deliveries (row, message) in one statement,
inside the transaction that records their outcome; returns what it stored."""
Describe = Callable[[M], dict[str, Any]]
"""What to record about a composed message on its delivery (`attributes`), e.g. SMS segments."""
OnTargets = Callable[[dict[str, Any], FanOutResult], list[dict[str, Any]]]
"""Called (on the recording thread) with each fanned-out result, e.g. to deactivate the
devices that are gone; returns the events to publish."""


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
    # A send that found nothing to send to (every device gone since dispatch).
    skipped: list[str] = field(default_factory=list)
    # What a bulk channel stored (`deliver_stored_batch`), for its worker to announce.
    stored: list[Any] = field(default_factory=list)

    def count(self, delivery_id: str, status: str) -> None:
        lists = {"sent": self.sent, "deferred": self.retrying, "skipped": self.skipped}
        lists.get(status, self.failed).append(delivery_id)


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
    describe: Describe[M] | None = None,
    on_targets: OnTargets | None = None,
) -> BatchOutcome:
    """Send the deliveries of one channel message.

    Only deliveries this call claims are sent, so a redelivered message or a concurrent
    worker never sends twice. Messages are composed on this thread (rendering is CPU-bound
    and may read a template version); a delivery whose content cannot be rendered fails
    with reason `render_failed`; a composer may also refuse a delivery for good by raising
    PermanentSendError (its reason is recorded, no provider call is made). Provider calls
    run concurrently on `senders` (they are network-bound: one at a time, a batch of 500
    would outlast the function's timeout); each result is recorded by this thread as soon
    as it arrives, keeping the window in which a crash could cause a resend to the sends in
    flight. A permanent error that names a suppression (the recipient opted out at the
    provider) suppresses the address too; `describe` records facts about each composed
    message (e.g. SMS segments) on its delivery.

    A message sent to several devices (push, web push) returns each device's outcome: the
    delivery is `sent` when one accepted, retried when none did and one may later, else
    `failed`; its history event lists every device's result, and `on_targets` sees them.
    """
    # Single statements, each atomic on its own: no BEGIN/COMMIT round trips per delivery.
    conn = db.connection()
    claimed = deliveries.claim(conn, message.tenant_id, message.delivery_ids, lease_seconds)
    outcome = BatchOutcome(not_claimed=len(message.delivery_ids) - len(claimed))
    events: list[dict[str, Any]] = []
    retry_delay = 0
    attempts = {}
    described: dict[str, dict[str, Any]] = {}
    for row in claimed:
        try:
            composed = compose(row)
        except (HeraldError, PermanentSendError) as exc:
            _record_refusal(conn, row, exc)
            outcome.failed.append(row["id"])
            events.append(_event(row, "failed"))
            continue
        described[row["id"]] = describe(composed) if describe else {}
        attempts[senders.submit(_attempt, composed, send, provider, policy, row["attempts"])] = row
    unexpected: BaseException | None = None
    for future in as_completed(attempts):
        row = attempts[future]
        try:
            status, fields, delay, fanned_out = future.result()
        except Exception as exc:
            # Record every other result before failing the message: an unrecorded send
            # would be sent again once its lease lapses.
            unexpected = unexpected or exc
            continue
        _record_result(conn, row, status, fields, described.get(row["id"]))
        if fanned_out is not None and on_targets is not None:
            events.extend(on_targets(row, fanned_out))
        outcome.count(row["id"], status)
        if status == "deferred":
            retry_delay = max(retry_delay, delay)
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
        except (HeraldError, PermanentSendError) as exc:
            _record_refusal(conn, row, exc)
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


def _record_refusal(
    conn: Connection, row: dict[str, Any], exc: HeraldError | PermanentSendError
) -> None:
    """A delivery refused before any provider call: unrenderable, or refused by its composer."""
    if isinstance(exc, HeraldError):
        error, reason = exc.message, "render_failed"
    else:
        error, reason = str(exc), exc.reason
    deliveries.record_outcome(conn, row["id"], status="failed", error=error, reason=reason)


def _record_result(
    conn: Connection,
    row: dict[str, Any],
    status: str,
    fields: dict[str, Any],
    attributes: dict[str, Any] | None,
) -> None:
    """Record one attempt's result; suppress the address when the provider said so."""
    suppression = fields.pop("suppression", None)
    deliveries.record_outcome(conn, row["id"], status=status, attributes=attributes, **fields)
    if suppression and row["address"]:
        detail = {"delivery_id": row["id"], "error": fields.get("error")}
        suppressions.add_suppressions(
            conn, row["tenant_id"], [(row["address"], suppression, fields["provider"], detail)]
        )


Attempt = tuple[str, dict[str, Any], int, FanOutResult | None]
"""The new status, the fields to record, a retry's delay in seconds, the fanned-out result."""


def _attempt(
    message: M, send: Send[M], provider: str, policy: RetryPolicy, attempt: int
) -> Attempt:
    try:
        result = send(message)
    except RetryableSendError as exc:
        after = exc.retry_after_seconds if isinstance(exc, RetryAfterError) else None
        return (*_retry(provider, str(exc), policy, attempt, after), None)
    except PermanentSendError as exc:
        fields = {"provider": provider, "error": str(exc), "reason": exc.reason}
        if exc.suppression:
            fields["suppression"] = exc.suppression
        return "failed", fields, 0, None
    if isinstance(result, FanOutResult):
        return (*_fanned_out(result, provider, policy, attempt), result)
    return "sent", {"provider": provider, "provider_message_id": result}, 0, None


def _retry(
    provider: str, error: str, policy: RetryPolicy, attempt: int, retry_after: float | None
) -> tuple[str, dict[str, Any], int]:
    """Deferred with backoff, never sooner than the provider's Retry-After; failed once the
    attempts are spent."""
    if attempt >= policy.max_attempts:
        return "failed", {"provider": provider, "error": error, "reason": "max_attempts"}, 0
    delay = policy.delay_for(attempt)
    if retry_after is not None:
        delay = min(policy.cap_seconds, max(delay, math.ceil(retry_after)))
    next_at = datetime.now(UTC) + timedelta(seconds=delay)
    return "deferred", {"provider": provider, "error": error, "next_attempt_at": next_at}, delay


def _fanned_out(
    result: FanOutResult, provider: str, policy: RetryPolicy, attempt: int
) -> tuple[str, dict[str, Any], int]:
    """One delivery's status from its devices' outcomes."""
    targets = [
        {"device_id": o.target_id, "status": o.status, "detail": o.detail} for o in result.outcomes
    ]
    accepted = [o for o in result.outcomes if o.status == "accepted"]
    if accepted:
        fields = {"provider": provider, "provider_message_id": accepted[0].detail}
        return "sent", {**fields, "targets": targets}, 0
    if not result.outcomes:
        return "skipped", {"provider": provider, "reason": "no_device"}, 0
    errors = "; ".join(o.detail for o in result.outcomes)[:500]
    retries = [o for o in result.outcomes if o.status == "retry"]
    if retries:
        after = max((o.retry_after_seconds or 0 for o in retries), default=0) or None
        status, fields, delay = _retry(provider, errors, policy, attempt, after)
        return status, {**fields, "targets": targets}, delay
    gone = all(o.status == "gone" for o in result.outcomes)
    reason = "unregistered" if gone else "rejected"
    return (
        "failed",
        {"provider": provider, "error": errors, "reason": reason, "targets": targets},
        0,
    )


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
