"""Delivery stats, read in one pass over the (tenant_id, created_at) index."""

from __future__ import annotations

from datetime import datetime
from typing import get_args

from herald.db.connection import Connection, Row
from herald.models.common import DeliveryStatus

STATUSES: tuple[str, ...] = get_args(DeliveryStatus)
_COUNTS = ", ".join(f"count(*) FILTER (WHERE d.status = '{s}') AS {s}" for s in STATUSES)


def buckets(
    conn: Connection,
    tenant_id: str,
    *,
    since: datetime,
    until: datetime,
    granularity: str,
    channel: str | None,
    category: str | None,
) -> list[Row]:
    """Per (bucket, channel): deliveries per status and accept -> sent percentiles."""
    assert granularity in ("hour", "day")
    return conn.execute(
        f"SELECT date_trunc('{granularity}', d.created_at, 'UTC') AS start, d.channel,"
        f" count(*) AS total, {_COUNTS},"
        "  percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP"
        "    (ORDER BY extract(epoch FROM d.sent_at - n.created_at))"
        "    FILTER (WHERE d.sent_at IS NOT NULL) AS latency"
        " FROM deliveries d JOIN notifications n ON n.id = d.notification_id"
        " WHERE d.tenant_id = %(tenant)s AND d.created_at >= %(since)s"
        "   AND d.created_at < %(until)s"
        "   AND (%(channel)s::text IS NULL OR d.channel = %(channel)s)"
        "   AND (%(category)s::text IS NULL OR n.category = %(category)s)"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        {
            "tenant": tenant_id,
            "since": since,
            "until": until,
            "channel": channel,
            "category": category,
        },
    ).fetchall()
