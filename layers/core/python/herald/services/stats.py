"""Delivery stats: counts per channel and status, rates, accept -> sent latency per bucket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from herald.db import stats
from herald.db.connection import Database, Row
from herald.errors import Unprocessable
from herald.models.batches import BatchCounts
from herald.models.stats import Granularity, Latency, Rates, StatsBucket, StatsOut

DEFAULT_SPAN: dict[str, timedelta] = {"hour": timedelta(hours=24), "day": timedelta(days=30)}
# Beyond this, an hourly series is better asked for by day.
MAX_SPAN: dict[str, timedelta] = {"hour": timedelta(days=31), "day": timedelta(days=400)}
_DELIVERED = ("delivered", "opened", "clicked", "read")
_FINISHED = ("sent", *_DELIVERED, "bounced", "failed")


def get_stats(
    db: Database,
    tenant_id: str,
    *,
    since: datetime | None,
    until: datetime | None,
    granularity: Granularity,
    channel: str | None,
    category: str | None,
    now: datetime | None = None,
) -> StatsOut:
    until = until or now or datetime.now(UTC)
    since = since or until - DEFAULT_SPAN[granularity]
    if since >= until:
        raise Unprocessable(
            "since must be before until", [{"field": "since", "message": "not before until"}]
        )
    if until - since > MAX_SPAN[granularity]:
        raise Unprocessable(
            f"at most {MAX_SPAN[granularity].days} days by {granularity}",
            [{"field": "since", "message": "range too long for this granularity"}],
        )
    rows = stats.buckets(
        db.connection(),
        tenant_id,
        since=since,
        until=until,
        granularity=granularity,
        channel=channel,
        category=category,
    )
    return StatsOut(
        since=since, until=until, granularity=granularity, buckets=[_bucket(r) for r in rows]
    )


def _bucket(row: Row) -> StatsBucket:
    counts = {s: row[s] for s in stats.STATUSES}
    finished = sum(counts[s] for s in _FINISHED)

    def rate(*statuses: str) -> float | None:
        return round(sum(counts[s] for s in statuses) / finished, 4) if finished else None

    p50, p90, p99 = row["latency"] or (None, None, None)
    return StatsBucket(
        start=row["start"],
        channel=row["channel"],
        total=row["total"],
        counts=BatchCounts(**counts),
        rates=Rates(
            delivery=rate(*_DELIVERED),
            bounce=rate("bounced"),
            failure=rate("failed"),
            open=rate("opened", "clicked", "read"),
            click=rate("clicked"),
        ),
        accept_to_sent_seconds=Latency(p50=_seconds(p50), p90=_seconds(p90), p99=_seconds(p99)),
    )


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)
