"""The channel-agnostic worker loop: claim, send through an adapter, record, retry."""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Generic, TypeVar

from herald.aws.sns import EventPublisher
from herald.aws.sqs import MessageQueue
from herald.channels.base import (
    FanOutResult,
    PermanentSendError,
    RetryableSendError,
)
from herald.db import deliveries, notifications, suppressions
from herald.db.connection import Connection, Database
from herald.errors import HeraldError
from herald.models.messages import ChannelMessage, DispatchMessage
from herald.services import circuits
from herald.services.circuits import Circuit
from herald.services.completion import completion_events

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


# SQS caps a message delay at 15 minutes; longer waits are made of hops (`not_before`).
SQS_MAX_DELAY_SECONDS = 900
# Why a delivery waits when every integration of its channel is behind an open breaker.
PROVIDER_UNAVAILABLE = "provider_unavailable"


@dataclass(frozen=True)
class Route(Generic[M]):
    """One way out for a channel's messages: an integration of the tenant, behind its
    circuit breaker, or (no `integration_id`) the deployment's default account, behind the
    channel's breaker or (no `circuit`) none."""

    provider: str
    send: Send[M]
    integration_id: str | None = None
    circuit: Circuit | None = None


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
    # A send that found nothing to send to (every device gone since dispatch).
    skipped: list[str] = field(default_factory=list)
    # What a bulk channel stored (`deliver_stored_batch`), for its worker to announce.
    stored: list[Any] = field(default_factory=list)
    # The breakers this batch opened or closed (their `integration.circuit_*` events).
    circuit_changes: list[dict[str, Any]] = field(default_factory=list)

    def count(self, delivery_id: str, status: str) -> None:
        """Count a delivery by the status its attempt left it in (deferred: retrying)."""
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
    dispatch_queue: MessageQueue | None = None,
    routes: Sequence[Route[M]] | None = None,
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

    A notification with fallback channels is handed back to `dispatch_queue` when one of
    its deliveries gave up here or nothing of it is left in flight: dispatch takes the
    fallback steps then due, and closes it.

    `routes` are the tenant's integrations of the channel, by priority (default: `send`
    through `provider`, the deployment's account). A retryable failure, or an open breaker,
    moves a delivery on to the next route within the same attempt; a permanent failure does
    not. The delivery records the route that sent it, and its history every one tried. When
    every breaker is open, nothing is tried: the delivery waits (`deferred`, reason
    `provider_unavailable`) until the first breaker lets probes through, and the attempt is
    not counted. The breakers are written once, when the batch is recorded.
    """
    routes = routes or [Route(provider=provider, send=send)]
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
    described: dict[str, dict[str, Any]] = {}
    for row in claimed:
        try:
            composed = compose(row)
        except (HeraldError, PermanentSendError) as exc:
            reason = _record_refusal(conn, row, exc)
            outcome.failed.append(row["id"])
            events.append(delivery_event(row, "failed", {"reason": reason}))
            continue
        described[row["id"]] = describe(composed) if describe else {}
        attempts[senders.submit(_attempt, composed, routes, policy, row["attempts"])] = row
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
        # Survives a database restart in the middle of a batch: a result lost here would
        # be a second provider send once the lease lapses.
        db.run_reconnecting(
            partial(
                _record_result,
                row=row,
                status=status,
                fields=fields,
                attributes=described.get(row["id"]),
            )
        )
        if fanned_out is not None and on_targets is not None:
            events.extend(on_targets(row, fanned_out))
        outcome.count(row["id"], status)
        if status == "deferred":
            retry_delay = max(retry_delay, delay)
        if status in ("sent", "failed"):
            events.append(delivery_event(row, status, fields))

    used = [route.circuit for route in routes if route.circuit is not None]
    if used:
        with db.transaction() as tx:
            outcome.circuit_changes = circuits.save(tx, used)
        # A default account's breaker belongs to no tenant: logged and counted, not published.
        events.extend(c for c in outcome.circuit_changes if c["tenant_id"] is not None)
    if unexpected is not None:
        raise unexpected
    if outcome.retrying:
        _requeue(retry_queue, message, outcome.retrying, retry_delay)
    _finish(
        db.connection(),
        message,
        claimed,
        events,
        publisher,
        outcome=outcome,
        dispatch_queue=dispatch_queue,
    )
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
    dispatch_queue: MessageQueue | None = None,
) -> BatchOutcome:
    """Deliver one channel message by storing it: the loop of a channel whose "provider" is
    Herald's own database (the in-app inbox), so there is nothing to retry.

    Claims like `deliver_batch` (a redelivered message or a concurrent worker stores
    nothing twice), composes each delivery (a render failure fails that delivery alone),
    then stores every message and records every outcome as `status` in one transaction:
    a few statements per batch, whatever its size. Fallbacks: as `deliver_batch`.
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
            reason = _record_refusal(conn, row, exc)
            outcome.failed.append(row["id"])
            events.append(delivery_event(row, "failed", {"reason": reason}))
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
                events.append(delivery_event(row, status, {"provider": provider}))
    _finish(
        conn, message, claimed, events, publisher, outcome=outcome, dispatch_queue=dispatch_queue
    )
    return outcome


