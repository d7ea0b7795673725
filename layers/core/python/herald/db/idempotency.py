"""Idempotency keys: the first response to a (tenant, key) is stored for 24 hours."""

from __future__ import annotations

from typing import Any

from herald.db.connection import Connection, Row, jsonb


def claim_key(
    conn: Connection, *, tenant_id: str, key: str, request_hash: str, ttl_hours: int
) -> bool:
    """Claim a new (or expired) key for this request; False when a live one exists.

    Call inside the transaction that does the work, then `store_response` in it: a
    concurrent request with the same key blocks on the primary key until that transaction
    ends, then sees the stored response. The two never both create.
    """
    row = conn.execute(
        "INSERT INTO idempotency_keys"
        " (tenant_id, key, request_hash, response_status, response_body, expires_at)"
        " VALUES (%s, %s, %s, 0, '{}', now() + make_interval(hours => %s))"
        " ON CONFLICT (tenant_id, key) DO UPDATE SET"
        "   request_hash = EXCLUDED.request_hash, response_status = 0,"
        "   response_body = '{}', created_at = now(), expires_at = EXCLUDED.expires_at"
        " WHERE idempotency_keys.expires_at < now()"
        " RETURNING key",
        (tenant_id, key, request_hash, ttl_hours),
    ).fetchone()
    return row is not None


def store_response(
    conn: Connection, tenant_id: str, key: str, status: int, body: dict[str, Any]
) -> None:
    conn.execute(
        "UPDATE idempotency_keys SET response_status = %s, response_body = %s"
        " WHERE tenant_id = %s AND key = %s",
        (status, jsonb(body), tenant_id, key),
    )


def get_key(conn: Connection, tenant_id: str, key: str) -> Row | None:
    return conn.execute(
        "SELECT request_hash, response_status, response_body FROM idempotency_keys"
        " WHERE tenant_id = %s AND key = %s",
        (tenant_id, key),
    ).fetchone()


def delete_expired(conn: Connection) -> int:
    return conn.execute("DELETE FROM idempotency_keys WHERE expires_at < now()").rowcount
