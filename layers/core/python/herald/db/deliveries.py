"""Deliveries (one recipient x one channel) and their append-only event history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from herald.db.connection import Connection, Row, jsonb


@dataclass(frozen=True)
class NewDelivery:
    id: str
    recipient_index: int
    channel: str
    recipient: dict[str, Any]
    address: str | None
    status: str
    reason: str | None
    locale: str | None = None
    next_attempt_at: datetime | None = None
    # A fallback delivery: the ids of the deliveries it stands in for.
    replaces: tuple[str, ...] | None = None
    # A batch recipient's own template variables.
    variables: dict[str, Any] | None = None


def insert_deliveries(
    conn: Connection, tenant_id: str, notification_id: str, deliveries: Sequence[NewDelivery]
) -> int:
    """Insert many deliveries and their first history event in two statements.

    Idempotent: rows already inserted by an earlier attempt of the same dispatch are kept.
    """
    if not deliveries:
        return 0
    inserted = conn.execute(
        "WITH rows AS ("
        "  INSERT INTO deliveries (id, tenant_id, notification_id, recipient_index, channel,"
        "                          recipient, address, status, reason, locale, next_attempt_at,"
        "                          replaces, recipient_variables)"
        "  SELECT r.id, %(tenant)s, %(notification)s, r.idx, r.channel, r.recipient, r.address,"
        "         r.status, r.reason, r.locale, r.next_at,"
        "         CASE WHEN r.replaces = '' THEN NULL ELSE string_to_array(r.replaces, ',') END,"
        "         r.variables"
        "  FROM unnest(%(ids)s::text[], %(idx)s::int[], %(channels)s::text[],"
        "              %(recipients)s::jsonb[], %(addresses)s::text[], %(statuses)s::text[],"
        "              %(reasons)s::text[], %(locales)s::text[], %(next_at)s::timestamptz[],"
        "              %(replaces)s::text[], %(variables)s::jsonb[])"
        "       AS r(id, idx, channel, recipient, address, status, reason, locale, next_at,"
        "            replaces, variables)"
        "  ON CONFLICT (notification_id, recipient_index, channel) DO NOTHING"
        "  RETURNING id, status, reason, next_attempt_at, replaces"
        ")"
        " INSERT INTO delivery_events (tenant_id, delivery_id, status, detail)"
        " SELECT %(tenant)s, id, status,"
        "        jsonb_strip_nulls(jsonb_build_object('reason', reason, 'until', next_attempt_at,"
        "                                             'replaces', replaces))"
        " FROM rows",
        {
            "tenant": tenant_id,
            "notification": notification_id,
            "ids": [d.id for d in deliveries],
            "idx": [d.recipient_index for d in deliveries],
            "channels": [d.channel for d in deliveries],
            "recipients": [jsonb(d.recipient) for d in deliveries],
            "addresses": [d.address for d in deliveries],
            "statuses": [d.status for d in deliveries],
            "reasons": [d.reason for d in deliveries],
            "locales": [d.locale for d in deliveries],
            "next_at": [d.next_attempt_at for d in deliveries],
            # unnest cannot take a ragged array of arrays: each list travels joined.
            "replaces": [",".join(d.replaces or ()) for d in deliveries],
            "variables": [jsonb(d.variables) if d.variables else None for d in deliveries],
        },
    )
    return inserted.rowcount


def queued_for_notification(conn: Connection, notification_id: str) -> list[Row]:
    return conn.execute(
        "SELECT id, channel FROM deliveries WHERE notification_id = %s AND status = 'queued'"
        " ORDER BY id",
        (notification_id,),
    ).fetchall()


def release_quiet_hours(conn: Connection, notification_id: str, now: datetime) -> int:
    """Queue the deliveries of a notification whose recipient's quiet hours have ended."""
    return conn.execute(
        "WITH released AS ("
        "  UPDATE deliveries SET status = 'queued', reason = NULL, next_attempt_at = NULL,"
        "    updated_at = now()"
        "  WHERE notification_id = %s AND status = 'deferred' AND reason = 'quiet_hours'"
        # The scheduler fires on the second; a clock a little ahead must not wait a day.
        "    AND next_attempt_at <= %s + interval '1 second'"
        "  RETURNING tenant_id, id"
        ")"
        " INSERT INTO delivery_events (tenant_id, delivery_id, status, detail)"
        " SELECT tenant_id, id, 'queued', '{\"after\": \"quiet_hours\"}' FROM released",
        (notification_id, now),
    ).rowcount


