"""Batches: one send to up to 50,000 recipients, each with its own variables.

A batch collects recipients (inline, or in chunks of up to 10,000 with an Idempotency-Key
each) while `open`. Starting it pins the template, creates the one notification its
recipients' deliveries belong to, and cuts the recipients into slices of `SLICE_SIZE`: one
dispatch message each, so no dispatcher plans more than a slice and every one finishes far
inside its timeout. Progress counts are read from the deliveries themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from herald.aws.sqs import MessageQueue
from herald.db import batches, notifications
from herald.db.connection import Connection, Database, Row
from herald.errors import Conflict, InvalidRequest, NotFound, Unprocessable
from herald.ids import new_id
from herald.models.batches import (
    MAX_BATCH_RECIPIENTS,
    AddRecipientsRequest,
    BatchAccepted,
    BatchCounts,
    BatchOut,
    BatchRecipient,
    BatchRecipientOut,
    CreateBatchRequest,
    Throttle,
)
from herald.models.common import Page
from herald.models.messages import DispatchMessage
from herald.models.notifications import Recipient, SendNotificationRequest
from herald.services import idempotency, throttle
from herald.services.cursors import decode_cursor, page_rows
from herald.services.idempotency import StoredResponse
from herald.services.lanes import lane_for
from herald.services.notifications import resolve_content
from herald.services.sweep_schedule import SweepSchedule

logger = logging.getLogger(__name__)

# Recipients planned by one dispatch message: with every channel, a few thousand deliveries.
SLICE_SIZE = 500
# What a batch's stored request keeps (the recipients live in batch_recipients).
_SEND_FIELDS = (
    "template",
    "content",
    "variables",
    "channels",
    "category",
    "critical",
    "priority",
    "metadata",
)


@dataclass(frozen=True)
class BatchPorts:
    dispatch_queue: MessageQueue
    sweeps: SweepSchedule | None = None


def identity(recipient: Recipient) -> str:
    """Who a recipient is: the same user, or the same address, twice is a duplicate."""
    if recipient.user_id is not None:
        return f"user:{recipient.user_id}"
    if recipient.email is not None:
        return f"email:{recipient.email.lower()}"
    if recipient.phone is not None:
        return f"phone:{recipient.phone}"
    return f"webhook:{recipient.webhook_url}"


def create_batch(
    db: Database,
    ports: BatchPorts,
    tenant_id: str,
    request: CreateBatchRequest,
    *,
    idempotency_key: str | None,
) -> StoredResponse:
    """Store a batch with its inline recipients; start it unless `start` is false."""
    per_second = request.throttle.per_second if request.throttle else None
    if per_second is not None:
        throttle.check(per_second)
    batch_id = new_id("bat")
    slices: list[DispatchMessage] = []

    def store(conn: Connection) -> dict[str, Any]:
        nonlocal slices
        stored = request.model_dump(mode="json", include=set(_SEND_FIELDS), exclude_none=True)
        batches.insert_batch(conn, batch_id, tenant_id, stored, per_second)
        total, duplicates = _add(conn, _locked(conn, tenant_id, batch_id), request.recipients)
        status = "open"
        if request.start:
            slices = _start(conn, tenant_id, _locked(conn, tenant_id, batch_id))
            status = "processing"
        return BatchAccepted(
            id=batch_id, status=status, total=total, duplicates=duplicates
        ).model_dump(mode="json")

    with db.transaction() as conn:
        result = idempotency.respond_once(
            conn,
            tenant_id,
            idempotency_key,
            request,
            operation="create_batch",
            status_code=202,
            create=lambda: store(conn),
        )
    if slices:
        _enqueue(ports, batch_id, slices)
    return result


def add_recipients(
    db: Database,
    tenant_id: str,
    batch_id: str,
    request: AddRecipientsRequest,
    *,
    idempotency_key: str | None,
) -> StoredResponse:
    """Add a chunk to an open batch. Replaying a chunk with its key adds nothing."""

    def store(conn: Connection) -> dict[str, Any]:
        row = _locked(conn, tenant_id, batch_id)
        if row["status"] != "open":
            raise Conflict(f"batch is {row['status']}: recipients can be added while it is open")
        total, duplicates = _add(conn, row, request.recipients)
        return BatchAccepted(
            id=batch_id, status="open", total=total, duplicates=duplicates
        ).model_dump(mode="json")

    with db.transaction() as conn:
        return idempotency.respond_once(
            conn,
            tenant_id,
            idempotency_key,
            request,
            operation=f"batch_recipients:{batch_id}",
            status_code=202,
            create=lambda: store(conn),
        )


def start_batch(db: Database, ports: BatchPorts, tenant_id: str, batch_id: str) -> BatchAccepted:
    """Start an open batch: 409 once started or canceled, 422 when it has no recipients."""
    with db.transaction() as conn:
        row = _locked(conn, tenant_id, batch_id)
        if row["status"] != "open":
            raise Conflict(f"batch is {row['status']}: only an open batch can be started")
        slices = _start(conn, tenant_id, row)
    _enqueue(ports, batch_id, slices)
    return BatchAccepted(id=batch_id, status="processing", total=row["total"])


def cancel_batch(db: Database, tenant_id: str, batch_id: str) -> BatchAccepted:
    """Cancel what has not been sent: unplanned slices and queued or deferred deliveries.
    Deliveries a worker holds already finish their send. 409 once completed or canceled."""
    with db.transaction() as conn:
        row = _locked(conn, tenant_id, batch_id)
        if row["status"] not in ("open", "processing"):
            raise Conflict(f"batch is {row['status']}: too late to cancel")
        batches.cancel(conn, batch_id, row["notification_id"])
    if row["notification_id"] is not None:
        # Nothing may be in flight any more: close the notification now, not on a worker's
        # next completion (which may never come).
        notifications.complete_finished(db.connection(), [row["notification_id"]])
    return BatchAccepted(id=batch_id, status="canceled", total=row["total"])


def get_batch(db: Database, tenant_id: str, batch_id: str) -> BatchOut:
    """The batch and its deliveries' counts per status (one indexed query)."""
    conn = db.connection()
    row = batches.get_batch(conn, tenant_id, batch_id)
    if row is None:
        raise NotFound(f"batch {batch_id} not found")
    counts = batches.counts(conn, row["notification_id"]) if row["notification_id"] else {}
    per_second = row["throttle_per_second"]
    return BatchOut(
        **row,
        counts=BatchCounts(**counts),
        throttle=Throttle(per_second=per_second) if per_second else None,
    )


