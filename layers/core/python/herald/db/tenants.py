"""Tenants."""

from __future__ import annotations

from herald.db.connection import Connection


def insert_tenant(conn: Connection, tenant_id: str, name: str) -> None:
    conn.execute("INSERT INTO tenants (id, name) VALUES (%s, %s)", (tenant_id, name))


def ensure_tenant(conn: Connection, tenant_id: str, name: str) -> None:
    conn.execute(
        "INSERT INTO tenants (id, name) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING",
        (tenant_id, name),
    )
