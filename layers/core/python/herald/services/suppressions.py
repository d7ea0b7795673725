"""Suppressed addresses: what operators list, add and lift through the admin API.

Providers' reports (bounces, complaints) and one-click unsubscribes of raw addresses add
suppressions too, through `herald.db.suppressions.add_suppressions`.
"""

from __future__ import annotations

from typing import Any

from herald.db import preference_events, suppressions
from herald.db.connection import Connection, Database
from herald.errors import Conflict, NotFound
from herald.models.common import Page
from herald.models.suppressions import SuppressionIn, SuppressionOut
from herald.services import idempotency
from herald.services.cursors import decode_cursor, page_rows

# The `source` of suppressions made through the API.
API_SOURCE = "api"


def list_suppressions(
    db: Database, tenant_id: str, *, cursor: str | None, limit: int
) -> Page[SuppressionOut]:
    """Suppressed addresses in address order, `limit` per page."""
    after = decode_cursor(cursor) if cursor else None
    rows = suppressions.list_suppressions(
        db.connection(), tenant_id, after_address=after, limit=limit + 1
    )
    rows, next_cursor = page_rows(rows, limit, "address")
    return Page[SuppressionOut](
        items=[SuppressionOut.model_validate(row) for row in rows], next_cursor=next_cursor
    )


def add_suppression(
    db: Database, tenant_id: str, body: SuppressionIn, *, idempotency_key: str | None
) -> idempotency.StoredResponse:
    """Stop sending to an address (201); Conflict when it is already suppressed."""
    detail = {"note": body.note} if body.note else {}

    def store(conn: Connection) -> dict[str, Any]:
        added = suppressions.add_suppressions(
            conn, tenant_id, [(body.address, body.reason, API_SOURCE, detail)]
        )
        if not added:
            raise Conflict(f"'{body.address}' is already suppressed")
        (row,) = suppressions.find_suppressions(conn, tenant_id, added)
        return SuppressionOut.model_validate(row).model_dump(mode="json")

    with db.transaction() as conn:
        return idempotency.respond_once(
            conn,
            tenant_id,
            idempotency_key,
            body,
            operation="add_suppression",
            status_code=201,
            create=lambda: store(conn),
        )


def remove_suppression(db: Database, tenant_id: str, address: str) -> None:
    """Send to an address again; NotFound when it was not suppressed.

    Lifting is recorded as a preference event of the address (`{"suppressed": null}`).
    """
    with db.transaction() as conn:
        if not suppressions.delete_suppression(conn, tenant_id, address):
            raise NotFound(f"'{address}' is not suppressed")
        preference_events.record_event(
            conn,
            tenant_id,
            user_id=None,
            address=suppressions.normalize_address(address),
            source="api",
            change={"suppressed": None},
        )
