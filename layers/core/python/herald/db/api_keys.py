"""API keys: stored as a hash, looked up by hash."""

from __future__ import annotations

from collections.abc import Sequence

from herald.db.connection import Connection, Row


def insert_api_key(
    conn: Connection,
    *,
    key_id: str,
    tenant_id: str,
    name: str,
    key_hash: bytes,
    key_prefix: str,
    scopes: Sequence[str],
) -> Row:
    row = conn.execute(
        "INSERT INTO api_keys (id, tenant_id, name, key_hash, key_prefix, scopes)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id, tenant_id, name, scopes, created_at",
        (key_id, tenant_id, name, key_hash, key_prefix, list(scopes)),
    ).fetchone()
    assert row is not None
    return row


def find_active_key(conn: Connection, key_hash: bytes) -> Row | None:
    return conn.execute(
        "SELECT id, tenant_id, scopes FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL",
        (key_hash,),
    ).fetchone()


def revoke_api_key(conn: Connection, tenant_id: str, key_id: str) -> bool:
    cur = conn.execute(
        "UPDATE api_keys SET revoked_at = now()"
        " WHERE id = %s AND tenant_id = %s AND revoked_at IS NULL",
        (key_id, tenant_id),
    )
    return cur.rowcount == 1
