"""Accepting notifications and reading them back."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from herald.aws.scheduler import OneTimeScheduler
from herald.aws.sqs import MessageQueue
from herald.db import deliveries, notifications
from herald.db.connection import Connection, Database
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
    TemplateUsed,
)
from herald.services import idempotency, push, templates
from herald.services.cursors import decode_cursor, page_rows
from herald.services.idempotency import StoredResponse
from herald.services.lanes import lane_for
from herald.services.sweep_schedule import SweepSchedule
from herald.services.templates import TemplateSend
from herald.services.text_messages import measure_text

logger = logging.getLogger(__name__)

# Channels with a worker in this release. The API accepts every channel name of the
# contract and answers 422 for one that cannot be delivered yet, rather than dropping it.
AVAILABLE_CHANNELS: frozenset[Channel] = frozenset(
    {"email", "sms", "whatsapp", "push", "web_push", "in_app", "webhook"}
)
# A send_at this far in the past is a mistake, not clock skew.
SEND_AT_TOLERANCE = timedelta(seconds=5)
MAX_SCHEDULE_AHEAD = timedelta(days=366)
# Settings.sms_max_segments's default: a longer SMS costs more than it is likely worth.
DEFAULT_MAX_SMS_SEGMENTS = 10


@dataclass(frozen=True)
class SendPorts:
    dispatch_queue: MessageQueue
    scheduler: OneTimeScheduler
    # Arms the sweeper for accepted work (None: nothing to arm, e.g. a test of this service).
    sweeps: SweepSchedule | None = None


def _check_channels(
    channels: list[Channel], fallback: list[Channel], defined: Iterable[Channel] | None
) -> None:
    """Every channel must have a worker; with inline content (`defined`), content too.

    A template lacking a requested channel is not an error: those deliveries are skipped
    with `no_content`, per recipient, at dispatch.
    """
    problems = []
    for field, names in (("channels", channels), ("fallback", fallback)):
        for name in names:
            if name not in AVAILABLE_CHANNELS:
                problems.append(
                    {"field": field, "message": f"channel '{name}' is not available yet"}
                )
            elif defined is not None and name not in defined:
                problems.append(
                    {"field": field, "message": f"no content given for channel '{name}'"}
                )
            elif field == "fallback" and name in channels:
                problems.append(
                    {"field": field, "message": f"'{name}' is already a primary channel"}
                )
    if problems:
        raise Unprocessable("some channels cannot be sent", problems)


def _check_text_lengths(request: SendNotificationRequest, max_segments: int) -> None:
    content = request.content
    if content is None:
        return
    for channel, text in (
        ("sms", content.sms.text if content.sms else None),
        ("whatsapp", content.whatsapp.text if content.whatsapp else None),
    ):
        if text:
            measure_text(text, max_segments, field=f"content.{channel}.text")


def _check_payload_sizes(content: dict[str, dict[str, Any]]) -> None:
    """Push and web push content must fit what the provider accepts (FCM's 4 KB, the
    encrypted web push limit); a template is checked per recipient when it renders."""
    problems = [
        {"field": f"content.{channel}", "message": problem}
        for channel, fields in content.items()
        if (problem := push.oversized(channel, fields)) is not None
    ]
    if problems:
        raise Unprocessable(problems[0]["message"], problems)


def _resolve_content(
    conn: Connection, tenant_id: str, request: SendNotificationRequest
) -> tuple[list[Channel], TemplateSend | None]:
    """The channels to send on and, for a send by template, the version it pins."""
    if request.template is None:
        assert request.content is not None
        defined = request.content.channels()
        channels = request.channels or defined
        _check_channels(channels, request.fallback, defined)
        _check_payload_sizes(request.content.as_stored())
        return list(dict.fromkeys(channels)), None
    if request.channels is not None:
        _check_channels(request.channels, request.fallback, None)
    pinned = templates.prepare_send(
        conn,
        tenant_id,
        request.template,
        channels=request.channels,
        sendable=AVAILABLE_CHANNELS,
        variables=request.variables,
        sample_recipient=request.recipients[0].model_dump(mode="json", exclude_none=True),
    )
    if request.channels is None:
        _check_channels(pinned.channels, request.fallback, None)
    return list(dict.fromkeys(pinned.channels)), pinned


def resolve_content(
    conn: Connection, tenant_id: str, request: SendNotificationRequest
) -> tuple[list[Channel], TemplateSend | None]:
    """Check a send's channels and content (a batch checks its send like a notification's);
    returns the channels and, for a send by template, the version it pins."""
    return _resolve_content(conn, tenant_id, request)


def accept_notification(
    db: Database,
    ports: SendPorts,
    tenant_id: str,
    request: SendNotificationRequest,
    *,
    idempotency_key: str | None,
    now: datetime | None = None,
    max_sms_segments: int = DEFAULT_MAX_SMS_SEGMENTS,
) -> StoredResponse:
    """Validate, store and hand a notification to the pipeline.

    Inline SMS and WhatsApp text longer than `max_sms_segments` segments is refused
    (Unprocessable); a template's is refused per recipient when rendered (`render_failed`).

    Committed before it is enqueued: if the process dies in between, the sweeper finds the
    notification still `accepted` and enqueues it. Nothing accepted is lost.
    """
    now = now or datetime.now(UTC)
    _check_text_lengths(request, max_sms_segments)
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

    def store(conn: Connection) -> dict[str, Any]:
        channels, pinned = _resolve_content(conn, tenant_id, request)
        notifications.insert_notification(
            conn,
            notification_id=notification_id,
            tenant_id=tenant_id,
            status=status,
            channels=channels,
            recipients=[r.model_dump(mode="json", exclude_none=True) for r in request.recipients],
            content=request.content.as_stored() if request.content else {},
            template_id=pinned.template_id if pinned else None,
            template_version=pinned.version if pinned else None,
            variables=request.variables,
            category=request.category,
            priority=request.priority,
            critical=request.critical,
            metadata=request.metadata,
            send_at=send_at,
            schedule_name=notification_id if send_at else None,
            fallback=list(dict.fromkeys(request.fallback)),
            fallback_after_seconds=request.fallback_after_seconds,
            lane=lane_for(request.priority),
        )
        return body

    with db.transaction() as conn:
        result = idempotency.respond_once(
            conn,
            tenant_id,
            idempotency_key,
            request,
            operation="send_notification",
            status_code=202,
            create=lambda: store(conn),
        )
    if result.replayed:
        return result

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
    if ports.sweeps is not None:
        ports.sweeps.work_started(send_at)
    return result


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
            DeliveryEventOut(status=event["status"], at=event["at"], detail=event["detail"])
        )
    template = None
    if row["template_key"] is not None:
        template = TemplateUsed(key=row["template_key"], version=row["template_version"])
    return NotificationOut(
        **row,
        template=template,
        deliveries=[DeliveryOut(**d, events=events.get(d["id"], [])) for d in delivery_rows],
    )


def list_notifications(
    db: Database, tenant_id: str, *, status: str | None, cursor: str | None, limit: int
) -> Page[NotificationSummary]:
    """Newest first, `limit` per page, with an opaque cursor to the next page."""
    after_id = decode_cursor(cursor) if cursor else None
    if after_id is not None and not after_id.startswith("ntf_"):
        raise InvalidRequest("invalid cursor", [{"field": "cursor", "message": "invalid"}])
    rows = notifications.list_notifications(
        db.connection(), tenant_id, status=status, after_id=after_id, limit=limit + 1
    )
    rows, next_cursor = page_rows(rows, limit, "id")
    return Page[NotificationSummary](
        items=[NotificationSummary(**r) for r in rows], next_cursor=next_cursor
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