def _finish(
    conn: Connection,
    message: ChannelMessage,
    claimed: list[dict[str, Any]],
    events: list[dict[str, Any]],
    publisher: EventPublisher,
    *,
    outcome: BatchOutcome,
    dispatch_queue: MessageQueue | None,
) -> None:
    """Close the notifications left with nothing in flight (those with fallback channels:
    wake their dispatch up), then publish every event.

    A message that comes back with deliveries it can no longer claim may be the redelivery
    of one whose worker recorded them, then failed before this step (killed, or the
    database went away): their notifications are looked at again too, so none stays open.
    """
    touched = list({row["notification_id"] for row in claimed})
    if outcome.not_claimed:
        ours = {row["id"] for row in claimed}
        others = [d for d in message.delivery_ids if d not in ours]
        touched = list({*touched, *deliveries.notifications_of(conn, message.tenant_id, others)})
    gave_up = set(outcome.failed) | set(outcome.skipped)
    if touched and dispatch_queue is not None:
        dispatch_queue.send_many(
            [
                DispatchMessage(tenant_id=n["tenant_id"], notification_id=n["id"])
                for n in notifications.to_cascade(
                    conn,
                    touched,
                    gave_up={r["notification_id"] for r in claimed if r["id"] in gave_up},
                )
            ]
        )
    if touched:
        events.extend(completion_events(conn, notifications.complete_finished(conn, touched)))
    if events:
        publisher.publish(events)


def _record_refusal(
    conn: Connection, row: dict[str, Any], exc: HeraldError | PermanentSendError
) -> str:
    """A delivery refused before any provider call: unrenderable, or refused by its composer.
    Returns the reason recorded."""
    if isinstance(exc, HeraldError):
        error, reason = exc.message, "render_failed"
    else:
        error, reason = str(exc), exc.reason
    deliveries.record_outcome(conn, row["id"], status="failed", error=error, reason=reason)
    return reason


def _record_result(
    conn: Connection,
    *,
    row: dict[str, Any],
    status: str,
    fields: dict[str, Any],
    attributes: dict[str, Any] | None,
) -> None:
    """Record one attempt's result; suppress the address when the provider said so."""
    fields = dict(fields)  # may run twice (`run_reconnecting`)
    suppression = fields.pop("suppression", None)
    deliveries.record_outcome(conn, row["id"], status=status, attributes=attributes, **fields)
    if suppression and row["address"]:
        detail = {"delivery_id": row["id"], "error": fields.get("error")}
        suppressions.add_suppressions(
            conn, row["tenant_id"], [(row["address"], suppression, fields["provider"], detail)]
        )


Attempt = tuple[str, dict[str, Any], int, FanOutResult | None]
"""The new status, the fields to record, a retry's delay in seconds, the fanned-out result."""