def next_quiet_hours_end(conn: Connection, notification_id: str) -> datetime | None:
    """When the next deferred delivery of a notification may go out, if any waits."""
    row = conn.execute(
        "SELECT min(next_attempt_at) AS at FROM deliveries"
        " WHERE notification_id = %s AND status = 'deferred' AND reason = 'quiet_hours'",
        (notification_id,),
    ).fetchone()
    return row["at"] if row else None


def claim(
    conn: Connection, tenant_id: str, delivery_ids: Sequence[str], lease_seconds: int
) -> list[Row]:
    """Take deliveries for sending: only the claimant may call the provider.

    Claimable: queued or deferred, or sending whose lease lapsed (the worker that held it
    died). A delivery already sent, or held by a live worker, is not returned.
    """
    return conn.execute(
        "WITH claimed AS ("
        "  UPDATE deliveries SET status = 'sending', attempts = attempts + 1,"
        # Why it waited (quiet hours) no longer holds once it is being sent.
        "    reason = CASE WHEN status = 'deferred' THEN NULL ELSE reason END,"
        "    lease_expires_at = now() + make_interval(secs => %s), updated_at = now()"
        "  WHERE id = ANY(%s) AND tenant_id = %s"
        "    AND (status IN ('queued', 'deferred')"
        "         OR (status = 'sending' AND lease_expires_at < now()))"
        "  RETURNING *"
        "), history AS ("
        "  INSERT INTO delivery_events (tenant_id, delivery_id, status, detail)"
        "  SELECT tenant_id, id, 'sending', jsonb_build_object('attempt', attempts) FROM claimed"
        ")"
        # A batch recipient's own variables win over the notification's.
        " SELECT c.*, n.content, n.template_id, n.template_version,"
        "        n.variables || COALESCE(c.recipient_variables, '{}'::jsonb) AS variables,"
        "        n.category, n.critical, n.metadata"
        " FROM claimed c JOIN notifications n ON n.id = c.notification_id",
        (lease_seconds, list(delivery_ids), tenant_id),
    ).fetchall()


def notifications_of(conn: Connection, tenant_id: str, delivery_ids: Sequence[str]) -> set[str]:
    """The ids of the notifications these deliveries belong to."""
    rows = conn.execute(
        "SELECT DISTINCT notification_id FROM deliveries WHERE id = ANY(%s) AND tenant_id = %s",
        (list(delivery_ids), tenant_id),
    ).fetchall()
    return {r["notification_id"] for r in rows}


def record_outcome(
    conn: Connection,
    delivery_id: str,
    *,
    status: str,
    provider: str | None = None,
    provider_message_id: str | None = None,
    error: str | None = None,
    reason: str | None = None,
    next_attempt_at: datetime | None = None,
    attributes: dict[str, Any] | None = None,
    targets: list[dict[str, Any]] | None = None,
    integration_id: str | None = None,
    tried: list[dict[str, Any]] | None = None,
    refund_attempt: bool = False,
) -> None:
    """Record the result of one send attempt, with its history event, in one statement.

    `attributes` (what the channel measured about the message) are merged into the
    delivery's own. `targets`: for a send to several devices, each device's result, kept
    in the history. `integration_id`: the tenant's integration that sent it (none: the
    deployment's account); `tried`: the integrations that failed before it, in the history.
    `refund_attempt`: the attempt never reached a provider (every breaker open), so it does
    not count.
    """
    conn.execute(
        "WITH d AS ("
        # A provider callback may already have moved the delivery past `sending`
        # (delivered before the worker recorded `sent`): never move it back.
        "  UPDATE deliveries SET"
        "    status = CASE WHEN status = 'sending' THEN %(status)s ELSE status END,"
        "    provider = COALESCE(%(provider)s, provider),"
        "    provider_message_id = COALESCE(%(message_id)s, provider_message_id),"
        "    error = %(error)s, reason = COALESCE(%(reason)s, reason),"
        "    next_attempt_at = %(next)s, lease_expires_at = NULL, updated_at = now(),"
        "    attributes = attributes || %(attributes)s,"
        "    integration_id = COALESCE(%(integration_id)s, integration_id),"
        "    attempts = attempts - %(refund)s"
        "  WHERE id = %(id)s RETURNING tenant_id, id"
        ")"
        " INSERT INTO delivery_events (tenant_id, delivery_id, status, detail)"
        " SELECT tenant_id, id, %(status)s, jsonb_strip_nulls(jsonb_build_object("
        "   'provider_message_id', %(message_id)s::text, 'error', %(error)s::text,"
        "   'reason', %(reason)s::text, 'targets', %(targets)s::jsonb,"
        "   'provider', %(provider)s::text, 'integration_id', %(integration_id)s::text,"
        "   'tried', %(tried)s::jsonb)) FROM d",
        {
            "id": delivery_id,
            "status": status,
            "provider": provider,
            "message_id": provider_message_id,
            "error": error,
            "reason": reason,
            "next": next_attempt_at,
            "attributes": jsonb(attributes or {}),
            "targets": jsonb(targets) if targets is not None else None,
            "integration_id": integration_id,
            "tried": jsonb(tried) if tried is not None else None,
            "refund": 1 if refund_attempt else 0,
        },
    )


