"""The events of sends that just finished: notifications closed, and the batches with them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from herald.db import batches
from herald.db.connection import Connection, Row


def completion_events(conn: Connection, closed: Sequence[Row]) -> list[dict[str, Any]]:
    """notification.completed for each notification closed, batch.completed for each batch
    closed with it (once: a batch leaves `processing` one time only)."""
    at = datetime.now(UTC).isoformat()
    events: list[dict[str, Any]] = [
        {
            "type": "notification.completed",
            "tenant_id": n["tenant_id"],
            "notification_id": n["id"],
            "status": n["status"],
            "at": at,
        }
        for n in closed
    ]
    events.extend(
        {
            "type": "batch.completed",
            "tenant_id": b["tenant_id"],
            "batch_id": b["id"],
            "notification_id": b["notification_id"],
            "total": b["total"],
            "at": at,
        }
        for b in batches.complete_for_notifications(conn, [n["id"] for n in closed])
    )
    return events
