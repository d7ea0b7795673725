"""Notifications: one row per accepted API request."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from herald.db.connection import Connection, Row, jsonb


def insert_notification(
    conn: Connection,
    *,
    notification_id: str,
    tenant_id: str,
    status: str,
    channels: Sequence[str],
    recipients: list[dict[str, Any]],
    content: dict[str, Any],
    template_id: str | None,
    template_version: int | None,
    variables: dict[str, Any],
    category: str | None,
    priority: str,
    critical: bool,
    metadata: dict[str, Any],
    send_at: datetime | None,
    schedule_name: str | None,
    fallback: Sequence[str] = (),
    fallback_after_seconds: int | None = None,
    lane: str = "normal",
) -> None:
    conn.execute(
        "INSERT INTO notifications (id, tenant_id, status, channels, recipients, content,"
        " template_id, template_version, variables,"
        " category, priority, critical, metadata, recipient_count, send_at, schedule_name,"
        " fallback, fallback_after_seconds, lane)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            notification_id,
            tenant_id,
            status,
            list(channels),
            jsonb(recipients),
            jsonb(content),
            template_id,
            template_version,
            jsonb(variables),
            category,
            priority,
            critical,
            jsonb(metadata),
            len(recipients),
            send_at,
            schedule_name,
            list(fallback),
            fallback_after_seconds,
            lane,
        ),
    )


def get_notification(conn: Connection, tenant_id: str, notification_id: str) -> Row | None:
    """The notification, with the key of the template it was sent by (if any)."""
    return conn.execute(
        "SELECT n.*, t.key AS template_key FROM notifications n"
        " LEFT JOIN templates t ON t.id = n.template_id"
        " WHERE n.id = %s AND n.tenant_id = %s",
        (notification_id, tenant_id),
    ).fetchone()


def lock_notification(conn: Connection, tenant_id: str, notification_id: str) -> Row | None:
    """Select for update: one dispatcher at a time per notification."""
    return conn.execute(
        "SELECT * FROM notifications WHERE id = %s AND tenant_id = %s FOR UPDATE",
        (notification_id, tenant_id),
    ).fetchone()


def mark_processing(conn: Connection, notification_id: str) -> None:
    conn.execute(
        "UPDATE notifications SET status = 'processing', dispatched_at = now(), updated_at = now()"
        " WHERE id = %s",
        (notification_id,),
    )


def list_notifications(
    conn: Connection, tenant_id: str, *, status: str | None, after_id: str | None, limit: int
) -> list[Row]:
    """Newest first; `after_id` is the last id of the previous page."""
    return conn.execute(
        "SELECT id, status, channels, recipient_count, send_at, created_at FROM notifications"
        " WHERE tenant_id = %s AND (%s::text IS NULL OR status = %s)"
        " AND (%s::text IS NULL OR id < %s)"
        " ORDER BY id DESC LIMIT %s",
        (tenant_id, status, status, after_id, after_id, limit),
    ).fetchall()


def complete_finished(
    conn: Connection, notification_ids: Sequence[str], *, cascaded: bool = False
) -> list[Row]:
    """Close notifications none of whose deliveries is still in flight.

    `failed` when every delivery failed, else `completed`. Returns the rows closed now.
    A notification with fallback channels is closed only by dispatch, once its cascade ran
    (`cascaded`) and no fallback deadline is pending: a failure may still call for a fallback.
    """
    return conn.execute(
        "UPDATE notifications n SET"
        "  status = CASE WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = n.id"
        "                             AND d.status NOT IN ('failed', 'bounced'))"
        "           THEN 'completed' ELSE 'failed' END,"
        "  completed_at = now(), updated_at = now()"
        " WHERE n.id = ANY(%s) AND n.status = 'processing'"
        "  AND (cardinality(n.fallback) = 0 OR (%s AND n.fallback_check_at IS NULL))"
        "  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = n.id"
        "                  AND d.status IN ('queued', 'deferred', 'sending'))"
        # A batch's notification stays open while a slice of its recipients is unplanned.
        "  AND NOT EXISTS (SELECT 1 FROM batches b JOIN batch_slices s ON s.batch_id = b.id"
        "                  WHERE b.notification_id = n.id AND s.dispatched_at IS NULL)"
        " RETURNING n.id, n.tenant_id, n.status",
        (list(notification_ids), cascaded),
    ).fetchall()


def find_unclosed(conn: Connection, *, limit: int) -> list[str]:
    """Processing notifications (without fallback channels) none of whose deliveries is in
    flight: their last worker recorded its result, then died or lost the database before it
    closed them. `complete_finished` closes them (it checks again, atomically).

    A probe per processing notification, on `notifications_pending` and
    `deliveries (notification_id, status)`.
    """
    rows = conn.execute(
        "SELECT id FROM notifications n"
        " WHERE status = 'processing' AND cardinality(fallback) = 0"
        "   AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = n.id"
        "                   AND d.status IN ('queued', 'deferred', 'sending'))"
        "   AND NOT EXISTS (SELECT 1 FROM batches b JOIN batch_slices s ON s.batch_id = b.id"
        "                   WHERE b.notification_id = n.id AND s.dispatched_at IS NULL)"
        " LIMIT %s",
        (limit,),
    ).fetchall()
    return [r["id"] for r in rows]


def find_stalled(conn: Connection, *, older_than: datetime, limit: int) -> list[Row]:
    """Notifications that should have been dispatched by now but were not.

    Accepted ones whose enqueue was lost, scheduled ones whose schedule never fired, and
    ones with fallback channels whose cascade is overdue: a fallback deadline passed, or
    nothing is in flight any more and dispatch was not woken up to close them.
    """
    return conn.execute(
        "SELECT id, tenant_id FROM notifications n"
        " WHERE (status = 'accepted' AND created_at < %s)"
        "    OR (status = 'scheduled' AND send_at < %s)"
        "    OR (status = 'processing' AND cardinality(fallback) > 0"
        "        AND (fallback_check_at < %s"
        "             OR (fallback_check_at IS NULL AND updated_at < %s"
        "                 AND NOT EXISTS (SELECT 1 FROM deliveries d"
        "                                 WHERE d.notification_id = n.id"
        "                                 AND d.status IN ('queued', 'deferred', 'sending')))))"
        " ORDER BY created_at LIMIT %s",
        (older_than, older_than, older_than, older_than, limit),
    ).fetchall()


def set_fallback_check(conn: Connection, notification_id: str, at: datetime | None) -> None:
    """When dispatch must look again at this notification's fallback deadlines (None: never)."""
    conn.execute(
        "UPDATE notifications SET fallback_check_at = %s, updated_at = now() WHERE id = %s",
        (at, notification_id),
    )


