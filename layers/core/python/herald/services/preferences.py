"""Users' preferences: which channels and categories they receive, and their quiet hours.

Every change is recorded as a preference event (who changed what, through which door):
the consent trail a user's data export shows.
"""

from __future__ import annotations

from typing import Any, Literal

from herald.db import preference_events, users
from herald.db.connection import Connection, Database, Row
from herald.errors import NotFound
from herald.models.users import Preferences

# The channel a one-click unsubscribe without a category turns off: the links are in emails.
UNSUBSCRIBE_CHANNEL = "email"


def stored_preferences(user: Row) -> Preferences:
    """The preferences of a user row (`{}` when never set: everything on)."""
    return Preferences.model_validate(user["preferences"])


def get_preferences(db: Database, tenant_id: str, user_id: str) -> Preferences:
    """A user's preferences; NotFound for an unknown user."""
    user = users.get_user(db.connection(), tenant_id, user_id)
    if user is None:
        raise NotFound(f"user '{user_id}' not found")
    return stored_preferences(user)


def replace_preferences(
    db: Database,
    tenant_id: str,
    user_id: str,
    preferences: Preferences,
    *,
    source: Literal["api", "page"],
) -> Preferences:
    """Replace a user's preferences as a whole; NotFound for an unknown user.

    A change is recorded with the new value; saving the same preferences again records
    nothing.
    """
    with db.transaction() as conn:
        user = users.get_user(conn, tenant_id, user_id, lock=True)
        if user is None:
            raise NotFound(f"user '{user_id}' not found")
        _save(
            conn,
            tenant_id,
            user_id,
            stored_preferences(user),
            preferences,
            source=source,
            change=preferences.model_dump(mode="json"),
        )
    return preferences


def opt_out(db: Database, tenant_id: str, user_id: str, *, category: str | None) -> bool:
    """A one-click unsubscribe: turn off `category`, or without one the email channel.

    Idempotent: unsubscribing again records nothing. False when the user does not exist
    (erased since the link was sent): nothing is sent to them anyway.
    """
    with db.transaction() as conn:
        user = users.get_user(conn, tenant_id, user_id, lock=True)
        if user is None:
            return False
        current = stored_preferences(user)
        change: dict[str, Any]
        if category is not None:
            change = {"categories": {category: False}}
            wanted = current.model_copy(
                update={"categories": {**current.categories, category: False}}
            )
        else:
            change = {"channels": {UNSUBSCRIBE_CHANNEL: False}}
            wanted = current.model_copy(
                update={"channels": {**current.channels, UNSUBSCRIBE_CHANNEL: False}}
            )
        _save(conn, tenant_id, user_id, current, wanted, source="one_click", change=change)
    return True


def _save(
    conn: Connection,
    tenant_id: str,
    user_id: str,
    current: Preferences,
    wanted: Preferences,
    *,
    source: preference_events.Source,
    change: dict[str, Any],
) -> None:
    if wanted == current:
        return
    users.set_preferences(conn, tenant_id, user_id, wanted.model_dump(mode="json"))
    preference_events.record_event(
        conn, tenant_id, user_id=user_id, address=None, source=source, change=change
    )
