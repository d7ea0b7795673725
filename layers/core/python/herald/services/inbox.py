"""The in-app inbox as its users and the tenant's servers see it: lists, counts, state
changes, and the signed token that lets a browser act for one user.

The same functions serve `/v1/users/{user_id}/inbox` (API key) and `/v1/me/inbox` (user
token): only how the (tenant, user) pair is found differs. Every change is announced to the
user's open realtime connections; reading an item for the first time moves its delivery to
`read` and publishes `delivery.read`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from herald.aws.sns import EventPublisher
from herald.db import inbox, inbox_connections
from herald.db.connection import Database
from herald.errors import Forbidden, InvalidRequest, NotFound, Unauthenticated, Unprocessable
from herald.models.common import Page
from herald.models.inbox import (
    ChangedCount,
    InboxCounts,
    InboxItemOut,
    InboxSettings,
    InboxToken,
)
from herald.services import links
from herald.services.cursors import decode_cursor, page_rows
from herald.services.realtime import InboxRealtime

# Long enough for a working day in one tab; the page asks its server for a new one after.
INBOX_TOKEN_TTL = timedelta(hours=12)
MAX_SNOOZE = timedelta(days=90)
# Tokens Herald issues are a few hundred characters; anything far longer is not one of them.
MAX_TOKEN_LENGTH = 2048
_ITEM_ID = re.compile(r"^inb_[0-9A-HJKMNP-TV-Z]{26}$")


@dataclass(frozen=True)
class InboxUser:
    """Whose inbox a request is about: one user of one tenant."""

    tenant_id: str
    user_id: str


@dataclass(frozen=True)
class InboxPorts:
    publisher: EventPublisher
    realtime: InboxRealtime


def inbox_user(tenant_id: str, user_id: str) -> InboxUser:
    """The inbox of a user named in a path; InvalidRequest for an id PostgreSQL cannot hold."""
    if "\x00" in user_id:
        raise InvalidRequest(
            "invalid user_id", [{"field": "user_id", "message": "must not contain NUL"}]
        )
    return InboxUser(tenant_id, user_id)


def issue_inbox_token(secret: bytes, user: InboxUser, *, now: datetime) -> InboxToken:
    """A signed token for one user's inbox in a browser, valid `INBOX_TOKEN_TTL`."""
    expires_at = (now + INBOX_TOKEN_TTL).replace(microsecond=0)
    token = links.issue_token(
        secret,
        tenant_id=user.tenant_id,
        user_id=user.user_id,
        purpose="inbox",
        category=None,
        expires_at=expires_at,
    )
    return InboxToken(token=token, expires_at=expires_at)


def authenticate_token(secret: bytes, token: str | None, *, now: datetime) -> InboxUser:
    """The user a browser's inbox token names; Unauthenticated when absent, forged, expired,
    or not an inbox token (an API key or an unsubscribe link is refused)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated("missing or malformed inbox token")
    claims = links.verify_token(secret, token, purpose="inbox", now=now)
    assert claims.user_id is not None  # inbox tokens always name a user
    return InboxUser(claims.tenant_id, claims.user_id)


def bearer_token(authorization: str | None) -> str | None:
    """The token of `Authorization: Bearer <token>`, or None."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def origin_allowed(db: Database, tenant_id: str, origin: str | None) -> bool:
    """Whether a browser page of `origin` may use the tenant's inbox (no Origin header: not
    a cross-origin browser request, nothing to check)."""
    if origin is None:
        return True
    allowed = inbox.allowed_origins(db.connection(), tenant_id)
    return allowed is None or origin.lower() in allowed


def check_origin(db: Database, user: InboxUser, origin: str | None) -> None:
    if not origin_allowed(db, user.tenant_id, origin):
        raise Forbidden(f"origin '{origin}' is not allowed to use this inbox")


