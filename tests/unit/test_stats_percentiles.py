"""Latency percentiles from the stats rollup's histogram."""

from __future__ import annotations

from herald.db.stats import bucket_bounds
from herald.services.stats import percentile


def test_a_percentile_lies_in_the_bucket_holding_its_rank() -> None:
    # given 90 deliveries in bucket 80 and 10 in bucket 120
    histogram = [(80, 90), (120, 10)]

    # when
    p50, p99 = percentile(histogram, 0.5), percentile(histogram, 0.99)

    # then each lies within its bucket's bounds
    low, high = bucket_bounds(80)
    assert p50 is not None and low <= p50 < (high or 0)
    low, high = bucket_bounds(120)
    assert p99 is not None and low <= p99 < (high or 0)


def test_no_latency_is_no_percentile_and_the_last_bucket_gives_its_floor() -> None:
    assert percentile([], 0.5) is None
    assert percentile([(257, 3)], 0.9) == bucket_bounds(257)[0]
    assert bucket_bounds(0) == (0.0, 0.001)
