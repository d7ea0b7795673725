"""Applying provider status events (SendGrid's Event Webhook) to deliveries."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from herald.db import deliveries, suppressions
from herald.db.connection import Connection, Database

logger = logging.getLogger(__name__)

# SendGrid event -> delivery status. `processed` confirms what the worker recorded (`sent`).
SENDGRID_STATUS: dict[str, str] = {
    "processed": "sent",
    "deferred": "deferred",
    "delivered": "delivered",
    "open": "opened",
    "click": "clicked",
    "bounce": "bounced",
    "dropped": "failed",
}

# SendGrid events that make an address unsendable from now on -> suppression reason.
# `bounce` counts only when hard (type "bounce"; "blocked" is temporary), and `dropped`
# only when SendGrid dropped it for the address (not, say, for spam-like content).
SENDGRID_SUPPRESSION: dict[str, str] = {
    "bounce": "bounce",
    "dropped": "dropped",
    "spamreport": "spamreport",
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "unsubscribe",
}
_ADDRESS_DROPS = ("bounced address", "unsubscribed address", "spam reporting address", "invalid")

# Events arrive out of order (an open can beat its delivered); a status only moves forward.
# Bounces and drops end a delivery whatever came before.
_RANK = {
    "queued": 0,
    "deferred": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "opened": 5,
    "clicked": 6,
    "read": 6,
    "failed": 10,
    "bounced": 10,
    "skipped": 10,
    "canceled": 10,
}


@dataclass(frozen=True)
class AppliedEvents:
    applied: int
    duplicates: int
    unmatched: int
    # For the events topic: (tenant_id, notification_id, delivery_id, channel, status)
    changes: list[dict[str, Any]]


def next_status(current: str, incoming: str) -> str | None:
    """The status after an event, or None when the event must not move it."""
    if _RANK[incoming] > _RANK[current]:
        return incoming
    return None


def apply_sendgrid_events(
    db: Database, events: list[dict[str, Any]], provider: str = "sendgrid"
) -> AppliedEvents:
    """Record each event once (by sg_event_id) and advance its delivery's status.

    SES's events come here too, in SendGrid's terms (herald.services.ses_events), with
    `provider="ses"` naming who suppressed an address.

    Deliveries are found by the `delivery_id` and `tenant_id` custom args Herald sent; an
    event whose tenant does not own the delivery is ignored. A callback of any size costs
    three statements: lock the deliveries, append the history, move the statuses.
    """
    relevant = [
        e
        for e in events
        if isinstance(e.get("delivery_id"), str)
        and (e.get("event") in SENDGRID_STATUS or e.get("event") in SENDGRID_SUPPRESSION)
    ]
    wanted = [e for e in relevant if e["event"] in SENDGRID_STATUS]
    with db.transaction() as conn:
        rows = {
            r["id"]: r
            for r in deliveries.for_update_by_ids(conn, [e["delivery_id"] for e in relevant])
        }
        suppressed = _suppress(conn, rows, relevant, provider)
        # Walk the events in order, as if applied one by one, to find the news.
        status = {delivery_id: row["status"] for delivery_id, row in rows.items()}
        candidates: list[tuple[deliveries.ProviderEvent, dict[str, Any]]] = []
        duplicates = 0
        for event in wanted:
            row = rows.get(event["delivery_id"])
            if row is None or row["tenant_id"] != event.get("tenant_id"):
                continue
            incoming = SENDGRID_STATUS[event["event"]]
            if incoming == status[row["id"]]:
                # `processed` after the worker recorded `sent`, a second open: no news.
                duplicates += 1
                continue
            status[row["id"]] = next_status(status[row["id"]], incoming) or status[row["id"]]
            candidates.append((_history(row, incoming, event), event))

        recorded = deliveries.insert_provider_events(conn, [c for c, _ in candidates])
        # Only what was recorded now moves a status: a replayed event changes nothing.
        final = {delivery_id: row["status"] for delivery_id, row in rows.items()}
        reasons: dict[str, str | None] = {}
        changes: list[dict[str, Any]] = []
        applied = 0
        for history, event in candidates:
            if (history.delivery_id, history.provider_event_id) not in recorded:
                duplicates += 1
                continue
            applied += 1
            moved = next_status(final[history.delivery_id], history.status)
            if moved is None:
                continue
            final[history.delivery_id] = moved
            reasons[history.delivery_id] = (
                _reason(event) if moved in ("bounced", "failed") else None
            )
            row = rows[history.delivery_id]
            changes.append(
                {
                    "type": f"delivery.{moved}",
                    "tenant_id": row["tenant_id"],
                    "notification_id": row["notification_id"],
                    "delivery_id": row["id"],
                    "channel": row["channel"],
                    "status": moved,
                    "reason": reasons[history.delivery_id],
                    "provider": row.get("provider"),
                    "recipient": row.get("recipient"),
                    "at": history.at.isoformat(),
                }
            )
        deliveries.set_statuses(
            conn,
            [(d, s, reasons.get(d)) for d, s in final.items() if s != rows[d]["status"]],
        )
    unmatched = len(events) - applied - duplicates - suppressed
    if unmatched:
        logger.info(
            "sendgrid callback: %d events not applied (unknown type or delivery)", unmatched
        )
    return AppliedEvents(
        applied=applied, duplicates=duplicates, unmatched=unmatched, changes=changes
    )


def _suppress(
    conn: Connection,
    rows: dict[str, dict[str, Any]],
    events: list[dict[str, Any]],
    provider: str,
) -> int:
    """Suppress the addresses the provider reports as unsendable, in one statement; returns
    how many events did only that (spam reports, unsubscribes)."""
    entries: dict[str, list[tuple[str, str, str, dict[str, Any]]]] = {}
    only_suppressing = 0
    for event in events:
        row = rows.get(event["delivery_id"])
        reason = SENDGRID_SUPPRESSION.get(event["event"])
        if row is None or row["tenant_id"] != event.get("tenant_id") or reason is None:
            continue
        if event["event"] not in SENDGRID_STATUS:
            only_suppressing += 1
        if not _unsendable(event):
            continue
        address = row["address"] or event.get("email")
        if address:
            detail = {"delivery_id": row["id"], **_detail(event)}
            entries.setdefault(row["tenant_id"], []).append((address, reason, provider, detail))
    for tenant_id, tenant_entries in entries.items():
        suppressions.add_suppressions(conn, tenant_id, tenant_entries)
    return only_suppressing


def _unsendable(event: dict[str, Any]) -> bool:
    if event["event"] == "bounce":
        return bool(event.get("type", "bounce") == "bounce")
    if event["event"] == "dropped":
        reason = str(event.get("reason", "")).lower()
        return any(drop in reason for drop in _ADDRESS_DROPS)
    return True


def _history(row: dict[str, Any], status: str, event: dict[str, Any]) -> deliveries.ProviderEvent:
    return deliveries.ProviderEvent(
        delivery_id=row["id"],
        tenant_id=row["tenant_id"],
        status=status,
        at=_timestamp(event),
        detail=_detail(event),
        provider_event_id=str(event.get("sg_event_id") or "") or None,
    )


def _timestamp(event: dict[str, Any]) -> datetime:
    try:
        return datetime.fromtimestamp(int(event["timestamp"]), tz=UTC)
    except (KeyError, TypeError, ValueError):
        return datetime.now(UTC)


def _reason(event: dict[str, Any]) -> str:
    return str(event.get("reason") or event.get("type") or event["event"])[:500]


def _detail(event: dict[str, Any]) -> dict[str, Any]:
    keys = ("event", "sg_message_id", "reason", "status", "type", "url", "response", "attempt")
    return {k: event[k] for k in keys if k in event}