def for_update_by_ids(conn: Connection, delivery_ids: Sequence[str]) -> list[Row]:
    return conn.execute(
        "SELECT id, tenant_id, notification_id, channel, status, address, recipient, provider"
        " FROM deliveries WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
        (list(delivery_ids),),
    ).fetchall()


@dataclass(frozen=True)
class ProviderEvent:
    delivery_id: str
    tenant_id: str
    status: str
    at: datetime
    detail: dict[str, Any]
    provider_event_id: str | None


def insert_provider_events(
    conn: Connection, events: Sequence[ProviderEvent]
) -> set[tuple[str, str | None]]:
    """Append provider events in one statement; return (delivery_id, provider_event_id) of
    those recorded now. An event already recorded (a replayed callback) is left out."""
    if not events:
        return set()
    rows = conn.execute(
        "INSERT INTO delivery_events"
        " (tenant_id, delivery_id, status, at, detail, provider_event_id)"
        " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[],"
        "                      %s::jsonb[], %s::text[])"
        " ON CONFLICT (delivery_id, provider_event_id) DO NOTHING"
        " RETURNING delivery_id, provider_event_id",
        (
            [e.tenant_id for e in events],
            [e.delivery_id for e in events],
            [e.status for e in events],
            [e.at for e in events],
            [jsonb(e.detail) for e in events],
            [e.provider_event_id for e in events],
        ),
    ).fetchall()
    return {(r["delivery_id"], r["provider_event_id"]) for r in rows}


def set_statuses(conn: Connection, changes: Sequence[tuple[str, str, str | None]]) -> None:
    """Set (delivery_id, status, reason) for many deliveries in one statement."""
    if not changes:
        return
    conn.execute(
        "UPDATE deliveries d SET status = c.status, reason = COALESCE(c.reason, d.reason),"
        "  updated_at = now()"
        " FROM unnest(%s::text[], %s::text[], %s::text[]) AS c(id, status, reason)"
        " WHERE d.id = c.id",
        ([c[0] for c in changes], [c[1] for c in changes], [c[2] for c in changes]),
    )


def list_for_notification(conn: Connection, notification_id: str) -> list[Row]:
    return conn.execute(
        "SELECT id, channel, recipient, status, reason, provider, provider_message_id,"
        "       attempts, error, attributes, replaces, integration_id"
        " FROM deliveries WHERE notification_id = %s"
        " ORDER BY id",
        (notification_id,),
    ).fetchall()


def events_for_notification(conn: Connection, notification_id: str) -> list[Row]:
    return conn.execute(
        "SELECT e.delivery_id, e.status, e.at, e.detail FROM delivery_events e"
        " JOIN deliveries d ON d.id = e.delivery_id"
        " WHERE d.notification_id = %s ORDER BY e.id",
        (notification_id,),
    ).fetchall()


# The lane of a delivery's notification (herald.services.lanes): the queues it goes back to.
_LANE = "(SELECT n.lane FROM notifications n WHERE n.id = deliveries.notification_id) AS lane"


def find_stalled(conn: Connection, *, older_than: datetime, limit: int) -> list[Row]:
    """In-flight deliveries nobody is working on: lost messages, lapsed leases."""
    return conn.execute(
        "SELECT id, tenant_id, channel, attempts, " + _LANE + " FROM deliveries"
        " WHERE status IN ('queued', 'deferred', 'sending') AND updated_at < %s"
        "   AND (status <> 'sending' OR lease_expires_at < now())"
        "   AND (next_attempt_at IS NULL OR next_attempt_at < %s)"
        " ORDER BY updated_at LIMIT %s",
        (older_than, older_than, limit),
    ).fetchall()


def release_leases(conn: Connection) -> int:
    """End every lease now: for when every worker that could hold one is known dead."""
    return conn.execute(
        "UPDATE deliveries SET lease_expires_at = now() - interval '1 second'"
        " WHERE status = 'sending' AND lease_expires_at >= now()"
    ).rowcount


