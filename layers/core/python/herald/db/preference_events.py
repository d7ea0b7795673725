"""Preference events: the append-only record of who changed which preference, and how."""

from __future__ import annotations

from typing import Any, Literal

from herald.db.connection import Connection, Row, jsonb

Source = Literal["api", "page", "one_click", "provider"]


def record_event(
    conn: Connection,
    tenant_id: str,
    *,
    user_id: str | None,
    address: str | None,
    source: Source,
    change: dict[str, Any],
) -> None:
    conn.execute(
        "INSERT INTO preference_events (tenant_id, user_id, address, source, change)"
        " VALUES (%s, %s, %s, %s, %s)",
        (tenant_id, user_id, address, source, jsonb(change)),
    )


def events_of_user(conn: Connection, tenant_id: str, user_id: str) -> list[Row]:
    """A user's events, oldest first."""
    return conn.execute(
        "SELECT id, user_id, address, source, change, at FROM preference_events"
        " WHERE tenant_id = %s AND user_id = %s ORDER BY id",
        (tenant_id, user_id),
    ).fetchall()


def delete_events_of_user(conn: Connection, tenant_id: str, user_id: str) -> None:
    conn.execute(
        "DELETE FROM preference_events WHERE tenant_id = %s AND user_id = %s",
        (tenant_id, user_id),
    )
