"""API input and output for devices: FCM registration tokens and web push subscriptions."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

Platform = Literal["ios", "android", "web"]
PUSH_PLATFORMS: tuple[Platform, ...] = ("ios", "android")
WEB_PLATFORMS: tuple[Platform, ...] = ("web",)
# The platforms each channel sends to.
CHANNEL_PLATFORMS: dict[str, tuple[Platform, ...]] = {
    "push": PUSH_PLATFORMS,
    "web_push": WEB_PLATFORMS,
}

MAX_TOKEN_LENGTH = 4096
MAX_ENDPOINT_LENGTH = 2048
# RFC 8291: the user agent's key is an uncompressed P-256 point, its auth secret 16 bytes.
P256_POINT_BYTES = 65
AUTH_SECRET_BYTES = 16


def base64url_bytes(value: str) -> bytes:
    """Decode base64url, with or without padding; ValueError when it is not base64url."""
    if not value or not all(c.isalnum() or c in "-_=" for c in value):
        raise ValueError("must be base64url")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("must be base64url") from None


def _p256_point(value: str) -> str:
    raw = base64url_bytes(value)
    if len(raw) != P256_POINT_BYTES:
        raise ValueError(f"must be a {P256_POINT_BYTES}-byte uncompressed P-256 point")
    # cryptography is imported with the first subscription checked, not at cold start.
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        raise ValueError("is not a point on the P-256 curve") from None
    return value.rstrip("=")


def _auth_secret(value: str) -> str:
    if len(base64url_bytes(value)) != AUTH_SECRET_BYTES:
        raise ValueError(f"must be {AUTH_SECRET_BYTES} bytes, base64url")
    return value.rstrip("=")


def _endpoint(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an absolute https URL")
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError("must not contain whitespace or control characters")
    return value


class SubscriptionKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")

    p256dh: Annotated[str, Field(max_length=200), AfterValidator(_p256_point)] = Field(
        description="The browser's P-256 public key, base64url (PushSubscription.getKey)"
    )
    auth: Annotated[str, Field(max_length=100), AfterValidator(_auth_secret)] = Field(
        description="The 16-byte auth secret, base64url"
    )


class Subscription(BaseModel):
    """A browser's `PushSubscription.toJSON()` (expirationTime is accepted and ignored)."""

    model_config = ConfigDict(extra="forbid")

    endpoint: Annotated[str, Field(max_length=MAX_ENDPOINT_LENGTH), AfterValidator(_endpoint)]
    keys: SubscriptionKeys
    expirationTime: int | None = Field(default=None, description="Ignored")


class DeviceIn(BaseModel):
    """`POST /v1/users/{user_id}/devices`: an FCM token (ios, android) or a subscription (web)."""

    model_config = ConfigDict(extra="forbid")

    platform: Platform
    token: str | None = Field(
        default=None,
        pattern=r"^[\x21-\x7e]+$",
        max_length=MAX_TOKEN_LENGTH,
        description="FCM registration token (ios, android)",
    )
    subscription: Subscription | None = Field(default=None, description="Web push (web)")

    @model_validator(mode="after")
    def _matches_platform(self) -> DeviceIn:
        if self.platform == "web":
            if self.subscription is None or self.token is not None:
                raise ValueError("a web device has a subscription and no token")
        elif self.token is None or self.subscription is not None:
            raise ValueError("an ios or android device has a token and no subscription")
        return self

    @property
    def address(self) -> str:
        """What identifies the device: its token, or its subscription's endpoint."""
        if self.subscription is not None:
            return self.subscription.endpoint
        assert self.token is not None
        return self.token


class DeviceOut(BaseModel):
    id: str
    platform: Platform
    token: str | None = Field(default=None, description="ios, android")
    endpoint: str | None = Field(default=None, description="web")
    active: bool
    deactivated_reason: str | None = Field(
        default=None,
        description="unregistered (the provider rejected it for good), replaced (over the "
        "per-platform cap, the oldest goes), ...",
    )
    created_at: datetime
    last_seen_at: datetime


class DeviceList(BaseModel):
    items: list[DeviceOut]


class VapidPublicKey(BaseModel):
    public_key: str = Field(
        description="The VAPID public key (uncompressed P-256 point, base64url) for "
        "pushManager.subscribe({applicationServerKey})"
    )
