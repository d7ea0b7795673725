"""WhatsApp customer-service windows: when each user last wrote to each business number."""

from __future__ import annotations

from datetime import datetime

from herald.db.connection import Connection


def record_inbound(conn: Connection, sender: str, address: str, at: datetime) -> None:
    """Open (or extend) the window of `address` with `sender`; an older message never
    shortens it (callbacks may arrive out of order)."""
    conn.execute(
        "INSERT INTO whatsapp_sessions (sender, address, last_inbound_at) VALUES (%s, %s, %s)"
        " ON CONFLICT (sender, address) DO UPDATE SET last_inbound_at ="
        "   GREATEST(whatsapp_sessions.last_inbound_at, EXCLUDED.last_inbound_at)",
        (sender, address, at),
    )


def last_inbound(conn: Connection, sender: str, address: str) -> datetime | None:
    row = conn.execute(
        "SELECT last_inbound_at FROM whatsapp_sessions WHERE sender = %s AND address = %s",
        (sender, address),
    ).fetchone()
    return row["last_inbound_at"] if row else None
