"""API input and output for notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from herald.models.common import Channel, DeliveryStatus, Email, NotificationStatus
from herald.models.content import Content
from herald.models.templates import TEMPLATE_KEY_PATTERN
from herald.models.validators import Locale, Phone, WebhookUrl

MAX_RECIPIENTS = 1000
MAX_FALLBACK_AFTER_SECONDS = 7 * 24 * 3600


class Recipient(BaseModel):
    """Who to reach: a known user, or a raw address. At least one field."""

    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(default=None, min_length=1, max_length=255)
    email: Email | None = None
    phone: Phone | None = None
    webhook_url: WebhookUrl | None = Field(
        default=None, description="For the `webhook` channel: a Slack, Teams or own URL"
    )
    locale: Locale | None = Field(
        default=None, description="Picks a template's translation: fr-CA, then fr"
    )

    @model_validator(mode="after")
    def _at_least_one(self) -> Recipient:
        if all(v is None for v in (self.user_id, self.email, self.phone, self.webhook_url)):
            raise ValueError("a recipient needs user_id, email, phone or webhook_url")
        return self


class SendNotificationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipients: list[Recipient] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    template: str | None = Field(default=None, pattern=TEMPLATE_KEY_PATTERN)
    content: Content | None = None
    variables: dict[str, Any] = Field(
        default_factory=dict,
        description="Template variables; `recipient` is reserved for the recipient's fields",
    )
    channels: list[Channel] | None = Field(default=None, min_length=1)
    fallback: list[Channel] = Field(
        default_factory=list,
        description="Tried in order, per recipient, once every primary channel failed or "
        "found no address or device",
    )
    fallback_after_seconds: int | None = Field(
        default=None,
        ge=1,
        le=MAX_FALLBACK_AFTER_SECONDS,
        description="Also take the next fallback when no delivery of the recipient has "
        "reached `delivered` or `read` within this time",
    )
    category: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    critical: bool = False
    priority: Literal["low", "normal", "high"] = "normal"
    send_at: AwareDatetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _template_or_content(self) -> SendNotificationRequest:
        if (self.template is None) == (self.content is None):
            raise ValueError("give either template or content, not both and not neither")
        if self.fallback_after_seconds is not None and not self.fallback:
            raise ValueError("fallback_after_seconds needs fallback channels")
        return self


class NotificationAccepted(BaseModel):
    id: str
    status: NotificationStatus
    recipient_count: int


class DeliveryEventOut(BaseModel):
    status: str
    at: datetime
    detail: dict[str, Any] = Field(
        default_factory=dict,
        description="What happened: `attempt`, `provider`, `integration_id`, `error`, "
        "`reason`, and `tried` (the integrations that failed before this one)",
    )


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
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        description="What the channel measured about the message it sent: `encoding` "
        "(GSM-7 or UCS-2) and `segments` for SMS and WhatsApp text",
    )
    replaces: list[str] | None = Field(
        default=None, description="A fallback delivery: the deliveries it stands in for"
    )
    integration_id: str | None = Field(
        default=None,
        description="The tenant's integration that sent it (null: the deployment's account)",
    )
    events: list[DeliveryEventOut]


class TemplateUsed(BaseModel):
    key: str
    version: int


class NotificationOut(BaseModel):
    id: str
    status: NotificationStatus
    channels: list[Channel]
    fallback: list[Channel] = Field(default_factory=list)
    fallback_after_seconds: int | None = None
    template: TemplateUsed | None = Field(
        default=None, description="The template version this notification renders"
    )
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
