"""API input and output for notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import phonenumbers
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
    model_validator,
)

from herald.models.common import Channel, DeliveryStatus, NotificationStatus

# RFC 5322 caps a header line at 998 characters; a longer subject cannot be sent.
MAX_SUBJECT_LENGTH = 998
MAX_RECIPIENTS = 1000


class Recipient(BaseModel):
    """Who to reach: a known user, or a raw address. At least one field."""

    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(default=None, min_length=1, max_length=255)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, description="E.164, e.g. +14155550100")

    @field_validator("phone")
    @classmethod
    def _phone_e164(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException as exc:
            raise ValueError("phone must be in E.164 form, e.g. +14155550100") from exc
        if not phonenumbers.is_valid_number(number):
            raise ValueError("phone is not a valid number")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    @model_validator(mode="after")
    def _at_least_one(self) -> Recipient:
        if self.user_id is None and self.email is None and self.phone is None:
            raise ValueError("a recipient needs user_id, email or phone")
        return self


class EmailContent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=MAX_SUBJECT_LENGTH)
    text: str | None = None
    html: str | None = None

    @model_validator(mode="after")
    def _has_body(self) -> EmailContent:
        if not self.text and not self.html:
            raise ValueError("email content needs text or html")
        return self


class Content(BaseModel):
    """Inline content, one entry per channel."""

    model_config = ConfigDict(extra="forbid")

    email: EmailContent | None = None

    def channels(self) -> list[Channel]:
        return [name for name in ("email",) if getattr(self, name) is not None]


class SendNotificationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipients: list[Recipient] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    template: str | None = Field(default=None, min_length=1, max_length=128)
    content: Content | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    channels: list[Channel] | None = Field(default=None, min_length=1)
    fallback: list[Channel] = Field(default_factory=list)
    category: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    critical: bool = False
    priority: Literal["low", "normal", "high"] = "normal"
    send_at: AwareDatetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _template_or_content(self) -> SendNotificationRequest:
        if (self.template is None) == (self.content is None):
            raise ValueError("give either template or content, not both and not neither")
        return self


class NotificationAccepted(BaseModel):
    id: str
    status: NotificationStatus
    recipient_count: int


class DeliveryEventOut(BaseModel):
    status: str
    at: datetime


class DeliveryOut(BaseModel):
    id: str
    channel: Channel
    recipient: dict[str, Any]
    status: DeliveryStatus
    reason: str | None
    provider: str | None
    provider_message_id: str | None
    attempts: int
    error: str | None
    events: list[DeliveryEventOut]


class NotificationOut(BaseModel):
    id: str
    status: NotificationStatus
    channels: list[Channel]
    category: str | None
    priority: str
    critical: bool
    metadata: dict[str, Any]
    recipient_count: int
    send_at: datetime | None
    created_at: datetime
    completed_at: datetime | None
    deliveries: list[DeliveryOut]


class NotificationSummary(BaseModel):
    id: str
    status: NotificationStatus
    channels: list[Channel]
    recipient_count: int
    send_at: datetime | None
    created_at: datetime
