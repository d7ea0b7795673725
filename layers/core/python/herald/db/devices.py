"""Devices: push tokens and web push subscriptions, per user."""

from __future__ import annotations

from collections.abc import Sequence

from herald.db.connection import Connection, Row

_DEVICE_COLUMNS = (
    "id, user_id, platform, address, p256dh, auth, active, deactivated_reason, created_at,"
    " last_seen_at"
)


def register(
    conn: Connection,
    tenant_id: str,
    user_id: str,
    *,
    device_id: str,
    platform: str,
    address: str,
    p256dh: str | None,
    auth: str | None,
) -> tuple[Row, bool]:
    """Insert the device, or refresh the one with this token or endpoint (moving it to this
    user and reactivating it); returns the row and whether it is new."""
    row = conn.execute(
        "INSERT INTO devices (id, tenant_id, user_id, platform, address, p256dh, auth)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (tenant_id, address) DO UPDATE SET user_id = excluded.user_id,"
        "   platform = excluded.platform, p256dh = excluded.p256dh, auth = excluded.auth,"
        "   active = true, deactivated_reason = NULL, deactivated_at = NULL,"
        "   last_seen_at = now()"
        f" RETURNING {_DEVICE_COLUMNS}, (xmax = 0) AS inserted",
        (device_id, tenant_id, user_id, platform, address, p256dh, auth),
    ).fetchone()
    assert row is not None
    return row, bool(row["inserted"])


def deactivate_beyond(
    conn: Connection, tenant_id: str, user_id: str, platform: str, keep: int
) -> list[Row]:
    """Deactivate a user's active devices of a platform beyond the `keep` seen most recently."""
    return conn.execute(
        "UPDATE devices SET active = false, deactivated_reason = 'replaced',"
        "   deactivated_at = now()"
        " WHERE id IN (SELECT id FROM devices WHERE tenant_id = %s AND user_id = %s"
        "   AND platform = %s AND active ORDER BY last_seen_at DESC, id DESC OFFSET %s)"
        " RETURNING id",
        (tenant_id, user_id, platform, keep),
    ).fetchall()


def list_devices(conn: Connection, tenant_id: str, user_id: str) -> list[Row]:
    """Every device of a user, active or not, oldest first."""
    return conn.execute(
        f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE tenant_id = %s AND user_id = %s ORDER BY id",
        (tenant_id, user_id),
    ).fetchall()


def delete_device(conn: Connection, tenant_id: str, user_id: str, device_id: str) -> bool:
    return (
        conn.execute(
            "DELETE FROM devices WHERE tenant_id = %s AND user_id = %s AND id = %s",
            (tenant_id, user_id, device_id),
        ).rowcount
        > 0
    )


def users_with_active_devices(
    conn: Connection, tenant_id: str, user_ids: Sequence[str], platforms: Sequence[str]
) -> set[tuple[str, str]]:
    """(user_id, platform) of the users among `user_ids` with an active device, in one query."""
    if not user_ids or not platforms:
        return set()
    rows = conn.execute(
        "SELECT DISTINCT user_id, platform FROM devices"
        " WHERE tenant_id = %s AND user_id = ANY(%s) AND platform = ANY(%s) AND active",
        (tenant_id, list(user_ids), list(platforms)),
    ).fetchall()
    return {(r["user_id"], r["platform"]) for r in rows}


def active_devices(
    conn: Connection, tenant_id: str, user_id: str, platforms: Sequence[str]
) -> list[Row]:
    """A user's active devices of these platforms, oldest first (what a send fans out to)."""
    return conn.execute(
        f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE tenant_id = %s AND user_id = %s"
        " AND platform = ANY(%s) AND active ORDER BY id",
        (tenant_id, user_id, list(platforms)),
    ).fetchall()


def deactivate(conn: Connection, device_ids: Sequence[str], reason: str) -> list[Row]:
    """Deactivate devices the provider rejected for good; returns those deactivated now."""
    if not device_ids:
        return []
    return conn.execute(
        "UPDATE devices SET active = false, deactivated_reason = %s, deactivated_at = now()"
        " WHERE id = ANY(%s) AND active RETURNING id, tenant_id, user_id, platform",
        (reason, list(device_ids)),
    ).fetchall()
