"""Users: the tenant's own ids with their addresses, profile and preferences."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from herald.db.connection import Connection, Row, jsonb

_USER_COLUMNS = (
    "user_id, email, phone, name, locale, timezone, data, preferences, created_at, updated_at,"
    " webhook_url"
)
# What a delivery anonymised by an erasure keeps of its recipient.
ERASED_RECIPIENT = "<erased>"


def upsert_user(
    conn: Connection,
    tenant_id: str,
    user_id: str,
    *,
    email: str | None,
    phone: str | None,
    name: str | None,
    locale: str | None,
    timezone: str | None,
    data: dict[str, Any],
    webhook_url: str | None = None,
) -> Row:
    """Create the user or replace its profile; preferences are left as they are."""
    row = conn.execute(
        "INSERT INTO users (tenant_id, user_id, email, phone, name, locale, timezone, data,"
        "                   webhook_url)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (tenant_id, user_id) DO UPDATE SET email = excluded.email,"
        " phone = excluded.phone, name = excluded.name, locale = excluded.locale,"
        " timezone = excluded.timezone, data = excluded.data,"
        " webhook_url = excluded.webhook_url, updated_at = now()"
        f" RETURNING {_USER_COLUMNS}",
        (tenant_id, user_id, email, phone, name, locale, timezone, jsonb(data), webhook_url),
    ).fetchone()
    assert row is not None
    return row


def get_user(conn: Connection, tenant_id: str, user_id: str, *, lock: bool = False) -> Row | None:
    """One user, or None; `lock` holds the row until the transaction ends."""
    return conn.execute(
        f"SELECT {_USER_COLUMNS} FROM users WHERE tenant_id = %s AND user_id = %s"
        + (" FOR UPDATE" if lock else ""),
        (tenant_id, user_id),
    ).fetchone()


def get_users(conn: Connection, tenant_id: str, user_ids: Sequence[str]) -> dict[str, Row]:
    """The users among `user_ids` that exist, by user_id, in one query (for dispatch).

    Each row has user_id, email, phone, name, locale, timezone, webhook_url and preferences (the
    Preferences JSON; `{}` when never set).
    """
    if not user_ids:
        return {}
    rows = conn.execute(
        "SELECT user_id, email, phone, name, locale, timezone, preferences, webhook_url"
        " FROM users"
        " WHERE tenant_id = %s AND user_id = ANY(%s)",
        (tenant_id, list(dict.fromkeys(user_ids))),
    ).fetchall()
    return {row["user_id"]: row for row in rows}


def set_preferences(
    conn: Connection, tenant_id: str, user_id: str, preferences: dict[str, Any]
) -> None:
    conn.execute(
        "UPDATE users SET preferences = %s, updated_at = now()"
        " WHERE tenant_id = %s AND user_id = %s",
        (jsonb(preferences), tenant_id, user_id),
    )


def erase_user(conn: Connection, tenant_id: str, user_id: str) -> bool:
    """Delete the user and anonymise the deliveries and notifications that name it.

    Deliveries keep their channel and status, so counts per status survive; what identifies
    the person (user id, address) goes. False when there was no such user.
    """
    deleted = conn.execute(
        "DELETE FROM users WHERE tenant_id = %s AND user_id = %s", (tenant_id, user_id)
    )
    if deleted.rowcount == 0:
        return False
    erased = {"tenant": tenant_id, "user": user_id, "erased": ERASED_RECIPIENT}
    conn.execute(
        "WITH anonymised AS ("
        "  UPDATE deliveries SET recipient = jsonb_build_object('user_id', %(erased)s::text),"
        "         address = NULL"
        "  WHERE tenant_id = %(tenant)s AND recipient ->> 'user_id' = %(user)s"
        "  RETURNING notification_id"
        ")"
        # The accepted request names the user too; its recipients keep their order, which
        # deliveries refer to by index.
        " UPDATE notifications n SET recipients = ("
        "   SELECT jsonb_agg(CASE WHEN r.value ->> 'user_id' = %(user)s"
        "                    THEN jsonb_build_object('user_id', %(erased)s::text) ELSE r.value END"
        "                    ORDER BY r.position)"
        "   FROM jsonb_array_elements(n.recipients) WITH ORDINALITY AS r(value, position))"
        " WHERE n.tenant_id = %(tenant)s"
        "   AND n.id IN (SELECT DISTINCT notification_id FROM anonymised)",
        erased,
    )
    return True
