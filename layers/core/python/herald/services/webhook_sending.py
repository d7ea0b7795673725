"""Outbound webhooks at run time: fan status events out to endpoints, send, retry, disable.

A status event from the SNS topic becomes one message per enabled endpoint of its tenant
subscribed to its type (stored once, whatever the queue redelivers); each message is sent
at once and, while it fails, again on the retry schedule (about a day). Every attempt is
logged. An endpoint answering 410 is disabled at once, one failing every attempt for five
days too; both publish `webhook.endpoint_disabled`.

Waits longer than SQS's 15-minute delay limit are made of 15-minute hops: a message that
arrives before its `due_at` goes back on the queue for the rest of the wait (at most 15
minutes at a time), touching nothing else. Over the whole schedule that is about 110 SQS
messages per waiting group of messages, cheaper and simpler than a Scheduler schedule per
retry, and it needs no other resource or permission.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from herald.aws.sns import EventPublisher
from herald.aws.sqs import MessageQueue
from herald.channels.webhook_http import PostResult, WebhookPoster, signature_headers
from herald.db import webhooks
from herald.db.connection import Connection, Database, Row
from herald.ids import new_id
from herald.models.messages import MAX_DELIVERIES_PER_MESSAGE, WebhookSendMessage
from herald.services.delivering import RetryPolicy, hop_delay

logger = logging.getLogger(__name__)

DELIVERY_FIELDS = (
    "delivery_id",
    "notification_id",
    "channel",
    "status",
    "reason",
    "provider",
    "recipient",
    "at",
)
NOTIFICATION_FIELDS = ("notification_id", "status", "at")


@dataclass(frozen=True)
class WebhookPorts:
    """What sending needs: the queue retries go back to, the events topic, the poster."""

    queue: MessageQueue
    publisher: EventPublisher
    poster: WebhookPoster
    policy: RetryPolicy  # with the webhook schedule
    disable_after: timedelta
    lease_seconds: int
    senders: Executor


@dataclass
class SendOutcome:
    delivered: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    not_claimed: int = 0


def rfc3339(value: datetime | str | None) -> str:
    """`2026-12-01T09:00:00.123Z` for an aware datetime or an ISO string; now when None."""
    if value is None:
        when = datetime.now(UTC)
    elif isinstance(value, str):
        when = datetime.fromisoformat(value)
    else:
        when = value
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_payload(event: dict[str, Any]) -> dict[str, Any]:
    """The `{"type", "timestamp", "data"}` payload of a status event from the topic."""
    event_type = str(event["type"])
    if event_type.startswith("delivery."):
        data = {name: event.get(name) for name in DELIVERY_FIELDS}
    elif event_type.startswith("notification."):
        data = {name: event.get(name) for name in NOTIFICATION_FIELDS}
    else:
        data = {k: v for k, v in event.items() if k not in ("type", "tenant_id")}
    if isinstance(data.get("at"), str):
        data["at"] = rfc3339(data["at"])
    return {"type": event_type, "timestamp": rfc3339(event.get("at")), "data": data}


def payload_body(payload: dict[str, Any]) -> str:
    """The JSON text sent, compact; stored once, so every attempt sends the same bytes."""
    return json.dumps(payload, separators=(",", ":"), default=str)


def fan_out(db: Database, events: Sequence[tuple[str, dict[str, Any]]]) -> list[Row]:
    """Store one message per subscribed endpoint and event; returns (id, tenant_id) of the
    messages stored now. `events` are (source id, event): a source id seen before for an
    endpoint stores nothing again, so a redelivered queue message is harmless."""
    conn = db.connection()
    subscribed = webhooks.subscribed_endpoints(
        conn, [(event["tenant_id"], event["type"]) for _, event in events]
    )
    now = datetime.now(UTC)
    by_key: dict[tuple[str, str], list[str]] = {}
    for row in subscribed:
        by_key.setdefault((row["tenant_id"], row["event_type"]), []).append(row["endpoint_id"])
    new = [
        webhooks.NewMessage(
            id=new_id("msg"),
            tenant_id=event["tenant_id"],
            endpoint_id=endpoint_id,
            source_id=source_id,
            event_type=event["type"],
            body=payload_body(event_payload(event)),
            next_attempt_at=now,
        )
        for source_id, event in events
        for endpoint_id in by_key.get((event["tenant_id"], event["type"]), [])
    ]
    return webhooks.insert_messages(conn, new)


def send_stored(db: Database, stored: Sequence[Row], ports: WebhookPorts) -> SendOutcome:
    """Send messages just stored by `fan_out` (due when stored), one tenant at a time."""
    outcome = SendOutcome()
    by_tenant: dict[str, list[str]] = {}
    for row in stored:
        by_tenant.setdefault(row["tenant_id"], []).append(row["id"])
    now = datetime.now(UTC)
    for tenant_id, ids in by_tenant.items():
        for start in range(0, len(ids), MAX_DELIVERIES_PER_MESSAGE):
            chunk = ids[start : start + MAX_DELIVERIES_PER_MESSAGE]
            _merge(outcome, send_messages(db, tenant_id, chunk, now, ports))
    return outcome


def handle_send_message(db: Database, message: WebhookSendMessage, ports: WebhookPorts) -> None:
    """A retry, test or replay from the queue: hop again if early, else send what is due."""
    now = datetime.now(UTC)
    if message.due_at > now:
        enqueue_send(ports.queue, message.tenant_id, message.message_ids, message.due_at)
        return
    send_messages(db, message.tenant_id, message.message_ids, message.due_at, ports)


def enqueue_send(
    queue: MessageQueue, tenant_id: str, message_ids: Sequence[str], due_at: datetime
) -> None:
    """Queue messages to be sent at `due_at` (a hop of at most 15 minutes towards it)."""
    delay = hop_delay(due_at)
    queue.send_many(
        [
            WebhookSendMessage(
                tenant_id=tenant_id,
                message_ids=list(message_ids[start : start + MAX_DELIVERIES_PER_MESSAGE]),
                due_at=due_at,
            )
            for start in range(0, len(message_ids), MAX_DELIVERIES_PER_MESSAGE)
        ],
        delay_seconds=delay,
    )


def send_messages(
    db: Database,
    tenant_id: str,
    message_ids: Sequence[str],
    due_at: datetime,
    ports: WebhookPorts,
) -> SendOutcome:
    """Claim the messages due by `due_at`, POST each, log each attempt as it ends, and
    queue the retries. Only claimed messages are sent: a duplicate queue message or a
    concurrent worker never sends one twice."""
    conn = db.connection()
    claimed = webhooks.claim_messages(conn, tenant_id, message_ids, due_at, ports.lease_seconds)
    outcome = SendOutcome(not_claimed=len(message_ids) - len(claimed))
    posts = {ports.senders.submit(_post, ports.poster, row): row for row in claimed}
    retries: dict[datetime, list[str]] = {}
    disabled: list[dict[str, Any]] = []
    unexpected: BaseException | None = None
    for future in as_completed(posts):
        row = posts[future]
        try:
            result = future.result()
        except Exception as exc:
            # Record the others first: an unrecorded send would be sent again.
            unexpected = unexpected or exc
            continue
        next_at = _record(conn, row, result=result, ports=ports, outcome=outcome, disabled=disabled)
        if next_at is not None:
            retries.setdefault(next_at, []).append(row["id"])
    for next_at, ids in _grouped(retries).items():
        enqueue_send(ports.queue, tenant_id, ids, next_at)
    if disabled:
        ports.publisher.publish(disabled)
    if unexpected is not None:
        raise unexpected
    return outcome


def resend_stalled(
    db: Database, queue: MessageQueue, *, older_than: timedelta, limit: int = 5_000
) -> int:
    """Queue again the messages overdue by `older_than` that no queue message will send
    (the sweeper's part for webhooks); returns how many."""
    now = datetime.now(UTC)
    rows = webhooks.stalled_messages(db.connection(), now - older_than, limit)
    by_tenant: dict[str, list[str]] = {}
    for row in rows:
        by_tenant.setdefault(row["tenant_id"], []).append(row["id"])
    for tenant_id, ids in by_tenant.items():
        enqueue_send(queue, tenant_id, ids, now)
    return len(rows)


def _post(poster: WebhookPoster, row: Row) -> PostResult:
    body = str(row["body"])
    secrets = [row["secret"], *([row["previous_secret"]] if row["previous_secret"] else [])]
    headers = signature_headers(row["id"], datetime.now(UTC), body, secrets)
    return poster.post(row["url"], body, headers)


def _record(
    conn: Connection,
    row: Row,
    *,
    result: PostResult,
    ports: WebhookPorts,
    outcome: SendOutcome,
    disabled: list[dict[str, Any]],
) -> datetime | None:
    """Log one attempt; returns when to try again, None when the message is done."""
    attempts_made = row["attempts"] + 1
    next_at: datetime | None = None
    gone = result.status_code == 410
    if result.succeeded:
        status = "delivered"
        outcome.delivered.append(row["id"])
    else:
        delay = None if gone else ports.policy.next_delay(attempts_made)
        if delay is not None and result.retry_after_seconds is not None:
            delay = max(delay, result.retry_after_seconds)
        if delay is None:
            status = "failed"
            outcome.failed.append(row["id"])
        else:
            status = "pending"
            next_at = datetime.now(UTC) + timedelta(seconds=delay)
            outcome.retrying.append(row["id"])
    failing_since = webhooks.record_attempt(
        conn,
        webhooks.Attempt(
            id=new_id("att"),
            message=row,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            response_excerpt=result.excerpt,
            error=result.error,
            message_status=status,
            next_attempt_at=next_at,
        ),
    )
    reason = None
    if gone:
        reason = "gone"
    elif failing_since is not None and datetime.now(UTC) - failing_since >= ports.disable_after:
        reason = "failing"
    if reason is not None:
        endpoint = webhooks.disable_endpoint(conn, row["endpoint_id"], reason)
        if endpoint is not None:
            logger.warning("webhook endpoint %s disabled (%s)", endpoint["id"], reason)
            disabled.append(_disabled_event(endpoint, reason))
            return None
    return next_at


def _disabled_event(endpoint: Row, reason: str) -> dict[str, Any]:
    return {
        "type": "webhook.endpoint_disabled",
        "tenant_id": endpoint["tenant_id"],
        "endpoint_id": endpoint["id"],
        "url": endpoint["url"],
        "reason": reason,
        "at": rfc3339(None),
    }


def _grouped(retries: dict[datetime, list[str]]) -> dict[datetime, list[str]]:
    """Retries due within a minute of each other share one queue message, due at the
    latest of them (jitter spreads them by seconds; one message serves them all)."""
    groups: dict[datetime, list[str]] = {}
    first: datetime | None = None
    latest: datetime | None = None
    ids: list[str] = []
    for when in sorted(retries):
        if first is not None and latest is not None and when - first > timedelta(minutes=1):
            groups[latest] = ids
            ids = []
            first = None
        first = first or when
        latest = when
        ids.extend(retries[when])
    if latest is not None and ids:
        groups[latest] = ids
    return groups


def _merge(total: SendOutcome, part: SendOutcome) -> None:
    total.delivered += part.delivered
    total.retrying += part.retrying
    total.failed += part.failed
    total.not_claimed += part.not_claimed