def list_items(
    db: Database, user: InboxUser, *, status: str | None, limit: int, cursor: str | None
) -> Page[InboxItemOut]:
    """Newest first; without `status`, the inbox as shown (not archived, snoozed, expired)."""
    before_id = decode_cursor(cursor) if cursor else None
    if before_id is not None and not _ITEM_ID.match(before_id):
        raise InvalidRequest("invalid cursor", [{"field": "cursor", "message": "invalid"}])
    rows = inbox.list_items(
        db.connection(),
        user.tenant_id,
        user.user_id,
        status=status,
        limit=limit + 1,
        before_id=before_id,
    )
    rows, next_cursor = page_rows(rows, limit, "id")
    return Page[InboxItemOut](
        items=[InboxItemOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )


def get_counts(db: Database, user: InboxUser) -> InboxCounts:
    return InboxCounts.model_validate(inbox.counts(db.connection(), user.tenant_id, user.user_id))


def change_item(
    db: Database,
    ports: InboxPorts,
    user: InboxUser,
    item_id: str,
    action: str,
    *,
    until: datetime | None = None,
    now: datetime | None = None,
) -> InboxItemOut:
    """Read, unread, see, archive, unarchive or snooze one item (idempotent).

    A snooze must end in the future and within 90 days; the item then comes back unread.
    """
    if action == "snooze":
        now = now or datetime.now(UTC)
        if until is None or until <= now or until > now + MAX_SNOOZE:
            raise Unprocessable(
                "a snooze must end in the future, within 90 days",
                [{"field": "until", "message": "must be in the future, within 90 days"}],
            )
    if not _ITEM_ID.match(item_id):
        raise _no_item(item_id)
    conn = db.connection()
    row = inbox.change_item(conn, user.tenant_id, user.user_id, item_id, action, until=until)
    if row is None:
        raise _no_item(item_id)
    if row["newly_read_delivery"] is not None:
        ports.publisher.publish(
            [_read_event(user.tenant_id, row["newly_read_delivery"], row["notification_id"])]
        )
    ports.realtime.counts_changed(conn, user.tenant_id, [user.user_id])
    return InboxItemOut.model_validate(row)


def change_all(db: Database, ports: InboxPorts, user: InboxUser, action: str) -> ChangedCount:
    """Read (or see) every item shown, in one statement."""
    conn = db.connection()
    rows = inbox.change_all(conn, user.tenant_id, user.user_id, action)
    read = [_read_event(user.tenant_id, r["delivery_id"], r["notification_id"]) for r in rows]
    if read := [e for e in read if e["delivery_id"] is not None]:
        ports.publisher.publish(read)
    if rows:
        ports.realtime.counts_changed(conn, user.tenant_id, [user.user_id])
    return ChangedCount(changed=len(rows))


def delete_item(db: Database, ports: InboxPorts, user: InboxUser, item_id: str) -> None:
    conn = db.connection()
    if not _ITEM_ID.match(item_id) or not inbox.delete_item(
        conn, user.tenant_id, user.user_id, item_id
    ):
        raise _no_item(item_id)
    ports.realtime.counts_changed(conn, user.tenant_id, [user.user_id])


def erase_inbox(db: Database, user: InboxUser) -> int:
    """Delete a user's items and forget their connections (part of erasing the user)."""
    conn = db.connection()
    inbox_connections.remove_connections_of_user(conn, user.tenant_id, user.user_id)
    return inbox.delete_items_of_user(conn, user.tenant_id, user.user_id)


def get_settings(db: Database, tenant_id: str) -> InboxSettings:
    return InboxSettings(allowed_origins=inbox.allowed_origins(db.connection(), tenant_id))


def put_settings(db: Database, tenant_id: str, settings: InboxSettings) -> InboxSettings:
    origins = None if settings.allowed_origins is None else sorted(set(settings.allowed_origins))
    inbox.set_allowed_origins(db.connection(), tenant_id, origins)
    return InboxSettings(allowed_origins=origins)


def _no_item(item_id: str) -> NotFound:
    return NotFound(f"inbox item '{item_id}' not found")


def _read_event(tenant_id: str, delivery_id: str | None, notification_id: str) -> dict[str, Any]:
    return {
        "type": "delivery.read",
        "tenant_id": tenant_id,
        "notification_id": notification_id,
        "delivery_id": delivery_id,
        "channel": "in_app",
        "status": "read",
        "at": datetime.now(UTC).isoformat(),
    }
