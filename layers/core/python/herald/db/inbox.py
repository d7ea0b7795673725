"""Inbox items: the in-app channel's store, with read/seen/archived/snoozed states.

An item is *visible* while it has not expired; *active* (shown and counted by default) while
also neither archived nor snoozed. Every statement names the tenant and the user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from herald.db.connection import Connection, Row, jsonb

ITEM_COLUMNS = (
    "id, notification_id, title, body, action_url, actions, data, category, created_at,"
    " seen_at, read_at, archived_at, snoozed_until, expires_at"
)
_VISIBLE = "(expires_at IS NULL OR expires_at > now())"
_AWAKE = "(snoozed_until IS NULL OR snoozed_until <= now())"
_ACTIVE = f"archived_at IS NULL AND {_AWAKE} AND {_VISIBLE}"
# What each list filter shows; None is the inbox as a user sees it.
FILTERS: dict[str | None, str] = {
    None: _ACTIVE,
    "unread": f"{_ACTIVE} AND read_at IS NULL",
    "read": f"{_ACTIVE} AND read_at IS NOT NULL",
    "unseen": f"{_ACTIVE} AND seen_at IS NULL",
    "archived": f"archived_at IS NOT NULL AND {_VISIBLE}",
    "snoozed": f"archived_at IS NULL AND snoozed_until > now() AND {_VISIBLE}",
    "all": _VISIBLE,
}
# The change each action makes. Reading also sees; a snoozed item comes back new.
CHANGES: dict[str, str] = {
    "read": "read_at = COALESCE(read_at, now()), seen_at = COALESCE(seen_at, now())",
    "unread": "read_at = NULL",
    "seen": "seen_at = COALESCE(seen_at, now())",
    "archive": "archived_at = COALESCE(archived_at, now())",
    "unarchive": "archived_at = NULL",
    "snooze": "snoozed_until = %(until)s, read_at = NULL, seen_at = NULL",
}


@dataclass(frozen=True)
class NewInboxItem:
    id: str
    tenant_id: str
    user_id: str
    delivery_id: str
    notification_id: str
    title: str
    body: str
    action_url: str | None
    actions: list[dict[str, str]]
    data: dict[str, Any]
    category: str | None
    expires_at: datetime | None


def insert_items(conn: Connection, items: Sequence[NewInboxItem]) -> list[Row]:
    """Store many items in one statement; returns those stored now (with tenant, user and
    delivery ids). An item whose delivery already has one (a repeated run) is left out."""
    if not items:
        return []
    return conn.execute(
        "INSERT INTO inbox_items (id, tenant_id, user_id, delivery_id, notification_id, title,"
        "  body, action_url, actions, data, category, expires_at)"
        " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
        "   %s::text[], %s::text[], %s::text[], %s::jsonb[], %s::jsonb[], %s::text[],"
        "   %s::timestamptz[])"
        " ON CONFLICT (delivery_id) DO NOTHING"
        f" RETURNING tenant_id, user_id, delivery_id, {ITEM_COLUMNS}",
        (
            [i.id for i in items],
            [i.tenant_id for i in items],
            [i.user_id for i in items],
            [i.delivery_id for i in items],
            [i.notification_id for i in items],
            [i.title for i in items],
            [i.body for i in items],
            [i.action_url for i in items],
            [jsonb(i.actions) for i in items],
            [jsonb(i.data) for i in items],
            [i.category for i in items],
            [i.expires_at for i in items],
        ),
    ).fetchall()


def delivery_ids_stored(conn: Connection, delivery_ids: Sequence[str]) -> set[str]:
    """Which of these deliveries already have their item (stored by an earlier run)."""
    rows = conn.execute(
        "SELECT delivery_id FROM inbox_items WHERE delivery_id = ANY(%s)", (list(delivery_ids),)
    ).fetchall()
    return {r["delivery_id"] for r in rows}


def list_items(
    conn: Connection,
    tenant_id: str,
    user_id: str,
    *,
    status: str | None,
    limit: int,
    before_id: str | None,
) -> list[Row]:
    """Items newest first, `limit` of them, older than `before_id` when given."""
    return conn.execute(
        f"SELECT {ITEM_COLUMNS} FROM inbox_items"
        f" WHERE tenant_id = %s AND user_id = %s AND {FILTERS[status]}"
        "   AND (%s::text IS NULL OR id < %s)"
        " ORDER BY id DESC LIMIT %s",
        (tenant_id, user_id, before_id, before_id, limit),
    ).fetchall()


def get_item(conn: Connection, tenant_id: str, user_id: str, item_id: str) -> Row | None:
    return conn.execute(
        f"SELECT {ITEM_COLUMNS} FROM inbox_items"
        f" WHERE tenant_id = %s AND user_id = %s AND id = %s AND {_VISIBLE}",
        (tenant_id, user_id, item_id),
    ).fetchone()


COUNTS = (
    # Three counts, each answered from its own partial index (an index-only scan).
    "SELECT"
    " (SELECT count(*) FROM inbox_items i WHERE i.tenant_id = {t} AND i.user_id = {u}"
    f"   AND archived_at IS NULL AND read_at IS NULL AND {_AWAKE} AND {_VISIBLE}) AS unread,"
    " (SELECT count(*) FROM inbox_items i WHERE i.tenant_id = {t} AND i.user_id = {u}"
    f"   AND archived_at IS NULL AND seen_at IS NULL AND {_AWAKE} AND {_VISIBLE}) AS unseen,"
    " (SELECT count(*) FROM inbox_items i WHERE i.tenant_id = {t} AND i.user_id = {u}"
    f"   AND archived_at IS NULL AND {_AWAKE} AND {_VISIBLE}) AS total"
)


def counts(conn: Connection, tenant_id: str, user_id: str) -> Row:
    """{unread, unseen, total} of the active items, in one statement."""
    row = conn.execute(
        COUNTS.format(t="%(tenant)s", u="%(user)s"), {"tenant": tenant_id, "user": user_id}
    ).fetchone()
    assert row is not None
    return row


def counts_of_users(conn: Connection, tenant_id: str, user_ids: Sequence[str]) -> dict[str, Row]:
    """The counts of several users of one tenant, in one statement, by user id."""
    if not user_ids:
        return {}
    rows = conn.execute(
        "SELECT u.user_id, c.unread, c.unseen, c.total"
        " FROM unnest(%(users)s::text[]) AS u(user_id),"
        f" LATERAL ({COUNTS.format(t='%(tenant)s', u='u.user_id')}) AS c",
        {"tenant": tenant_id, "users": list(user_ids)},
    ).fetchall()
    return {r["user_id"]: r for r in rows}


def change_item(
    conn: Connection,
    tenant_id: str,
    user_id: str,
    item_id: str,
    action: str,
    *,
    until: datetime | None = None,
) -> Row | None:
    """Apply one action to one visible item; None when the user has no such item.

    The row is the item after the change, plus `newly_read_delivery`: the delivery of an
    item read for the first time, which moves to `read` in the same statement.
    """
    return conn.execute(
        "WITH before AS ("
        "  SELECT id, read_at AS was_read_at FROM inbox_items"
        f"  WHERE tenant_id = %(tenant)s AND user_id = %(user)s AND id = %(id)s AND {_VISIBLE}"
        "  FOR UPDATE"
        "), item AS ("
        f"  UPDATE inbox_items i SET {CHANGES[action]} FROM before WHERE i.id = before.id"
        f"  RETURNING i.delivery_id, before.was_read_at, {_qualified('i')}"
        f"), {_READ_DELIVERIES}"
        f" SELECT {ITEM_COLUMNS}, (SELECT min(id) FROM read_deliveries) AS newly_read_delivery"
        " FROM item",
        {
            "tenant": tenant_id,
            "user": user_id,
            "id": item_id,
            "until": until,
            "read": action == "read",
        },
    ).fetchone()


def change_all(conn: Connection, tenant_id: str, user_id: str, action: str) -> list[Row]:
    """Read or see every active item of a user in one statement.

    Returns one row per item changed, with `delivery_id` set for each delivery that moved to
    `read` (so its event can be published).
    """
    column = {"read": "read_at", "seen": "seen_at"}[action]
    return conn.execute(
        "WITH item AS ("
        f"  UPDATE inbox_items i SET {CHANGES[action]}"
        f"  WHERE tenant_id = %(tenant)s AND user_id = %(user)s AND {column} IS NULL"
        f"    AND {_ACTIVE}"
        "  RETURNING i.delivery_id, NULL::timestamptz AS was_read_at, i.id"
        f"), {_READ_DELIVERIES}"
        " SELECT item.id, r.id AS delivery_id, r.notification_id"
        " FROM item LEFT JOIN read_deliveries r ON r.id = item.delivery_id",
        {"tenant": tenant_id, "user": user_id, "read": action == "read"},
    ).fetchall()


# Reading an item for the first time moves its delivery from `delivered` to `read`, with its
# history event: expects a CTE `item(delivery_id, was_read_at, ...)` of the changed items.
_READ_DELIVERIES = (
    "read_deliveries AS ("
    "  UPDATE deliveries d SET status = 'read', updated_at = now() FROM item"
    "  WHERE %(read)s AND d.id = item.delivery_id AND item.was_read_at IS NULL"
    "    AND d.tenant_id = %(tenant)s AND d.status = 'delivered'"
    "  RETURNING d.id, d.tenant_id, d.notification_id"
    "), read_history AS ("
    "  INSERT INTO delivery_events (tenant_id, delivery_id, status)"
    "  SELECT tenant_id, id, 'read' FROM read_deliveries"
    ")"
)


def _qualified(alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in ITEM_COLUMNS.split(","))


def delete_item(conn: Connection, tenant_id: str, user_id: str, item_id: str) -> bool:
    deleted = conn.execute(
        "DELETE FROM inbox_items WHERE tenant_id = %s AND user_id = %s AND id = %s",
        (tenant_id, user_id, item_id),
    )
    return deleted.rowcount > 0


def delete_items_of_user(conn: Connection, tenant_id: str, user_id: str) -> int:
    """Erase a user's inbox (right to erasure)."""
    return conn.execute(
        "DELETE FROM inbox_items WHERE tenant_id = %s AND user_id = %s", (tenant_id, user_id)
    ).rowcount


def items_of_user(conn: Connection, tenant_id: str, user_id: str) -> list[Row]:
    """Every item of a user, expired ones included (for a data export)."""
    return conn.execute(
        f"SELECT {ITEM_COLUMNS} FROM inbox_items WHERE tenant_id = %s AND user_id = %s"
        " ORDER BY id DESC",
        (tenant_id, user_id),
    ).fetchall()


def allowed_origins(conn: Connection, tenant_id: str) -> list[str] | None:
    """The origins the tenant allows for the inbox in browsers; None: any."""
    row = conn.execute(
        "SELECT inbox_allowed_origins FROM tenants WHERE id = %s", (tenant_id,)
    ).fetchone()
    return None if row is None else row["inbox_allowed_origins"]


def set_allowed_origins(conn: Connection, tenant_id: str, origins: list[str] | None) -> None:
    conn.execute(
        "UPDATE tenants SET inbox_allowed_origins = %s WHERE id = %s", (origins, tenant_id)
    )
