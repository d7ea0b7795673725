"""Two lanes per channel: bulk sends never delay transactional ones.

Each delivered channel has a normal queue and a bulk queue (herald.aws.sqs.channel_queues
and bulk_channel_queues), consumed by the same worker through two event source mappings,
the bulk one with a lower maximum concurrency. A notification's lane is chosen once, when
it is created, and stored on it (`notifications.lane`):

- `bulk`: every batch (whatever its priority: a batch is bulk by nature, and 50,000 sends
  on the normal lane would delay everything behind them), and a notification sent with
  `priority: "low"` (the sender says it can wait);
- `normal`: everything else, so a single-recipient transactional send and any
  `priority: "high"` notification never queue behind a batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from herald.aws.sqs import MessageQueue

Lane = Literal["normal", "bulk"]


def lane_for(priority: str, *, batch: bool = False) -> Lane:
    """The lane of a new notification of `priority` (a batch's notification: `batch`)."""
    return "bulk" if batch or priority == "low" else "normal"


def lane_queues(
    lane: str,
    channel_queues: Mapping[str, MessageQueue],
    bulk_queues: Mapping[str, MessageQueue] | None,
) -> Mapping[str, MessageQueue]:
    """The queues, by channel, of `lane`. Without bulk queues (a caller that wires none, as
    some tests do) everything goes on the normal lane."""
    if lane == "bulk" and bulk_queues is not None:
        return bulk_queues
    return channel_queues
