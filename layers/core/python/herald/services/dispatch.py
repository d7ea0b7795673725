"""Dispatch: turn a notification into deliveries and hand them to the channel queues."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from herald.aws.scheduler import OneTimeScheduler
from herald.aws.sns import EventPublisher
from herald.aws.sqs import MessageQueue
from herald.db import batches, deliveries, notifications
from herald.db.connection import Database
from herald.db.deliveries import NewDelivery
from herald.ids import new_id
from herald.models.common import Channel
from herald.models.messages import MAX_DELIVERIES_PER_MESSAGE, ChannelMessage, DispatchMessage
from herald.services import audience, fallback, templates, throttle
from herald.services.audience import Recipient
from herald.services.completion import completion_events
from herald.services.lanes import Lane, lane_queues
from herald.services.sweep_schedule import SweepSchedule

if TYPE_CHECKING:
    from herald.templating import CompiledTemplate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DispatchOutcome:
    notification_id: str
    queued: int
    skipped: int
    deferred: int
    # Fallback deliveries planned by this pass (of any status).
    fallbacks: int = 0


@dataclass(frozen=True)
class DispatchPorts:
    channel_queues: Mapping[str, MessageQueue]
    # Wakes the notification up again when a recipient's quiet hours end.
    scheduler: OneTimeScheduler
    # Arms the sweeper for the end of quiet hours (None: nothing to arm).
    sweeps: SweepSchedule | None = None
    # Publishes batch.completed when a batch's last slice leaves nothing in flight.
    publisher: EventPublisher | None = None
    # Each channel's bulk lane (herald.services.lanes): a batch's and a low-priority
    # notification's deliveries. None: everything on `channel_queues`.
    bulk_queues: Mapping[str, MessageQueue] | None = None


def plan_deliveries(
    recipients: Sequence[Recipient],
    channels: Sequence[Channel],
    *,
    template: CompiledTemplate | None = None,
    suppressed: Mapping[str, str] | None = None,
    category: str | None = None,
    critical: bool = False,
    now: datetime | None = None,
) -> list[NewDelivery]:
    """One delivery per recipient x channel: queued, deferred to the end of the recipient's
    quiet hours, or skipped with its reason.

    With a template, each recipient gets the content of their own locale (fr-CA, then fr,
    then the template's default); a channel the template has no content for is skipped
    with `no_content`.
    """
    now = now or datetime.now(UTC)
    planned = []
    for index, recipient in enumerate(recipients):
        for channel in channels:
            locale = None
            if template is not None:
                locale = template.resolve_locale(recipient.locale, channel)
            if template is not None and locale is None:
                decision = audience.Decision("skipped", "no_content")
            else:
                decision = audience.decide(
                    recipient,
                    channel,
                    suppressed=suppressed or {},
                    category=category,
                    critical=critical,
                    now=now,
                )
            planned.append(
                NewDelivery(
                    id=new_id("dlv"),
                    recipient_index=index,
                    channel=channel,
                    recipient=recipient.fields,
                    address=recipient.address(channel),
                    status=decision.status,
                    reason=decision.reason,
                    locale=locale,
                    next_attempt_at=decision.until,
                )
            )
    return planned


def pack_messages(
    tenant_id: str, rows: list[dict[str, Any]], lane: Lane = "normal"
) -> dict[str, list[ChannelMessage]]:
    """Group delivery ids per channel into messages of at most 50 deliveries, for `lane`."""
    by_channel: dict[str, list[str]] = {}
    for row in rows:
        by_channel.setdefault(row["channel"], []).append(row["id"])
    return {
        channel: [
            ChannelMessage(
                tenant_id=tenant_id,
                channel=channel,
                delivery_ids=ids[i : i + MAX_DELIVERIES_PER_MESSAGE],
                lane=lane,
            )
            for i in range(0, len(ids), MAX_DELIVERIES_PER_MESSAGE)
        ]
        for channel, ids in by_channel.items()
    }


def enqueue_deliveries(
    tenant_id: str,
    rows: list[dict[str, Any]],
    lane: Lane,
    channel_queues: Mapping[str, MessageQueue],
    bulk_queues: Mapping[str, MessageQueue] | None,
    *,
    delay_seconds: int = 0,
) -> None:
    """Send deliveries (`id`, `channel`) to their channels' queues of `lane`."""
    queues = lane_queues(lane, channel_queues, bulk_queues)
    for channel, messages in pack_messages(tenant_id, rows, lane).items():
        queues[channel].send_many(messages, delay_seconds=delay_seconds)


def enqueue_waves(
    tenant_id: str,
    rows: list[dict[str, Any]],
    lane: Lane,
    channel_queues: Mapping[str, MessageQueue],
    bulk_queues: Mapping[str, MessageQueue] | None,
    *,
    now: datetime,
) -> None:
    """Send a throttled batch's deliveries (`id`, `channel`, `due`) to their channels' queues
    of `lane`, each wave's messages delayed until it is due (herald.services.throttle)."""
    queues = lane_queues(lane, channel_queues, bulk_queues)
    waves: dict[datetime, list[dict[str, Any]]] = {}
    for row in rows:
        waves.setdefault(row["due"], []).append(row)
    entries: dict[str, list[tuple[ChannelMessage, int]]] = {}
    for due, wave in sorted(waves.items()):
        wait, not_before = throttle.delay(due, now)
        for channel, messages in pack_messages(tenant_id, wave, lane).items():
            entries.setdefault(channel, []).extend(
                (m.model_copy(update={"not_before": not_before}), wait) for m in messages
            )
    for channel, pairs in entries.items():
        queues[channel].send_delayed(pairs)


def dispatch_notification(
    db: Database,
    ports: DispatchPorts,
    tenant_id: str,
    notification_id: str,
    *,
    now: datetime | None = None,
) -> DispatchOutcome | None:
    """Create the deliveries of a notification (once), enqueue the queued ones, and release
    the deliveries whose quiet hours have ended.

    Safe to run again for the same notification (SQS delivers at least once, the sweeper
    re-enqueues, quiet hours wake it up): deliveries are inserted idempotently, and
    re-enqueued `queued` ones are claimed by one worker only.

    A notification with fallback channels is woken up again by its workers when a delivery
    gives up, and by a schedule at its next `fallback_after_seconds` deadline: each pass
    takes the fallback steps then due (herald.services.fallback), and only dispatch closes it.
    """
    now = now or datetime.now(UTC)
    skipped = deferred = 0
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
        if row["status"] != "processing":
            template = None
            if row["template_id"] is not None:
                template = templates.load_compiled(
                    conn, tenant_id, row["template_id"], row["template_version"]
                )
            recipients = audience.with_devices(
                conn,
                tenant_id,
                audience.resolve(conn, tenant_id, row["recipients"]),
                row["channels"],
            )
            planned = plan_deliveries(
                recipients,
                row["channels"],
                template=template,
                suppressed=audience.suppressed_addresses(
                    conn, tenant_id, recipients, row["channels"]
                ),
                category=row["category"],
                critical=row["critical"],
                now=now,
            )
            deliveries.insert_deliveries(conn, tenant_id, notification_id, planned)
            notifications.mark_processing(conn, notification_id)
            skipped = sum(1 for d in planned if d.status == "skipped")
            deferred = sum(1 for d in planned if d.status == "deferred")
        else:
            deliveries.release_quiet_hours(conn, notification_id, now)
        cascade = fallback.CascadeOutcome()
        if row["fallback"]:
            cascade = fallback.cascade(conn, row, now=now)
            skipped += sum(1 for d in cascade.planned if d.status == "skipped")
            deferred += sum(1 for d in cascade.planned if d.status == "deferred")
        queued = deliveries.queued_for_notification(conn, notification_id)
        wake_at = deliveries.next_quiet_hours_end(conn, notification_id)

    enqueue_deliveries(tenant_id, queued, row["lane"], ports.channel_queues, ports.bulk_queues)
    if wake_at is not None:
        _wake_up_at(ports.scheduler, tenant_id, notification_id, wake_at)
        if ports.sweeps is not None:
            ports.sweeps.work_started(wake_at)
    if cascade.check_at is not None:
        _wake_up_at(ports.scheduler, tenant_id, notification_id, cascade.check_at)
        if ports.sweeps is not None:
            ports.sweeps.work_started(cascade.check_at)
    if not queued:
        _close(db, ports, notification_id, cascaded=True)
    return DispatchOutcome(
        notification_id=notification_id,
        queued=len(queued),
        skipped=skipped,
        deferred=deferred,
        fallbacks=len(cascade.planned),
    )


def _wake_up_at(
    scheduler: OneTimeScheduler, tenant_id: str, notification_id: str, at: datetime
) -> None:
    """Dispatch the notification again at `at`: when the earliest quiet hours end, or at its
    next fallback deadline.

    The schedule is named after the instant, so a repeated dispatch does not create a second
    one. If scheduling fails, the sweeper still sends the deliveries once they are overdue.
    """
    name = f"{notification_id}-{int(at.timestamp())}"
    message = DispatchMessage(tenant_id=tenant_id, notification_id=notification_id)
    try:
        scheduler.schedule(name, at, message.model_dump_json())
    except Exception:
        logger.exception("could not schedule the next dispatch of %s", notification_id)


def dispatch_batch_slice(
    db: Database,
    ports: DispatchPorts,
    message: DispatchMessage,
    *,
    now: datetime | None = None,
) -> DispatchOutcome | None:
    """Plan one slice of a started batch: its recipients' deliveries, inserted in one
    statement, the queued ones enqueued in messages of 50 (a throttled batch's in waves,
    herald.services.throttle).

    Runs once per slice: a redelivered message finds the slice planned and does nothing.
    """
    assert message.batch_id is not None and message.first_index is not None
    now = now or datetime.now(UTC)
    tenant_id, notification_id = message.tenant_id, message.notification_id
    with db.transaction() as conn:
        piece = batches.claim_slice(conn, message.batch_id, message.first_index)
        if piece is None:
            logger.info("dispatch: slice %s of %s done", message.first_index, message.batch_id)
            return None
        row = notifications.get_notification(conn, tenant_id, notification_id)
        assert row is not None
        template = None
        if row["template_id"] is not None:
            template = templates.load_compiled(
                conn, tenant_id, row["template_id"], row["template_version"]
            )
        members = batches.slice_recipients(
            conn, message.batch_id, piece["first_index"], piece["last_index"]
        )
        recipients = audience.with_devices(
            conn,
            tenant_id,
            audience.resolve(conn, tenant_id, [m["recipient"] for m in members]),
            row["channels"],
        )
        planned = [
            replace(
                delivery,
                recipient_index=members[delivery.recipient_index]["idx"],
                variables=members[delivery.recipient_index]["variables"] or None,
            )
            for delivery in plan_deliveries(
                recipients,
                row["channels"],
                template=template,
                suppressed=audience.suppressed_addresses(
                    conn, tenant_id, recipients, row["channels"]
                ),
                category=row["category"],
                critical=row["critical"],
                now=now,
            )
        ]
        per_second = piece["throttle_per_second"]
        if per_second is not None:
            planned = [
                replace(
                    d,
                    next_attempt_at=throttle.wave_at(
                        piece["started_at"],
                        per_second,
                        row["channels"],
                        d.recipient_index,
                        d.channel,
                    ),
                )
                if d.status == "queued"
                else d
                for d in planned
            ]
        deliveries.insert_deliveries(conn, tenant_id, notification_id, planned)
        batches.mark_slice_dispatched(conn, message.batch_id, message.first_index)
        queued = [
            {"id": d.id, "channel": d.channel, "due": d.next_attempt_at}
            for d in planned
            if d.status == "queued"
        ]
        wake_at = min(
            (d.next_attempt_at for d in planned if d.reason == "quiet_hours" and d.next_attempt_at),
            default=None,
        )
    if per_second is not None:
        enqueue_waves(
            tenant_id, queued, row["lane"], ports.channel_queues, ports.bulk_queues, now=now
        )
    else:
        enqueue_deliveries(tenant_id, queued, row["lane"], ports.channel_queues, ports.bulk_queues)
    if wake_at is not None:
        _wake_up_at(ports.scheduler, tenant_id, notification_id, wake_at)
        if ports.sweeps is not None:
            ports.sweeps.work_started(wake_at)
    if not queued:
        # This slice may be the batch's last work.
        _close(db, ports, notification_id)
    return DispatchOutcome(
        notification_id=notification_id,
        queued=len(queued),
        skipped=sum(1 for d in planned if d.status == "skipped"),
        deferred=sum(1 for d in planned if d.status == "deferred"),
    )


def _close(
    db: Database, ports: DispatchPorts, notification_id: str, *, cascaded: bool = False
) -> None:
    """Close a notification dispatch queued nothing for, if nothing of it is in flight (no
    worker will see a delivery of it finish): every delivery skipped or deferred, a batch's
    last slice, or a fallback cascade that ran its course. Publishes its
    `notification.completed` (and `batch.completed`)."""
    with db.transaction() as conn:
        closed = notifications.complete_finished(conn, [notification_id], cascaded=cascaded)
        events = completion_events(conn, closed)
    if events and ports.publisher is not None:
        ports.publisher.publish(events)
