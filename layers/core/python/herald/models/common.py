"""Types shared by every model: channels, statuses, list pages."""

from __future__ import annotations

from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, WithJsonSchema
from pydantic.networks import validate_email

# PostgreSQL's `integer`: the largest number a column or parameter of that type holds.
INT4_MAX = 2**31 - 1


def _email(value: str) -> str:
    return validate_email(value)[1]


Email = Annotated[
    str, AfterValidator(_email), WithJsonSchema({"type": "string", "format": "email"})
]
"""pydantic's `EmailStr`, validated and documented the same, but importing `email_validator`
(~25 ms of regular expressions compiled at import) with the first address it validates rather
than when a model using it is built: at every cold start of the API."""

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
