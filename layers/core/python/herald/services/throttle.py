"""A batch's throttle (`throttle: {"per_second": N}`): about N sends a second, in waves.

Each delivery of a throttled batch has a place in the batch's order, its recipient's index
times the batch's channels plus its channel's position: place p belongs to wave
floor(p / N), due that many seconds after the batch started. Dispatch plans a slice as
usual, then gives each queued delivery its wave's time as `next_attempt_at` (the sweeper
leaves it alone until then) and each wave's channel messages an SQS delay. A wave more than
15 minutes out travels with `not_before` and hops on its queue until then, as a long retry
wait does (herald.services.delivering). Cancel needs nothing more: a delivery canceled
before its wave is not claimed when its message arrives.

Places count the deliveries a batch plans, skipped ones too, and duplicates leave gaps in
recipient indexes: a batch goes out at most N a second, and about N while most are sent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from herald.errors import Unprocessable

MAX_PER_SECOND = 10_000
# SQS caps a message's delay at 15 minutes.
MAX_DELAY_SECONDS = 900


def check(per_second: int) -> None:
    """A throttle is a whole number of sends a second, from 1 to MAX_PER_SECOND (422)."""
    if not 1 <= per_second <= MAX_PER_SECOND:
        raise Unprocessable(
            f"throttle.per_second must be between 1 and {MAX_PER_SECOND:,}",
            [
                {
                    "field": "throttle.per_second",
                    "message": f"between 1 and {MAX_PER_SECOND} sends a second",
                }
            ],
        )


def wave_at(
    started_at: datetime,
    per_second: int,
    channels: Sequence[str],
    recipient_index: int,
    channel: str,
) -> datetime:
    """When the delivery of `recipient_index` on `channel` is due."""
    place = recipient_index * len(channels) + channels.index(channel)
    return started_at + timedelta(seconds=place // per_second)


def delay(due: datetime, now: datetime) -> tuple[int, datetime | None]:
    """The SQS delay of a message due at `due` (never early: rounded up), and its
    `not_before` when it lies beyond what one delay covers."""
    wait = max(0, math.ceil((due - now).total_seconds()))
    if wait > MAX_DELAY_SECONDS:
        return MAX_DELAY_SECONDS, due
    return wait, None
