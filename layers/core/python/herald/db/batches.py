"""Batches, their recipients (landed in one multi-row statement per chunk) and slices."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from herald.db.connection import Connection, Row, jsonb


def insert_batch(
    conn: Connection,
    batch_id: str,
    tenant_id: str,
    request: dict[str, Any],
    throttle_per_second: int | None = None,
) -> None:
    conn.execute(
        "INSERT INTO batches (id, tenant_id, status, request, throttle_per_second)"
        " VALUES (%s, %s, 'open', %s, %s)",
        (batch_id, tenant_id, jsonb(request), throttle_per_second),
    )


def lock_batch(conn: Connection, tenant_id: str, batch_id: str) -> Row | None:
    """Select for update: one writer at a time per batch (chunks number recipients in order)."""
    return conn.execute(
        "SELECT * FROM batches WHERE id = %s AND tenant_id = %s FOR UPDATE",
        (batch_id, tenant_id),
    ).fetchone()


def get_batch(conn: Connection, tenant_id: str, batch_id: str) -> Row | None:
    return conn.execute(
        "SELECT * FROM batches WHERE id = %s AND tenant_id = %s", (batch_id, tenant_id)
    ).fetchone()


_ROWS_FROM_JSON = (
    "INSERT INTO batch_recipients (batch_id, idx, recipient, variables, identity)"
    " SELECT %(batch)s, %(first)s + r.ord - 1, r.item -> 0, r.item -> 1, r.item ->> 2"
    " FROM jsonb_array_elements(%(rows)s::jsonb) WITH ORDINALITY AS r(item, ord)"
)


def insert_recipients(
    conn: Connection,
    batch_id: str,
    first_index: int,
    recipients: Sequence[tuple[dict[str, Any], dict[str, Any], str]],
) -> list[int]:
    """Add (recipient, variables, identity) rows numbered from `first_index`, in one statement.

    The rows travel as one JSON document the server takes apart (50,000 rows: one fast
    serialization here, no per-value adaptation). Not COPY: COPY cannot skip the rows whose
    identity the batch already holds. A recipient whose identity the batch already holds is
    left out; returns the offsets (in `recipients`) of those added.
    """
    if not recipients:
        return []
    rows = conn.execute(
        _ROWS_FROM_JSON + " ON CONFLICT (batch_id, identity) DO NOTHING RETURNING idx",
        {"batch": batch_id, "first": first_index, "rows": json.dumps(recipients)},
    ).fetchall()
    return sorted(r["idx"] - first_index for r in rows)


def insert_first_recipients(
    conn: Connection,
    batch_id: str,
    recipients: Sequence[tuple[dict[str, Any], dict[str, Any], str]],
) -> None:
    """A batch's first recipients, numbered from 0, of distinct identities: with nothing
    earlier to collide with, no row is skipped and none need be read back."""
    if recipients:
        conn.execute(
            _ROWS_FROM_JSON, {"batch": batch_id, "first": 0, "rows": json.dumps(recipients)}
        )


def add_counts(
    conn: Connection, batch_id: str, *, added: int, duplicates: int, next_index: int
) -> None:
    conn.execute(
        "UPDATE batches SET total = total + %s, duplicates = duplicates + %s, next_index = %s"
        " WHERE id = %s",
        (added, duplicates, next_index, batch_id),
    )


def first_recipient(conn: Connection, batch_id: str) -> Row | None:
    return conn.execute(
        "SELECT recipient, variables FROM batch_recipients WHERE batch_id = %s"
        " ORDER BY idx LIMIT 1",
        (batch_id,),
    ).fetchone()


def set_notification_total(conn: Connection, notification_id: str, total: int) -> None:
    conn.execute(
        "UPDATE notifications SET recipient_count = %s WHERE id = %s", (total, notification_id)
    )


def start(conn: Connection, batch_id: str, notification_id: str, slice_size: int) -> list[Row]:
    """Mark the batch processing and cut its recipients into slices; returns the slices."""
    conn.execute(
        "UPDATE batches SET status = 'processing', notification_id = %s, started_at = now()"
        " WHERE id = %s",
        (notification_id, batch_id),
    )
    return conn.execute(
        "INSERT INTO batch_slices (batch_id, first_index, last_index)"
        " SELECT %(batch)s, min(idx), max(idx) FROM ("
        "   SELECT idx, (row_number() OVER (ORDER BY idx) - 1) / %(size)s AS slice"
        "   FROM batch_recipients WHERE batch_id = %(batch)s"
        " ) s GROUP BY slice"
        " RETURNING first_index, last_index",
        {"batch": batch_id, "size": slice_size},
    ).fetchall()


def claim_slice(conn: Connection, batch_id: str, first_index: int) -> Row | None:
    """Lock a slice not planned yet (None: planned already, or being planned right now),
    with its batch's start and throttle."""
    return conn.execute(
        "SELECT s.first_index, s.last_index, b.started_at, b.throttle_per_second"
        " FROM batch_slices s JOIN batches b ON b.id = s.batch_id"
        " WHERE s.batch_id = %s AND s.first_index = %s AND s.dispatched_at IS NULL"
        " FOR UPDATE OF s SKIP LOCKED",
        (batch_id, first_index),
    ).fetchone()


