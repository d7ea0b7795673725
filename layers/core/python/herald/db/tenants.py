"""Tenants."""

from __future__ import annotations

from herald.db.connection import Connection, Row


def insert_tenant(conn: Connection, tenant_id: str, name: str) -> None:
    conn.execute("INSERT INTO tenants (id, name) VALUES (%s, %s)", (tenant_id, name))


def get_tenant(conn: Connection, tenant_id: str) -> Row | None:
    return conn.execute("SELECT * FROM tenants WHERE id = %s", (tenant_id,)).fetchone()
