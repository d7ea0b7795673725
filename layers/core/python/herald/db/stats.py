"""Delivery stats, read from the hourly rollup (migration 0014) and the changes not folded yet.

A trigger on deliveries appends every statement's changes to delivery_stats_changes; `fold`
moves them into the rollup. A read sums both, so it is exact whether or not a fold ran.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_args

from herald.db.connection import Connection, Row
from herald.models.common import DeliveryStatus

STATUSES: tuple[str, ...] = get_args(DeliveryStatus)
# Latency buckets (delivery_latency_bucket in SQL): 0 is under 1 ms; k in 1..256 spans
# [1 ms * 2^((k-1)/8), 1 ms * 2^(k/8)); the last one is open-ended.
BUCKET_BASE_SECONDS = 0.001
BUCKETS_PER_DOUBLING = 8
LAST_BUCKET = 257

_FILTER = (
    " WHERE tenant_id = %(tenant)s AND hour >= %(since)s AND hour < %(until)s"
    " AND (%(channel)s::text IS NULL OR channel = %(channel)s)"
    " AND (%(category)s::text IS NULL OR category = %(category)s)"
)


def bucket_bounds(bucket: int) -> tuple[float, float | None]:
    """A latency bucket's [lower, upper) seconds (upper None: open-ended)."""
    if bucket <= 0:
        return 0.0, BUCKET_BASE_SECONDS
    lower = BUCKET_BASE_SECONDS * 2 ** ((bucket - 1) / BUCKETS_PER_DOUBLING)
    if bucket >= LAST_BUCKET:
        return lower, None
    return lower, BUCKET_BASE_SECONDS * 2 ** (bucket / BUCKETS_PER_DOUBLING)


def counts(conn: Connection, tenant_id: str, **window: Any) -> list[Row]:
    """(start, channel, status, n) per bucket of `granularity`, hours in [since, until)."""
    return _sum(conn, "status", "delivery_stats_hourly", tenant_id, **window)


def latencies(conn: Connection, tenant_id: str, **window: Any) -> list[Row]:
    """(start, channel, bucket, n): the accept -> sent histogram per bucket of `granularity`."""
    return _sum(conn, "bucket", "delivery_latency_hourly", tenant_id, **window)


def _sum(
    conn: Connection,
    measure: str,
    rollup: str,
    tenant_id: str,
    *,
    since: datetime,
    until: datetime,
    granularity: str,
    channel: str | None,
    category: str | None,
) -> list[Row]:
    assert granularity in ("hour", "day") and measure in ("status", "bucket")
    return conn.execute(
        f"SELECT date_trunc('{granularity}', hour, 'UTC') AS start, channel,"
        f"  {measure} AS measure, sum(n)::bigint AS n FROM ("
        f"  SELECT hour, channel, {measure}, n FROM {rollup} {_FILTER}"
        "  UNION ALL"
        f"  SELECT hour, channel, {measure}, n FROM delivery_stats_changes {_FILTER}"
        f"    AND {measure} IS NOT NULL"
        ") s GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3",
        {
            "tenant": tenant_id,
            "since": since,
            "until": until,
            "channel": channel,
            "category": category,
        },
    ).fetchall()


def fold(conn: Connection) -> int:
    """Move the pending changes into the rollup in one statement; returns the rows folded.

    Exact under concurrency: a change committed while this runs is not deleted and waits for
    the next fold; two folds at once delete each change once (the second skips what the first
    took). Keys are upserted in order, so concurrent folds never deadlock."""
    row = conn.execute(
        "WITH moved AS (DELETE FROM delivery_stats_changes RETURNING *),"
        " counted AS ("
        "  INSERT INTO delivery_stats_hourly AS r (tenant_id, hour, channel, category, status, n)"
        "  SELECT tenant_id, hour, channel, category, status, sum(n) FROM moved"
        "  WHERE status IS NOT NULL GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
        "  ON CONFLICT (tenant_id, hour, channel, category, status)"
        "  DO UPDATE SET n = r.n + EXCLUDED.n"
        " ), timed AS ("
        "  INSERT INTO delivery_latency_hourly AS r (tenant_id, hour, channel, category, bucket, n)"
        "  SELECT tenant_id, hour, channel, category, bucket, sum(n) FROM moved"
        "  WHERE bucket IS NOT NULL GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
        "  ON CONFLICT (tenant_id, hour, channel, category, bucket)"
        "  DO UPDATE SET n = r.n + EXCLUDED.n"
        " )"
        " SELECT count(*) AS n FROM moved"
    ).fetchone()
    return int(row["n"]) if row else 0
