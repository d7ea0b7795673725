"""Who a notification reaches, and when: users resolved to their addresses, then each
recipient x channel decided by suppressions, preferences and quiet hours.

Everything about the recipients of one dispatch is read in two queries (users, then
suppressions), whatever the number of recipients.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from herald.db import devices, suppressions, users
from herald.db.connection import Connection
from herald.models.devices import CHANNEL_PLATFORMS
from herald.models.users import QuietHours
from herald.services.quiet_hours import quiet_until

# The recipient field that holds each channel's address.
ADDRESS_FIELD: dict[str, str] = {
    "email": "email",
    "sms": "phone",
    "whatsapp": "phone",
    "webhook": "webhook_url",
    # An in-app item is addressed to the user id itself: no address to suppress.
    "in_app": "user_id",
}
USER_ADDRESSED: frozenset[str] = frozenset({"in_app"})
# Quiet hours without a known time zone are read in UTC.
DEFAULT_TIMEZONE = "UTC"


@dataclass(frozen=True)
class Recipient:
    """One recipient as dispatch sees it: the request's fields completed from the user."""

    fields: dict[str, Any]
    """Stored on each delivery and given to templates as `recipient`."""
    preferences: Mapping[str, Any] = field(default_factory=dict)
    timezone: str | None = None
    device_platforms: frozenset[str] = frozenset()
    """The platforms the user has an active device on (push and web push reach devices)."""

    def address(self, channel: str) -> str | None:
        value = self.fields.get(ADDRESS_FIELD.get(channel, ""))
        return str(value) if value else None

    @property
    def locale(self) -> str | None:
        value = self.fields.get("locale")
        return str(value) if value else None


@dataclass(frozen=True)
class Decision:
    status: str  # queued | skipped | deferred
    reason: str | None = None
    until: datetime | None = None


QUEUED = Decision("queued")


def resolve(
    conn: Connection, tenant_id: str, recipients: Sequence[Mapping[str, Any]]
) -> list[Recipient]:
    """Complete `{"user_id"}` recipients from their user record, in one query.

    An address given in the request wins over the user's own; a user not (or no longer)
    known keeps only what the request gave, and lacks preferences.
    """
    user_ids = list({str(r["user_id"]) for r in recipients if r.get("user_id")})
    known = users.get_users(conn, tenant_id, user_ids)
    resolved = []
    for given in recipients:
        user = known.get(str(given.get("user_id") or ""))
        if user is None:
            resolved.append(Recipient(fields=dict(given)))
            continue
        fields = {
            name: user[name]
            for name in ("email", "phone", "name", "locale", "webhook_url")
            if user.get(name) is not None
        }
        fields.update(given)
        resolved.append(
            Recipient(
                fields=fields,
                preferences=user.get("preferences") or {},
                timezone=user.get("timezone"),
            )
        )
    return resolved


def with_devices(
    conn: Connection, tenant_id: str, recipients: Sequence[Recipient], channels: Sequence[str]
) -> list[Recipient]:
    """The recipients with the platforms of their active devices, when a channel sends to
    devices (push, web push); one query for all of them."""
    platforms = [p for channel in channels for p in CHANNEL_PLATFORMS.get(channel, ())]
    user_ids = [str(r.fields["user_id"]) for r in recipients if r.fields.get("user_id")]
    if not platforms or not user_ids:
        return list(recipients)
    found = devices.users_with_active_devices(conn, tenant_id, user_ids, platforms)
    return [
        replace(
            r,
            device_platforms=frozenset(
                p for p in platforms if (str(r.fields.get("user_id")), p) in found
            ),
        )
        for r in recipients
    ]


def suppressed_addresses(
    conn: Connection, tenant_id: str, recipients: Sequence[Recipient], channels: Sequence[str]
) -> Mapping[str, str]:
    """The suppressed addresses among these recipients' (normalized address -> reason)."""
    addresses = {
        suppressions.normalize_address(address)
        for recipient in recipients
        for channel in channels
        if channel not in USER_ADDRESSED and (address := recipient.address(channel))
    }
    return suppressions.suppressed(conn, tenant_id, sorted(addresses))


def decide(
    recipient: Recipient,
    channel: str,
    *,
    suppressed: Mapping[str, str],
    category: str | None,
    critical: bool,
    now: datetime,
) -> Decision:
    """Whether this recipient gets this channel now, later (quiet hours) or never (why).

    A suppression is never bypassed; `critical` bypasses category opt-outs and quiet hours,
    not a channel the user turned off.
    """
    if channel in CHANNEL_PLATFORMS:
        # Devices, not an address: a user without an active one of this kind is unreachable.
        if not recipient.device_platforms.intersection(CHANNEL_PLATFORMS[channel]):
            return Decision("skipped", "no_device")
        return _by_preferences(recipient, channel, category=category, critical=critical, now=now)
    address = recipient.address(channel)
    if not address:
        return Decision("skipped", "no_address")
    if channel not in USER_ADDRESSED and suppressions.normalize_address(address) in suppressed:
        return Decision("skipped", "suppressed")
    return _by_preferences(recipient, channel, category=category, critical=critical, now=now)


def _by_preferences(
    recipient: Recipient, channel: str, *, category: str | None, critical: bool, now: datetime
) -> Decision:
    preferences = recipient.preferences
    if preferences.get("channels", {}).get(channel) is False:
        return Decision("skipped", "opted_out")
    if critical:
        return QUEUED
    if category is not None and preferences.get("categories", {}).get(category) is False:
        return Decision("skipped", "category_disabled")
    window = preferences.get("quiet_hours")
    if window:
        until = quiet_until(
            now, QuietHours.model_validate(window), recipient.timezone or DEFAULT_TIMEZONE
        )
        if until is not None:
            return Decision("deferred", "quiet_hours", until)
    return QUEUED
