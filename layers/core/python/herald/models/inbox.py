"""API input and output of the in-app inbox: items, counts, state changes, user tokens."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

InboxStatus = Literal["unread", "read", "unseen", "archived", "snoozed", "all"]
InboxAction = Literal["read", "unread", "seen", "archive", "unarchive"]
MAX_ORIGINS = 50


class InboxActionOut(BaseModel):
    label: str
    url: str


class InboxItemOut(BaseModel):
    id: str
    notification_id: str | None
    title: str
    body: str
    action_url: str | None
    actions: list[InboxActionOut]
    data: dict[str, Any]
    category: str | None
    created_at: datetime
    seen_at: datetime | None
    read_at: datetime | None
    archived_at: datetime | None
    snoozed_until: datetime | None
    expires_at: datetime | None


class InboxCounts(BaseModel):
    """Items shown in the inbox: archived, snoozed and expired ones are not counted."""

    unread: int
    unseen: int
    total: int


class ChangedCount(BaseModel):
    """How many items a read-all or seen-all changed."""

    changed: int


class SnoozeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    until: datetime = Field(
        description="When the item comes back, unread (RFC 3339; future, at most 90 days)"
    )


class InboxToken(BaseModel):
    token: str = Field(description="Send as `Authorization: Bearer <token>` to /v1/me/inbox")
    expires_at: datetime


_ORIGIN = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:]+\])(?::(\d{1,5}))?/?$")


class InboxRealtimeInfo(BaseModel):
    url: str | None = Field(
        description="The WebSocket to open with `?token=<inbox token>`; null when realtime is"
        " not deployed"
    )


def _origin(value: str) -> str:
    """`https://app.example.com` or `http://localhost:3000`: scheme, host and port only, as
    a browser sends them in `Origin` (lower case, no default port, no trailing slash)."""
    match = _ORIGIN.match(value.strip().lower())
    if match is None:
        raise ValueError("an origin is http(s)://host[:port], without a path")
    scheme, host, port = match.groups()
    default = "80" if scheme == "http" else "443"
    return f"{scheme}://{host}" + (f":{int(port)}" if port and port != default else "")


Origin = Annotated[str, Field(max_length=300), AfterValidator(_origin)]


class InboxSettings(BaseModel):
    """Where a tenant's users may open the inbox from, in a browser."""

    model_config = ConfigDict(extra="forbid")

    allowed_origins: list[Origin] | None = Field(
        default=None,
        max_length=MAX_ORIGINS,
        description="Origins allowed to call /v1/me and open the realtime socket; null (the"
        " default) allows any origin: the user token, never a cookie, is the credential.",
    )
