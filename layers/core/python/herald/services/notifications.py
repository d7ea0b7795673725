"""Accepting notifications and reading them back."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from herald.aws.scheduler import OneTimeScheduler
from herald.aws.sqs import MessageQueue
from herald.db import deliveries, idempotency, notifications
from herald.db.connection import Database
from herald.errors import Conflict, InvalidRequest, NotFound, Unprocessable
from herald.ids import new_id
from herald.models.common import Channel, Page
from herald.models.messages import DispatchMessage
from herald.models.notifications import (
    DeliveryEventOut,
    DeliveryOut,
    NotificationAccepted,
    NotificationOut,
    NotificationSummary,
    SendNotificationRequest,
)

logger = logging.getLogger(__name__)

# Channels with a worker in this release. The API accepts every channel name of the
# contract and answers 422 for one that cannot be delivered yet, rather than dropping it.
AVAILABLE_CHANNELS: frozenset[Channel] = frozenset({"email"})
IDEMPOTENCY_TTL_HOURS = 24
# A send_at this far in the past is a mistake, not clock skew.
SEND_AT_TOLERANCE = timedelta(seconds=5)
MAX_SCHEDULE_AHEAD = timedelta(days=366)


@dataclass(frozen=True)
class SendPorts:
    dispatch_queue: MessageQueue
    scheduler: OneTimeScheduler


@dataclass(frozen=True)
class SendResult:
    status_code: int
    body: dict[str, Any]
    replayed: bool


def request_hash(request: SendNotificationRequest) -> str:
    """Hash of the request's meaning, so re-serialised JSON still counts as the same body."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _channels_for(request: SendNotificationRequest) -> list[Channel]:
    if request.template is not None:
        raise Unprocessable(
            f"template '{request.template}' not found",
            [{"field": "template", "message": "no template with this key"}],
        )
    assert request.content is not None
    defined = request.content.channels()
    channels = request.channels or defined
    problems = []
    for field, names in (("channels", channels), ("fallback", request.fallback)):
        for name in names:
            if name not in AVAILABLE_CHANNELS:
                problems.append(
                    {"field": field, "message": f"channel '{name}' is not available yet"}
                )
            elif name not in defined:
                problems.append(
                    {"field": field, "message": f"no content given for channel '{name}'"}
                )
            elif field == "fallback" and name in channels:
                problems.append(
                    {"field": field, "message": f"'{name}' is already a primary channel"}
                )
    if problems:
        raise Unprocessable("some channels cannot be sent", problems)
    return list(dict.fromkeys(channels))


def accept_notification(
    db: Database,
    ports: SendPorts,
    tenant_id: str,
    request: SendNotificationRequest,
    *,
    idempotency_key: str | None,
    now: datetime | None = None,
) -> SendResult:
    """Validate, store and hand a notification to the pipeline.

    Committed before it is enqueued: if the process dies in between, the sweeper finds the
    notification still `accepted` and enqueues it. Nothing accepted is lost.
    """
    now = now or datetime.now(UTC)
    channels = _channels_for(request)
    send_at = request.send_at
    if send_at is not None:
        if send_at < now - SEND_AT_TOLERANCE:
            raise Unprocessable(
                "send_at is in the past", [{"field": "send_at", "message": "must be in the future"}]
            )
        if send_at > now + MAX_SCHEDULE_AHEAD:
            raise Unprocessable(
                "send_at is too far ahead",
                [{"field": "send_at", "message": "at most 366 days ahead"}],
            )
        if send_at <= now:
            send_at = None

    notification_id = new_id("ntf")
    status = "scheduled" if send_at else "accepted"
    body = NotificationAccepted(
        id=notification_id, status=status, recipient_count=len(request.recipients)
    ).model_dump(mode="json")

    with db.transaction() as conn:
        if idempotency_key is not None:
            fingerprint = request_hash(request)
            claimed = idempotency.claim_key(
                conn,
                tenant_id=tenant_id,
                key=idempotency_key,
                request_hash=fingerprint,
                response_status=202,
                response_body=body,
                ttl_hours=IDEMPOTENCY_TTL_HOURS,
            )
            if not claimed:
                previous = idempotency.get_key(conn, tenant_id, idempotency_key)
                assert previous is not None
                if previous["request_hash"] != fingerprint:
                    raise Conflict("Idempotency-Key was already used with a different request body")
                return SendResult(previous["response_status"], previous["response_body"], True)
        notifications.insert_notification(
            conn,
            notification_id=notification_id,
            tenant_id=tenant_id,
            status=status,
            channels=channels,
            recipients=[r.model_dump(mode="json", exclude_none=True) for r in request.recipients],
            content=request.content.model_dump(mode="json", exclude_none=True)
            if request.content
            else {},
            category=request.category,
            priority=request.priority,
            critical=request.critical,
            metadata=request.metadata,
            send_at=send_at,
            schedule_name=notification_id if send_at else None,
        )

    message = DispatchMessage(tenant_id=tenant_id, notification_id=notification_id)
    try:
        if send_at:
            ports.scheduler.schedule(notification_id, send_at, message.model_dump_json())
        else:
            ports.dispatch_queue.send(message)
    except Exception:
        # Stored and acknowledged: the sweeper will dispatch it. Failing the request now
        # would make the caller retry and, without an idempotency key, send twice.
        logger.exception(
            "handing %s to the pipeline failed; the sweeper will retry", notification_id
        )
    return SendResult(202, body, False)


