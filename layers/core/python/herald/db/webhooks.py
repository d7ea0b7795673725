"""Webhook endpoints, the messages owed to them, and the log of attempts to send them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from herald.db.connection import Connection, Row

_ENDPOINT_COLUMNS = (
    "id, url, description, events, status, disabled_reason, created_at, updated_at, secret"
)


def insert_endpoint(
    conn: Connection,
    *,
    endpoint_id: str,
    tenant_id: str,
    url: str,
    events: Sequence[str],
    description: str,
    secret: str,
) -> Row:
    row = conn.execute(
        "INSERT INTO webhook_endpoints (id, tenant_id, url, events, description, secret)"
        f" VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_ENDPOINT_COLUMNS}",
        (endpoint_id, tenant_id, url, list(events), description, secret),
    ).fetchone()
    assert row is not None
    return row


def get_endpoint(conn: Connection, tenant_id: str, endpoint_id: str) -> Row | None:
    return conn.execute(
        f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = %s AND id = %s",
        (tenant_id, endpoint_id),
    ).fetchone()


def list_endpoints(
    conn: Connection, tenant_id: str, *, after_id: str | None, limit: int
) -> list[Row]:
    return conn.execute(
        f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints"
        " WHERE tenant_id = %s AND (%s::text IS NULL OR id > %s) ORDER BY id LIMIT %s",
        (tenant_id, after_id, after_id, limit),
    ).fetchall()


def update_endpoint(
    conn: Connection, tenant_id: str, endpoint_id: str, changes: dict[str, Any]
) -> Row | None:
    """Set the given columns (url, events, description, status); enabling clears failures."""
    assignments = ["updated_at = now()"]
    params: dict[str, Any] = {"tenant": tenant_id, "id": endpoint_id}
    for column in ("url", "events", "description"):
        if column in changes:
            assignments.append(f"{column} = %({column})s")
            params[column] = changes[column]
    if "enabled" in changes:
        params["enabled"] = changes["enabled"]
        assignments += [
            "status = CASE WHEN %(enabled)s THEN 'enabled' ELSE 'disabled' END",
            "disabled_reason = CASE WHEN %(enabled)s THEN NULL ELSE 'manual' END",
            "failing_since = CASE WHEN %(enabled)s THEN NULL ELSE failing_since END",
        ]
    return conn.execute(
        f"UPDATE webhook_endpoints SET {', '.join(assignments)}"
        f" WHERE tenant_id = %(tenant)s AND id = %(id)s RETURNING {_ENDPOINT_COLUMNS}",
        params,
    ).fetchone()


def delete_endpoint(conn: Connection, tenant_id: str, endpoint_id: str) -> bool:
    cur = conn.execute(
        "DELETE FROM webhook_endpoints WHERE tenant_id = %s AND id = %s", (tenant_id, endpoint_id)
    )
    return cur.rowcount == 1


def rotate_secret(
    conn: Connection, tenant_id: str, endpoint_id: str, secret: str, keep_until: datetime
) -> Row | None:
    """The new secret signs from now on; the current one keeps signing until `keep_until`."""
    return conn.execute(
        "UPDATE webhook_endpoints SET previous_secret = secret, secret = %s,"
        " previous_secret_expires_at = %s, updated_at = now()"
        f" WHERE tenant_id = %s AND id = %s RETURNING {_ENDPOINT_COLUMNS}",
        (secret, keep_until, tenant_id, endpoint_id),
    ).fetchone()


def disable_endpoint(conn: Connection, endpoint_id: str, reason: str) -> Row | None:
    """Disable an enabled endpoint and fail what it still had to receive; None when it was
    not enabled (already disabled, or deleted)."""
    return conn.execute(
        "WITH disabled AS ("
        "  UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = %(reason)s,"
        "         updated_at = now()"
        "  WHERE id = %(id)s AND status = 'enabled' RETURNING id, tenant_id, url"
        "), dropped AS ("
        "  UPDATE webhook_messages SET status = 'failed', updated_at = now()"
        "  WHERE endpoint_id IN (SELECT id FROM disabled) AND status = 'pending'"
        ")"
        " SELECT id, tenant_id, url FROM disabled",
        {"id": endpoint_id, "reason": reason},
    ).fetchone()


def subscribed_endpoints(conn: Connection, keys: Sequence[tuple[str, str]]) -> list[Row]:
    """Enabled endpoints subscribed to each (tenant_id, event_type), in one query."""
    if not keys:
        return []
    return conn.execute(
        "SELECT DISTINCT k.tenant_id, k.event_type, e.id AS endpoint_id"
        " FROM unnest(%s::text[], %s::text[]) AS k(tenant_id, event_type)"
        " JOIN webhook_endpoints e ON e.tenant_id = k.tenant_id AND e.status = 'enabled'"
        "  AND k.event_type = ANY(e.events)"
        " ORDER BY e.id",
        ([k[0] for k in keys], [k[1] for k in keys]),
    ).fetchall()


@dataclass(frozen=True)
class NewMessage:
    id: str
    tenant_id: str
    endpoint_id: str
    source_id: str
    event_type: str
    body: str
    # Set by the caller, like the `due_at` of the queue message that will send it: claims
    # compare the two, so both come from one clock.
    next_attempt_at: datetime


def insert_messages(conn: Connection, messages: Sequence[NewMessage]) -> list[Row]:
    """Insert messages in one statement; a message already stored for the same endpoint and
    source is skipped. Returns (id, tenant_id) of those inserted now."""
    if not messages:
        return []
    return conn.execute(
        "INSERT INTO webhook_messages (id, tenant_id, endpoint_id, source_id, event_type, body,"
        "                              next_attempt_at)"
        " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
        "                      %s::text[], %s::timestamptz[])"
        " ON CONFLICT (endpoint_id, source_id) DO NOTHING RETURNING id, tenant_id",
        (
            [m.id for m in messages],
            [m.tenant_id for m in messages],
            [m.endpoint_id for m in messages],
            [m.source_id for m in messages],
            [m.event_type for m in messages],
            [m.body for m in messages],
            [m.next_attempt_at for m in messages],
        ),
    ).fetchall()


def claim_messages(
    conn: Connection, tenant_id: str, message_ids: Sequence[str], due_at: datetime, lease: int
) -> list[Row]:
    """Take the messages due by `due_at` whose endpoint is enabled, for `lease` seconds.

    Only the claimant sends; a message already delivered, failed or held by a live lease is
    left out. Returns each with its endpoint's URL and signing secrets.
    """
    return conn.execute(
        "UPDATE webhook_messages m SET status = 'sending', updated_at = now(),"
        "       lease_expires_at = now() + make_interval(secs => %(lease)s)"
        " FROM webhook_endpoints e"
        " WHERE m.tenant_id = %(tenant)s AND m.id = ANY(%(ids)s) AND e.id = m.endpoint_id"
        "   AND e.status = 'enabled' AND m.next_attempt_at <= %(due)s"
        "   AND (m.status = 'pending' OR (m.status = 'sending' AND m.lease_expires_at < now()))"
        " RETURNING m.id, m.tenant_id, m.endpoint_id, m.event_type, m.body, m.attempts,"
        "   m.created_at, e.url, e.secret,"
        "   CASE WHEN e.previous_secret_expires_at > now() THEN e.previous_secret END"
        "     AS previous_secret",
        {"tenant": tenant_id, "ids": list(message_ids), "due": due_at, "lease": lease},
    ).fetchall()


@dataclass(frozen=True)
class Attempt:
    id: str
    message: Row
    status_code: int | None
    latency_ms: int
    response_excerpt: str
    error: str | None
    # Where the message goes next: delivered, pending (with next_attempt_at) or failed.
    message_status: str
    next_attempt_at: datetime | None


def record_attempt(conn: Connection, attempt: Attempt) -> datetime | None:
    """Log an attempt, move its message on, and track the endpoint's run of failures.

    Returns since when the endpoint has been failing (None after a success).
    """
    message = attempt.message
    row = conn.execute(
        "WITH logged AS ("
        "  INSERT INTO webhook_attempts (id, tenant_id, endpoint_id, message_id, event_type,"
        "    status_code, latency_ms, response_excerpt, error, next_attempt_at)"
        "  VALUES (%(id)s, %(tenant)s, %(endpoint)s, %(message)s, %(type)s, %(code)s,"
        "          %(latency)s, %(excerpt)s, %(error)s, %(next)s)"
        "), moved AS ("
        "  UPDATE webhook_messages SET status = %(status)s, attempts = attempts + 1,"
        "         next_attempt_at = coalesce(%(next)s, next_attempt_at),"
        "         lease_expires_at = NULL, updated_at = now()"
        "  WHERE id = %(message)s"
        ")"
        " UPDATE webhook_endpoints SET failing_since ="
        "   CASE WHEN %(ok)s THEN NULL ELSE coalesce(failing_since, now()) END"
        " WHERE id = %(endpoint)s RETURNING failing_since",
        {
            "id": attempt.id,
            "tenant": message["tenant_id"],
            "endpoint": message["endpoint_id"],
            "message": message["id"],
            "type": message["event_type"],
            "code": attempt.status_code,
            "latency": attempt.latency_ms,
            "excerpt": attempt.response_excerpt,
            "error": attempt.error,
            "next": attempt.next_attempt_at,
            "status": attempt.message_status,
            "ok": attempt.message_status == "delivered",
        },
    ).fetchone()
    return row["failing_since"] if row else None


def list_attempts(
    conn: Connection, tenant_id: str, endpoint_id: str, *, before_id: str | None, limit: int
) -> list[Row]:
    """Newest first; `before_id` is the last id of the previous page."""
    return conn.execute(
        "SELECT id, message_id, event_type, status_code, latency_ms, response_excerpt, error,"
        "       at, next_attempt_at"
        " FROM webhook_attempts WHERE tenant_id = %s AND endpoint_id = %s"
        "   AND (%s::text IS NULL OR id < %s) ORDER BY id DESC LIMIT %s",
        (tenant_id, endpoint_id, before_id, before_id, limit),
    ).fetchall()


def replay_messages(
    conn: Connection,
    tenant_id: str,
    endpoint_id: str,
    *,
    since: datetime,
    until: datetime,
    due_at: datetime,
) -> list[str]:
    """Start a new round of attempts, due at `due_at`, for the endpoint's messages created in
    [since, until) (except those being sent right now)."""
    rows = conn.execute(
        "UPDATE webhook_messages SET status = 'pending', attempts = 0, next_attempt_at = %s,"
        "       updated_at = now()"
        " WHERE tenant_id = %s AND endpoint_id = %s AND created_at >= %s AND created_at < %s"
        "   AND status <> 'sending' RETURNING id",
        (due_at, tenant_id, endpoint_id, since, until),
    ).fetchall()
    return sorted(row["id"] for row in rows)


def channel_secret(conn: Connection, tenant_id: str, new_secret: str) -> str:
    """The tenant's `webhook` channel secret, created with `new_secret` on first use."""
    row = conn.execute(
        "WITH created AS ("
        "  INSERT INTO webhook_channel_secrets (tenant_id, secret) VALUES (%s, %s)"
        "  ON CONFLICT (tenant_id) DO NOTHING RETURNING secret"
        ")"
        " SELECT secret FROM created"
        " UNION ALL SELECT secret FROM webhook_channel_secrets WHERE tenant_id = %s",
        (tenant_id, new_secret, tenant_id),
    ).fetchone()
    assert row is not None
    return str(row["secret"])


def stalled_messages(conn: Connection, cutoff: datetime, limit: int) -> list[Row]:
    """Messages due before `cutoff` that nobody is sending: their queue message was lost
    (dead-lettered, or its worker died after the claim and the lease lapsed)."""
    return conn.execute(
        "SELECT m.id, m.tenant_id FROM webhook_messages m"
        " JOIN webhook_endpoints e ON e.id = m.endpoint_id AND e.status = 'enabled'"
        " WHERE m.next_attempt_at < %s"
        "   AND (m.status = 'pending' OR (m.status = 'sending' AND m.lease_expires_at < now()))"
        " ORDER BY m.next_attempt_at LIMIT %s",
        (cutoff, limit),
    ).fetchall()
