"""Dispatch: turn a notification into deliveries and hand them to the channel queues."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from herald.aws.sqs import MessageQueue
from herald.db import deliveries, notifications
from herald.db.connection import Database
from herald.db.deliveries import NewDelivery
from herald.ids import new_id
from herald.models.common import Channel
from herald.models.messages import MAX_DELIVERIES_PER_MESSAGE, ChannelMessage

logger = logging.getLogger(__name__)

# The recipient field that holds each channel's address.
ADDRESS_FIELD: dict[str, str] = {"email": "email", "sms": "phone", "whatsapp": "phone"}


@dataclass(frozen=True)
class DispatchOutcome:
    notification_id: str
    queued: int
    skipped: int


def plan_deliveries(recipients: list[dict[str, Any]], channels: list[Channel]) -> list[NewDelivery]:
    """One delivery per recipient x channel; no address for the channel means `skipped`."""
    planned = []
    for index, recipient in enumerate(recipients):
        for channel in channels:
            address = recipient.get(ADDRESS_FIELD.get(channel, ""))
            planned.append(
                NewDelivery(
                    id=new_id("dlv"),
                    recipient_index=index,
                    channel=channel,
                    recipient=recipient,
                    address=address,
                    status="queued" if address else "skipped",
                    reason=None if address else "no_address",
                )
            )
    return planned


def pack_messages(tenant_id: str, rows: list[dict[str, Any]]) -> dict[str, list[ChannelMessage]]:
    """Group delivery ids per channel into messages of at most 50 deliveries."""
    by_channel: dict[str, list[str]] = {}
    for row in rows:
        by_channel.setdefault(row["channel"], []).append(row["id"])
    return {
        channel: [
            ChannelMessage(
                tenant_id=tenant_id,
                channel=channel,
                delivery_ids=ids[i : i + MAX_DELIVERIES_PER_MESSAGE],
            )
            for i in range(0, len(ids), MAX_DELIVERIES_PER_MESSAGE)
        ]
        for channel, ids in by_channel.items()
    }


def dispatch_notification(
    db: Database, channel_queues: Mapping[str, MessageQueue], tenant_id: str, notification_id: str
) -> DispatchOutcome | None:
    """Create the deliveries of a notification (once) and enqueue the queued ones.

    Safe to run again for the same notification (SQS delivers at least once, the sweeper
    re-enqueues): deliveries are inserted idempotently, and re-enqueued `queued` ones are
    claimed by one worker only.
    """
    with db.transaction() as conn:
        row = notifications.lock_notification(conn, tenant_id, notification_id)
        if row is None:
            logger.warning("dispatch: notification %s not found", notification_id)
            return None
        if row["status"] not in ("accepted", "scheduled", "processing"):
            logger.info(
                "dispatch: notification %s is %s, nothing to do", notification_id, row["status"]
            )
            return None
        skipped = 0
        if row["status"] != "processing":
            planned = plan_deliveries(row["recipients"], row["channels"])
            deliveries.insert_deliveries(conn, tenant_id, notification_id, planned)
            notifications.mark_processing(conn, notification_id)
            skipped = sum(1 for d in planned if d.status == "skipped")
        queued = deliveries.queued_for_notification(conn, notification_id)

    for channel, messages in pack_messages(tenant_id, queued).items():
        channel_queues[channel].send_many(messages)
    if not queued:
        notifications.complete_finished(db.connection(), [notification_id])
    return DispatchOutcome(notification_id=notification_id, queued=len(queued), skipped=skipped)