def _attempt(message: M, routes: Sequence[Route[M]], policy: RetryPolicy, attempt: int) -> Attempt:
    """Send through the first route that takes it: a retryable failure or an open breaker
    moves on to the next one."""
    tried: list[dict[str, Any]] = []
    last: tuple[Route[M], RetryableSendError] | None = None
    for route in routes:
        if route.circuit is not None and not route.circuit.allows():
            continue
        try:
            result = route.send(message)
        except RetryableSendError as exc:
            _feed(route, failed=True)
            tried.append(_tried(route, str(exc)))
            last = (route, exc)
            continue
        except PermanentSendError as exc:
            # The provider answered: about the message or the address, not its own health.
            _feed(route, failed=False)
            fields = {**_sent_by(route, tried), "error": str(exc), "reason": exc.reason}
            if exc.suppression:
                fields["suppression"] = exc.suppression
            return "failed", fields, 0, None
        _feed(route, failed=isinstance(result, FanOutResult) and _all_retry(result))
        if isinstance(result, FanOutResult):
            status, fields, delay = _fanned_out(result, route.provider, policy, attempt)
            return status, {**fields, **_sent_by(route, tried)}, delay, result
        return "sent", {**_sent_by(route, tried), "provider_message_id": result}, 0, None
    if last is None:
        return _unavailable(routes)
    last_route, error = last
    status, fields, delay = _retry(
        last_route.provider, str(error), policy, attempt, error.retry_after_seconds
    )
    return status, {**fields, **_sent_by(last_route, tried)}, delay, None


def _feed(route: Route[Any], *, failed: bool) -> None:
    if route.circuit is not None:
        route.circuit.record(failed)


def _all_retry(result: FanOutResult) -> bool:
    return bool(result.outcomes) and all(o.status == "retry" for o in result.outcomes)


def _tried(route: Route[Any], error: str) -> dict[str, Any]:
    return {"integration_id": route.integration_id, "provider": route.provider, "error": error}


def _sent_by(route: Route[Any], tried: list[dict[str, Any]]) -> dict[str, Any]:
    """The fields naming the route an attempt ended on, and (after a failover) the ones
    tried before it."""
    fields: dict[str, Any] = {"provider": route.provider, "integration_id": route.integration_id}
    if tried and (len(tried) > 1 or tried[0]["integration_id"] != route.integration_id):
        fields["tried"] = tried
    return fields


def _unavailable(routes: Sequence[Route[Any]]) -> Attempt:
    """Every breaker open: wait until the first lets probes through, attempt not counted."""
    reopen = [r.circuit.reopens_at() for r in routes if r.circuit is not None]
    due = min((at for at in reopen if at is not None), default=datetime.now(UTC))
    delay = max(1, math.ceil((due - datetime.now(UTC)).total_seconds()))
    fields = {
        "provider": None,
        "error": (
            "every integration of the channel is behind an open circuit breaker"
            if any(r.integration_id is not None for r in routes)
            else f"the deployment's {routes[0].provider} account is behind an open circuit breaker"
        ),
        "reason": PROVIDER_UNAVAILABLE,
        "next_attempt_at": datetime.now(UTC) + timedelta(seconds=delay),
        "refund_attempt": True,
    }
    return "deferred", fields, delay, None


def _retry(
    provider: str, error: str, policy: RetryPolicy, attempt: int, retry_after: float | None
) -> tuple[str, dict[str, Any], int]:
    """Deferred by the policy's next wait, never sooner than the provider's Retry-After (a
    wait past SQS's 15 minutes hops, see `_requeue`); failed once the attempts are spent."""
    wait = policy.next_delay(attempt)
    if wait is None:
        return "failed", {"provider": provider, "error": error, "reason": "max_attempts"}, 0
    delay = max(int(wait), math.ceil(retry_after or 0))
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
            lane=message.lane,
        ),
        delay_seconds=min(delay, SQS_MAX_DELAY_SECONDS),
    )


def delivery_event(row: dict[str, Any], status: str, fields: dict[str, Any]) -> dict[str, Any]:
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
