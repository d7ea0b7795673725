"""GET /v1/stats: what happened to a tenant's deliveries, per time bucket and channel."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from herald.models.batches import BatchCounts
from herald.models.common import Channel

Granularity = Literal["hour", "day"]


class Rates(BaseModel):
    """Shares of the deliveries that finished an attempt (sent or later, bounced, failed);
    null while none has."""

    delivery: float | None = Field(description="delivered, opened, clicked or read")
    bounce: float | None
    failure: float | None
    open: float | None = Field(description="opened, clicked or read")
    click: float | None


class Latency(BaseModel):
    """Seconds from the API accepting the send to the provider taking the delivery, from a
    histogram of log-spaced buckets: within one bucket (about 9%) of the exact figure."""

    p50: float | None
    p90: float | None
    p99: float | None


class StatsBucket(BaseModel):
    start: datetime
    channel: Channel
    total: int
    counts: BatchCounts
    rates: Rates
    accept_to_sent_seconds: Latency


class StatsOut(BaseModel):
    since: datetime = Field(description="The range asked for, widened to whole hours: rounded down")
    until: datetime = Field(description="Rounded up to a whole hour")
    granularity: Granularity
    buckets: list[StatsBucket] = Field(description="Oldest first; a bucket per channel used")