def find_waiting_retries(conn: Connection, *, limit: int) -> list[Row]:
    """Deliveries waiting for a retry time, or a throttled batch's queued ones for their wave,
    still ahead: their delayed message carries the wait (quiet hours are not retries: a
    schedule on the notification ends them)."""
    return conn.execute(
        "SELECT id, tenant_id, channel, next_attempt_at, " + _LANE + " FROM deliveries"
        " WHERE status IN ('deferred', 'queued') AND reason IS DISTINCT FROM 'quiet_hours'"
        "   AND next_attempt_at >= now()"
        " ORDER BY next_attempt_at LIMIT %s",
        (limit,),
    ).fetchall()


def fail_in_flight(
    conn: Connection, delivery_ids: Sequence[str], reason: str, error: str
) -> list[Row]:
    """Fail deliveries still in flight, with history; returns those moved (tenant_id, id,
    notification_id, channel, recipient)."""
    return conn.execute(
        "WITH d AS ("
        "  UPDATE deliveries SET status = 'failed', reason = %(reason)s, error = %(error)s,"
        "    lease_expires_at = NULL, updated_at = now()"
        "  WHERE id = ANY(%(ids)s) AND status IN ('queued', 'deferred', 'sending')"
        "  RETURNING tenant_id, id, notification_id, channel, recipient"
        "), history AS ("
        "  INSERT INTO delivery_events (tenant_id, delivery_id, status, detail)"
        "  SELECT tenant_id, id, 'failed', jsonb_build_object('reason', %(reason)s::text) FROM d"
        ")"
        " SELECT tenant_id, id, notification_id, channel, recipient FROM d",
        {"ids": list(delivery_ids), "reason": reason, "error": error},
    ).fetchall()


def record_provider_errors(conn: Connection, errors: Sequence[tuple[str, str]]) -> None:
    """Set the `error` of deliveries a provider reports as failed: (delivery_id, error)."""
    if not errors:
        return
    conn.execute(
        "UPDATE deliveries d SET error = e.error FROM unnest(%s::text[], %s::text[])"
        " AS e(id, error) WHERE d.id = e.id",
        ([e[0] for e in errors], [e[1] for e in errors]),
    )


def record_many(
    conn: Connection, delivery_ids: Sequence[str], *, status: str, provider: str
) -> list[str]:
    """Record one outcome for many claimed deliveries, with their history, in one statement
    (channels that store rather than send: every delivery of the batch ends alike).
    Returns the ids moved; a delivery no longer `sending` keeps its status."""
    if not delivery_ids:
        return []
    rows = conn.execute(
        "WITH d AS ("
        "  UPDATE deliveries SET status = %(status)s, provider = %(provider)s, error = NULL,"
        "    next_attempt_at = NULL, lease_expires_at = NULL, updated_at = now()"
        "  WHERE id = ANY(%(ids)s) AND status = 'sending' RETURNING tenant_id, id"
        "), history AS ("
        "  INSERT INTO delivery_events (tenant_id, delivery_id, status)"
        "  SELECT tenant_id, id, %(status)s FROM d"
        ")"
        " SELECT id FROM d",
        {"ids": list(delivery_ids), "status": status, "provider": provider},
    ).fetchall()
    return [r["id"] for r in rows]


def steps_of(conn: Connection, notification_id: str) -> list[Row]:
    """What the fallback cascade looks at: every delivery of a notification, oldest first."""
    return conn.execute(
        "SELECT id, recipient_index, channel, status, reason, created_at FROM deliveries"
        " WHERE notification_id = %s ORDER BY created_at, id",
        (notification_id,),
    ).fetchall()


def cancel_waiting(conn: Connection, delivery_ids: Sequence[str], reason: str) -> list[str]:
    """Cancel deliveries not yet handed to a provider (queued or deferred), with history;
    returns the ids canceled (one already claimed by a worker goes on)."""
    if not delivery_ids:
        return []
    rows = conn.execute(
        "WITH d AS ("
        "  UPDATE deliveries SET status = 'canceled', reason = %(reason)s,"
        "    next_attempt_at = NULL, updated_at = now()"
        "  WHERE id = ANY(%(ids)s) AND status IN ('queued', 'deferred')"
        "  RETURNING tenant_id, id"
        "), history AS ("
        "  INSERT INTO delivery_events (tenant_id, delivery_id, status, detail)"
        "  SELECT tenant_id, id, 'canceled', jsonb_build_object('reason', %(reason)s::text)"
        "  FROM d"
        ")"
        " SELECT id FROM d",
        {"ids": list(delivery_ids), "reason": reason},
    ).fetchall()
    return [r["id"] for r in rows]
