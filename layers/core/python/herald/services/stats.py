"""Delivery stats: counts per channel and status, rates, accept -> sent latency per bucket.

Answered from the hourly rollup (herald.db.stats): the range is widened to whole hours (since
rounded down, until up), and a day is the sum of its hours. Counts are exact; latency
percentiles come from the rollup's histogram, interpolated within a bucket, so they are
within one bucket (about 9%) of the exact figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from herald.db import stats
from herald.db.connection import Database
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
    since, until = _hour(since), _hour(until, up=True)
    window = {
        "since": since,
        "until": until,
        "granularity": granularity,
        "channel": channel,
        "category": category,
    }
    conn = db.connection()
    counted: dict[tuple[datetime, str], dict[str, int]] = {}
    for row in stats.counts(conn, tenant_id, **window):
        counted.setdefault((row["start"], row["channel"]), {})[row["measure"]] = row["n"]
    timed: dict[tuple[datetime, str], list[tuple[int, int]]] = {}
    for row in stats.latencies(conn, tenant_id, **window):
        timed.setdefault((row["start"], row["channel"]), []).append((row["measure"], row["n"]))
    return StatsOut(
        since=since,
        until=until,
        granularity=granularity,
        buckets=[
            _bucket(start, channel, counts, timed.get((start, channel), []))
            for (start, channel), counts in sorted(counted.items())
        ],
    )


def _hour(at: datetime, *, up: bool = False) -> datetime:
    floor = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return floor + timedelta(hours=1) if up and floor != at else floor


def _bucket(
    start: datetime, channel: str, counted: dict[str, int], histogram: list[tuple[int, int]]
) -> StatsBucket:
    counts = {s: counted.get(s, 0) for s in stats.STATUSES}
    finished = sum(counts[s] for s in _FINISHED)

    def rate(*statuses: str) -> float | None:
        return round(sum(counts[s] for s in statuses) / finished, 4) if finished else None

    p50, p90, p99 = (percentile(histogram, p) for p in (0.5, 0.9, 0.99))
    return StatsBucket(
        start=start,
        channel=channel,
        total=sum(counts.values()),
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


def percentile(histogram: Sequence[tuple[int, int]], p: float) -> float | None:
    """The p-quantile of (bucket, count) pairs sorted by bucket, ranked as percentile_cont
    ranks (position p * (n - 1)) and placed inside its bucket by its rank there (geometric
    between the bucket's bounds; an open-ended last bucket gives its lower bound)."""
    total = sum(n for _, n in histogram)
    if total <= 0:
        return None
    position = p * (total - 1)
    seen = 0
    bucket, n = histogram[-1]
    for bucket, n in histogram:  # noqa: B007 - the loop stops on the bucket it looks for
        if n > 0 and position < seen + n:
            break
        seen += n
    lower, upper = stats.bucket_bounds(bucket)
    share = min(1.0, (position - seen + 0.5) / n)
    if upper is None:
        return lower
    if lower == 0:
        return upper * share
    return float(lower * (upper / lower) ** share)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)