def mark_slice_dispatched(conn: Connection, batch_id: str, first_index: int) -> None:
    conn.execute(
        "UPDATE batch_slices SET dispatched_at = now() WHERE batch_id = %s AND first_index = %s",
        (batch_id, first_index),
    )


def slice_recipients(conn: Connection, batch_id: str, first: int, last: int) -> list[Row]:
    return conn.execute(
        "SELECT idx, recipient, variables FROM batch_recipients"
        " WHERE batch_id = %s AND idx BETWEEN %s AND %s ORDER BY idx",
        (batch_id, first, last),
    ).fetchall()


def pending_slices(conn: Connection, batch_id: str) -> list[Row]:
    return conn.execute(
        "SELECT first_index FROM batch_slices WHERE batch_id = %s AND dispatched_at IS NULL",
        (batch_id,),
    ).fetchall()


def stalled_slices(conn: Connection, *, older_than: Any, limit: int) -> list[Row]:
    """Slices of started batches still unplanned long after the start: lost dispatch messages."""
    return conn.execute(
        "SELECT b.id AS batch_id, b.tenant_id, b.notification_id, s.first_index"
        " FROM batch_slices s JOIN batches b ON b.id = s.batch_id"
        " WHERE s.dispatched_at IS NULL AND b.status = 'processing' AND b.started_at < %s"
        " LIMIT %s",
        (older_than, limit),
    ).fetchall()


def counts(conn: Connection, notification_id: str) -> dict[str, int]:
    """Deliveries per status: one scan of the (notification_id, status) index."""
    rows = conn.execute(
        "SELECT status, count(*) AS n FROM deliveries WHERE notification_id = %s GROUP BY status",
        (notification_id,),
    ).fetchall()
    return {r["status"]: r["n"] for r in rows}


def list_recipients(
    conn: Connection,
    batch_id: str,
    notification_id: str | None,
    *,
    status: str | None,
    after_index: int | None,
    limit: int,
) -> list[Row]:
    """Recipients in order with their deliveries; with `status`, those having one in it."""
    return conn.execute(
        "SELECT r.idx, r.recipient, r.variables, COALESCE(("
        "   SELECT jsonb_agg(jsonb_build_object('id', d.id, 'channel', d.channel,"
        "            'status', d.status, 'reason', d.reason, 'error', d.error,"
        "            'provider_message_id', d.provider_message_id) ORDER BY d.channel)"
        "   FROM deliveries d WHERE d.notification_id = %(ntf)s AND d.recipient_index = r.idx"
        " ), '[]'::jsonb) AS deliveries"
        " FROM batch_recipients r WHERE r.batch_id = %(batch)s"
        "  AND (%(after)s::int IS NULL OR r.idx > %(after)s)"
        "  AND (%(status)s::text IS NULL OR EXISTS (SELECT 1 FROM deliveries d"
        "       WHERE d.notification_id = %(ntf)s AND d.recipient_index = r.idx"
        "         AND d.status = %(status)s))"
        " ORDER BY r.idx LIMIT %(limit)s",
        {
            "ntf": notification_id,
            "batch": batch_id,
            "after": after_index,
            "status": status,
            "limit": limit,
        },
    ).fetchall()


def cancel(conn: Connection, batch_id: str, notification_id: str | None) -> int:
    """Cancel the batch and every delivery not sent yet (claimed ones finish their send)."""
    conn.execute(
        "UPDATE batches SET status = 'canceled', completed_at = now() WHERE id = %s",
        (batch_id,),
    )
    conn.execute(
        "UPDATE batch_slices SET dispatched_at = now() WHERE batch_id = %s"
        " AND dispatched_at IS NULL",
        (batch_id,),
    )
    if notification_id is None:
        return 0
    return conn.execute(
        "WITH d AS ("
        "  UPDATE deliveries SET status = 'canceled', reason = 'batch_canceled',"
        "    next_attempt_at = NULL, updated_at = now()"
        "  WHERE notification_id = %s AND status IN ('queued', 'deferred')"
        "  RETURNING tenant_id, id"
        ")"
        " INSERT INTO delivery_events (tenant_id, delivery_id, status, detail)"
        " SELECT tenant_id, id, 'canceled', '{\"reason\": \"batch_canceled\"}' FROM d",
        (notification_id,),
    ).rowcount


def complete_for_notifications(conn: Connection, notification_ids: Sequence[str]) -> list[Row]:
    """Close the processing batches of notifications that just completed; returns those closed
    now (each once: the status moves only from processing)."""
    if not notification_ids:
        return []
    return conn.execute(
        "UPDATE batches SET status = 'completed', completed_at = now()"
        " WHERE notification_id = ANY(%s) AND status = 'processing'"
        " RETURNING id, tenant_id, notification_id, total",
        (list(notification_ids),),
    ).fetchall()
