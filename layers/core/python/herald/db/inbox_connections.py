"""Open realtime (WebSocket) connections of inbox users."""

from __future__ import annotations

from collections.abc import Sequence

from herald.db.connection import Connection, Row


def add_connection(conn: Connection, connection_id: str, tenant_id: str, user_id: str) -> None:
    conn.execute(
        "INSERT INTO inbox_connections (connection_id, tenant_id, user_id) VALUES (%s, %s, %s)"
        " ON CONFLICT (connection_id) DO UPDATE"
        " SET tenant_id = excluded.tenant_id, user_id = excluded.user_id",
        (connection_id, tenant_id, user_id),
    )


def remove_connections(conn: Connection, connection_ids: Sequence[str]) -> int:
    if not connection_ids:
        return 0
    return conn.execute(
        "DELETE FROM inbox_connections WHERE connection_id = ANY(%s)", (list(connection_ids),)
    ).rowcount


def connections_of_users(conn: Connection, tenant_id: str, user_ids: Sequence[str]) -> list[Row]:
    """(connection_id, user_id) of every open connection of these users, in one query."""
    if not user_ids:
        return []
    return conn.execute(
        "SELECT connection_id, user_id FROM inbox_connections"
        " WHERE tenant_id = %s AND user_id = ANY(%s)",
        (tenant_id, list(user_ids)),
    ).fetchall()


def remove_connections_of_user(conn: Connection, tenant_id: str, user_id: str) -> int:
    return conn.execute(
        "DELETE FROM inbox_connections WHERE tenant_id = %s AND user_id = %s",
        (tenant_id, user_id),
    ).rowcount
