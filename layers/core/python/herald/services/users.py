"""Users: the tenant's recipients by their own ids, their export and their erasure.

Herald holds, per user: the profile (`users`), preferences and their history
(`preference_events`), devices (push tokens, web push subscriptions) and their in-app inbox
(`inbox_items`). Suppressions are not the user's: they protect an address, whoever it
belongs to, so an erasure keeps them (the export shows those of the user's addresses).
"""

from __future__ import annotations

from herald.db import devices, inbox, inbox_connections, preference_events, suppressions, users
from herald.db.connection import Database, Row
from herald.errors import NotFound
from herald.models.inbox import InboxItemOut
from herald.models.suppressions import SuppressionOut
from herald.models.users import PreferenceEventOut, UserExport, UserIn, UserOut
from herald.services.devices import device_out
from herald.services.preferences import stored_preferences


def put_user(db: Database, tenant_id: str, user_id: str, body: UserIn) -> UserOut:
    """Create the user or replace its profile (absent fields are cleared); preferences stay."""
    row = users.upsert_user(
        db.connection(),
        tenant_id,
        user_id,
        email=body.email,
        phone=body.phone,
        name=body.name,
        locale=body.locale,
        timezone=body.timezone,
        data=body.data,
        webhook_url=body.webhook_url,
    )
    return _user_out(row)


def get_user(db: Database, tenant_id: str, user_id: str) -> UserOut:
    """One user; NotFound when the tenant has no such user."""
    user = users.get_user(db.connection(), tenant_id, user_id)
    if user is None:
        raise NotFound(f"user '{user_id}' not found")
    return _user_out(user)


def export_user(db: Database, tenant_id: str, user_id: str) -> UserExport:
    """Everything Herald holds about a user, for a data-access request."""
    conn = db.connection()
    user = users.get_user(conn, tenant_id, user_id)
    if user is None:
        raise NotFound(f"user '{user_id}' not found")
    addresses = [a for a in (user["email"], user["phone"]) if a]
    suppressed = suppressions.find_suppressions(conn, tenant_id, addresses)
    events = preference_events.events_of_user(conn, tenant_id, user_id)
    return UserExport(
        user=_user_out(user),
        preferences=stored_preferences(user),
        devices=[device_out(row) for row in devices.list_devices(conn, tenant_id, user_id)],
        suppressions=[SuppressionOut.model_validate(row) for row in suppressed],
        preference_events=[PreferenceEventOut.model_validate(row) for row in events],
        inbox_items=[
            InboxItemOut.model_validate(row)
            for row in inbox.items_of_user(conn, tenant_id, user_id)
        ],
    )


def erase_user(db: Database, tenant_id: str, user_id: str) -> None:
    """Erase a user's personal data (right to erasure); NotFound for an unknown user.

    The profile, preferences, preference history, devices (by cascade) and in-app inbox are
    deleted. Deliveries and notifications that named the user keep their channel and status
    (so counts per status survive) but lose the user id and address. Suppressions of the
    user's addresses stay.
    """
    with db.transaction() as conn:
        erased = users.erase_user(conn, tenant_id, user_id)
        # In-app items need only a user id: a user never stored may still have an inbox.
        items = inbox.delete_items_of_user(conn, tenant_id, user_id)
        inbox_connections.remove_connections_of_user(conn, tenant_id, user_id)
        if not erased and not items:
            raise NotFound(f"user '{user_id}' not found")
        preference_events.delete_events_of_user(conn, tenant_id, user_id)


def _user_out(row: Row) -> UserOut:
    return UserOut.model_validate(row)
