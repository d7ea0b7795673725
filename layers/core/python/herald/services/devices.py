"""Devices: registering, listing and deleting a user's push tokens and web subscriptions."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from herald.channels.base import FanOutResult
from herald.db import devices, users
from herald.db.connection import Connection, Database, Row
from herald.errors import InvalidRequest, NotFound
from herald.ids import new_id
from herald.models.devices import CHANNEL_PLATFORMS, DeviceIn, DeviceList, DeviceOut

DEFAULT_MAX_PER_PLATFORM = 20


def register_device(
    db: Database,
    tenant_id: str,
    user_id: str,
    body: DeviceIn,
    *,
    max_per_platform: int = DEFAULT_MAX_PER_PLATFORM,
    plain_http_origins: Collection[str] = (),
) -> tuple[DeviceOut, bool]:
    """Register a device for a user; returns it and whether it is new.

    Idempotent: the same token or endpoint is the same device, refreshed (`last_seen_at`),
    reactivated and moved to this user if another user had it. A user keeps at most
    `max_per_platform` active devices per platform: registering one more deactivates the
    one seen least recently. A web push endpoint must be https; `plain_http_origins` names
    origins allowed over http (only the local runtime's simulator: browsers' push services
    are all https).
    """
    if body.subscription is not None:
        _require_https(body.subscription.endpoint, plain_http_origins)
    with db.transaction() as conn:
        # Locked: two registrations for one user enforce the cap one after the other.
        if users.get_user(conn, tenant_id, user_id, lock=True) is None:
            raise NotFound(f"user '{user_id}' not found")
        keys = body.subscription.keys if body.subscription else None
        row, created = devices.register(
            conn,
            tenant_id,
            user_id,
            device_id=new_id("dev"),
            platform=body.platform,
            address=body.address,
            p256dh=keys.p256dh if keys else None,
            auth=keys.auth if keys else None,
        )
        devices.deactivate_beyond(conn, tenant_id, user_id, body.platform, max_per_platform)
    return device_out(row), created


def list_devices(db: Database, tenant_id: str, user_id: str) -> DeviceList:
    """A user's devices, active or not, oldest first."""
    conn = db.connection()
    if users.get_user(conn, tenant_id, user_id) is None:
        raise NotFound(f"user '{user_id}' not found")
    return DeviceList(items=[device_out(r) for r in devices.list_devices(conn, tenant_id, user_id)])


def delete_device(db: Database, tenant_id: str, user_id: str, device_id: str) -> None:
    """Forget a device (the app signed out, the browser unsubscribed)."""
    if not devices.delete_device(db.connection(), tenant_id, user_id, device_id):
        raise NotFound(f"device '{device_id}' not found")


def device_out(row: Row) -> DeviceOut:
    web = row["platform"] == "web"
    return DeviceOut(
        id=row["id"],
        platform=row["platform"],
        token=None if web else row["address"],
        endpoint=row["address"] if web else None,
        active=row["active"],
        deactivated_reason=row["deactivated_reason"],
        created_at=row["created_at"],
        last_seen_at=row["last_seen_at"],
    )


def _require_https(endpoint: str, plain_http_origins: Collection[str]) -> None:
    parts = urlsplit(endpoint)
    if parts.scheme == "https" or f"{parts.scheme}://{parts.netloc}" in plain_http_origins:
        return
    raise InvalidRequest(
        "invalid request: subscription.endpoint",
        [{"field": "subscription.endpoint", "message": "must be an https URL"}],
    )


def targets_of(conn: Connection, delivery: Mapping[str, Any]) -> list[Row]:
    """The active devices a claimed push or web push delivery fans out to, read at send time
    (a device deactivated since dispatch is left out)."""
    user_id = delivery["recipient"].get("user_id")
    if not user_id:
        return []
    platforms = CHANNEL_PLATFORMS[delivery["channel"]]
    return devices.active_devices(conn, delivery["tenant_id"], str(user_id), platforms)


def deactivate_gone(
    conn: Connection, delivery: Mapping[str, Any], result: FanOutResult
) -> list[dict[str, Any]]:
    """Deactivate the devices the provider said are gone for good (never sent to again);
    returns their `device.deactivated` events."""
    gone = [o.target_id for o in result.outcomes if o.status == "gone"]
    now = datetime.now(UTC).isoformat()
    return [
        {
            "type": "device.deactivated",
            "tenant_id": row["tenant_id"],
            "user_id": row["user_id"],
            "device_id": row["id"],
            "platform": row["platform"],
            "reason": "unregistered",
            "delivery_id": delivery["id"],
            "at": now,
        }
        for row in devices.deactivate(conn, gone, "unregistered")
    ]
