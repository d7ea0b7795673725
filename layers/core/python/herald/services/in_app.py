"""The in-app channel: a delivery becomes an inbox item, stored in bulk by its worker.

Herald's own database is the "provider": an item stored is `delivered`, and reading it
(`herald.services.inbox`) makes the delivery `read`.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from herald.db import inbox
from herald.db.connection import Connection, Row
from herald.db.inbox import NewInboxItem
from herald.ids import new_id
from herald.models.content import InAppContent
from herald.templating.errors import RenderFailed

PROVIDER = "herald"
DELIVERED = "delivered"


def compose_item(delivery: dict[str, Any], content: dict[str, Any]) -> NewInboxItem:
    """The inbox item of a claimed delivery row, given its (rendered) in_app content.

    Rendered template content is checked like inline content (links must be http(s) or
    site paths, at most three actions); RenderFailed when it is not fit to show.
    """
    try:
        checked = InAppContent.model_validate(
            {name: value for name, value in content.items() if value is not None}
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise RenderFailed(f"in_app content renders invalid: {problems}") from exc
    return NewInboxItem(
        id=new_id("inb"),
        tenant_id=delivery["tenant_id"],
        user_id=delivery["address"],
        delivery_id=delivery["id"],
        notification_id=delivery["notification_id"],
        title=checked.title,
        body=checked.body,
        action_url=checked.action_url,
        actions=[a.model_dump() for a in checked.actions or []],
        data=checked.data or {},
        category=delivery.get("category"),
        expires_at=checked.expires_at,
    )


def store_items(conn: Connection, composed: list[tuple[dict[str, Any], NewInboxItem]]) -> list[Row]:
    """Store the items of a batch in one statement; returns the rows stored now."""
    return inbox.insert_items(conn, [item for _, item in composed])