def to_cascade(
    conn: Connection, notification_ids: Sequence[str], *, gave_up: set[str]
) -> list[Row]:
    """Those of these notifications (processing, with fallback channels) whose dispatch must
    run again: a delivery of theirs just gave up (`gave_up`), or none is left in flight."""
    if not notification_ids:
        return []
    return conn.execute(
        "SELECT id, tenant_id FROM notifications n"
        " WHERE id = ANY(%s) AND status = 'processing' AND cardinality(fallback) > 0"
        "   AND (id = ANY(%s) OR NOT EXISTS (SELECT 1 FROM deliveries d"
        "        WHERE d.notification_id = n.id"
        "        AND d.status IN ('queued', 'deferred', 'sending')))",
        (list(notification_ids), sorted(gave_up)),
    ).fetchall()


def lock_fallback_notifications(conn: Connection, notification_ids: Sequence[str]) -> list[Row]:
    """Those of these notifications that have fallback channels and are processing or closed
    (`completed`, `failed`), locked in id order: a provider's late report of a failure may
    make their next fallback step due."""
    if not notification_ids:
        return []
    return conn.execute(
        "SELECT id, tenant_id, status, fallback FROM notifications"
        " WHERE id = ANY(%s) AND cardinality(fallback) > 0"
        "   AND status IN ('processing', 'completed', 'failed')"
        " ORDER BY id FOR UPDATE",
        (list(notification_ids),),
    ).fetchall()


def reopen(conn: Connection, notification_id: str) -> None:
    """Back to `processing` a notification closed before a fallback step fell due: dispatch
    takes the step, and closes it again."""
    conn.execute(
        "UPDATE notifications SET status = 'processing', completed_at = NULL, updated_at = now()"
        " WHERE id = %s AND status IN ('completed', 'failed')",
        (notification_id,),
    )