def list_recipients(
    db: Database,
    tenant_id: str,
    batch_id: str,
    *,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> Page[BatchRecipientOut]:
    """The batch's recipients in order, each with its deliveries."""
    conn = db.connection()
    row = batches.get_batch(conn, tenant_id, batch_id)
    if row is None:
        raise NotFound(f"batch {batch_id} not found")
    after = None
    if cursor is not None:
        value = decode_cursor(cursor)
        if not value.isascii() or not value.isdigit() or len(value) > 9:
            raise InvalidRequest("invalid cursor", [{"field": "cursor", "message": "invalid"}])
        after = int(value)
    rows = batches.list_recipients(
        conn, batch_id, row["notification_id"], status=status, after_index=after, limit=limit + 1
    )
    rows, next_cursor = page_rows(rows, limit, "idx")
    return Page[BatchRecipientOut](
        items=[
            BatchRecipientOut(
                index=r["idx"],
                recipient=r["recipient"],
                variables=r["variables"],
                deliveries=r["deliveries"],
            )
            for r in rows
        ],
        next_cursor=next_cursor,
    )


def _locked(conn: Connection, tenant_id: str, batch_id: str) -> Row:
    row = batches.lock_batch(conn, tenant_id, batch_id)
    if row is None:
        raise NotFound(f"batch {batch_id} not found")
    return row


_RECIPIENTS = TypeAdapter(list[BatchRecipient])


def _add(conn: Connection, row: Row, recipients: Sequence[BatchRecipient]) -> tuple[int, list[int]]:
    """Land recipients in one statement; returns the batch's total and the offsets (in
    `recipients`) of duplicates, whether within this request or of earlier ones."""
    first_seen: dict[str, int] = {}
    duplicates: list[int] = []
    rows = []
    offsets = []
    # One serializer call for all of them: 50,000 model_dump calls cost more than the rest.
    dumped = _RECIPIENTS.dump_python(list(recipients), mode="json", exclude_none=True)
    for offset, (recipient, fields) in enumerate(zip(recipients, dumped, strict=True)):
        key = identity(recipient)
        if key in first_seen:
            duplicates.append(offset)
            continue
        first_seen[key] = offset
        offsets.append(offset)
        rows.append((fields, fields.pop("variables"), key))
    if row["total"] + len(rows) > MAX_BATCH_RECIPIENTS:
        raise Unprocessable(
            f"a batch holds at most {MAX_BATCH_RECIPIENTS} recipients",
            [{"field": "recipients", "message": f"the batch already has {row['total']}"}],
        )
    if row["next_index"] == 0:
        # The batch's first recipients (it is locked): only duplicates among them, dropped above.
        batches.insert_first_recipients(conn, row["id"], rows)
        added: Collection[int] = range(len(rows))
    else:
        added = set(batches.insert_recipients(conn, row["id"], row["next_index"], rows))
        duplicates.extend(offsets[i] for i in range(len(rows)) if i not in added)
    batches.add_counts(
        conn,
        row["id"],
        added=len(added),
        duplicates=len(duplicates),
        next_index=row["next_index"] + len(rows),
    )
    return row["total"] + len(added), sorted(duplicates)


def _start(conn: Connection, tenant_id: str, row: Row) -> list[DispatchMessage]:
    """Pin the content, create the batch's notification and its slices (same transaction)."""
    first = batches.first_recipient(conn, row["id"])
    if first is None:
        raise Unprocessable(
            "the batch has no recipients", [{"field": "recipients", "message": "add some first"}]
        )
    stored = row["request"]
    # Checked like a notification to its first recipient: the template exists, defines the
    # channels, and renders; another recipient missing a variable fails alone (render_failed).
    sample = SendNotificationRequest(
        **{k: v for k, v in stored.items() if k != "variables"},
        recipients=[Recipient(**first["recipient"])],
        variables={**stored.get("variables", {}), **first["variables"]},
    )
    channels, pinned = resolve_content(conn, tenant_id, sample)
    notification_id = new_id("ntf")
    notifications.insert_notification(
        conn,
        notification_id=notification_id,
        tenant_id=tenant_id,
        status="processing",
        channels=channels,
        recipients=[],
        content=sample.content.as_stored() if sample.content else {},
        template_id=pinned.template_id if pinned else None,
        template_version=pinned.version if pinned else None,
        variables=stored.get("variables", {}),
        category=sample.category,
        priority=sample.priority,
        critical=sample.critical,
        metadata={**sample.metadata, "batch_id": row["id"]},
        send_at=None,
        schedule_name=None,
        lane=lane_for(sample.priority, batch=True),
    )
    notifications.mark_processing(conn, notification_id)
    batches.set_notification_total(conn, notification_id, row["total"])
    return [
        DispatchMessage(
            tenant_id=tenant_id,
            notification_id=notification_id,
            batch_id=row["id"],
            first_index=s["first_index"],
        )
        for s in batches.start(conn, row["id"], notification_id, SLICE_SIZE)
    ]


def _enqueue(ports: BatchPorts, batch_id: str, slices: Sequence[DispatchMessage]) -> None:
    """One dispatch message per slice, sent ten to a call. A lost one is found by the sweeper."""
    try:
        ports.dispatch_queue.send_many(slices)
    except Exception:
        logger.exception("enqueueing batch %s failed; the sweeper will retry", batch_id)
    if ports.sweeps is not None:
        ports.sweeps.work_started(None)
