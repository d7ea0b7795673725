"""Types shared by every model: channels, statuses, list pages."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel

# PostgreSQL's `integer`: the largest number a column or parameter of that type holds.
INT4_MAX = 2**31 - 1

Channel = Literal["email", "sms", "whatsapp", "push", "web_push", "in_app", "webhook"]
CHANNELS: tuple[Channel, ...] = (
    "email",
    "sms",
    "whatsapp",
    "push",
    "web_push",
    "in_app",
    "webhook",
)

NotificationStatus = Literal[
    "accepted", "scheduled", "processing", "completed", "canceled", "failed"
]
DeliveryStatus = Literal[
    "queued",
    "deferred",
    "sending",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "read",
    "failed",
    "bounced",
    "skipped",
    "canceled",
]
Scope = Literal["send", "read", "templates", "users", "admin"]
SCOPES: tuple[Scope, ...] = ("send", "read", "templates", "users", "admin")

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None