def get_notification(db: Database, tenant_id: str, notification_id: str) -> NotificationOut:
    """The notification with every delivery and its status history. 404 across tenants."""
    conn = db.connection()
    row = notifications.get_notification(conn, tenant_id, notification_id)
    if row is None:
        raise NotFound(f"notification {notification_id} not found")
    delivery_rows = deliveries.list_for_notification(conn, notification_id)
    event_rows = deliveries.events_for_notification(conn, notification_id)
    events: dict[str, list[DeliveryEventOut]] = {}
    for event in event_rows:
        events.setdefault(event["delivery_id"], []).append(
            DeliveryEventOut(status=event["status"], at=event["at"])
        )
    return NotificationOut(
        **row,
        deliveries=[DeliveryOut(**d, events=events.get(d["id"], [])) for d in delivery_rows],
    )


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest("invalid cursor", [{"field": "cursor", "message": "invalid"}]) from exc
    if not value.startswith("ntf_"):
        raise InvalidRequest("invalid cursor", [{"field": "cursor", "message": "invalid"}])
    return value


def list_notifications(
    db: Database, tenant_id: str, *, status: str | None, cursor: str | None, limit: int
) -> Page[NotificationSummary]:
    """Newest first, `limit` per page, with an opaque cursor to the next page."""
    after_id = decode_cursor(cursor) if cursor else None
    rows = notifications.list_notifications(
        db.connection(), tenant_id, status=status, after_id=after_id, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[NotificationSummary](
        items=[NotificationSummary(**r) for r in rows],
        next_cursor=encode_cursor(rows[-1]["id"]) if more and rows else None,
    )


def cancel_notification(
    db: Database, scheduler: OneTimeScheduler, tenant_id: str, notification_id: str
) -> NotificationAccepted:
    """Cancel a notification not yet dispatched; 409 once dispatch has begun."""
    with db.transaction() as conn:
        row = notifications.lock_notification(conn, tenant_id, notification_id)
        if row is None:
            raise NotFound(f"notification {notification_id} not found")
        if row["status"] not in ("accepted", "scheduled"):
            raise Conflict(f"notification is {row['status']}: too late to cancel")
        conn.execute(
            "UPDATE notifications SET status = 'canceled', completed_at = now(), updated_at = now()"
            " WHERE id = %s",
            (notification_id,),
        )
    if row["schedule_name"]:
        # The dispatcher ignores canceled notifications, so a schedule that fires anyway
        # (deleted too late) sends nothing; deleting it is tidiness, not correctness.
        try:
            scheduler.cancel(row["schedule_name"])
        except Exception:
            logger.exception("could not delete schedule %s", row["schedule_name"])
    return NotificationAccepted(
        id=notification_id, status="canceled", recipient_count=row["recipient_count"]
    )
