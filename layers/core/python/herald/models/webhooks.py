"""API input and output for outbound webhooks: endpoints, their attempts, replays."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from herald.models.validators import WebhookUrl, no_nul

EventType = Literal[
    "delivery.sent",
    "delivery.delivered",
    "delivery.failed",
    "delivery.bounced",
    "delivery.opened",
    "delivery.clicked",
    "delivery.read",
    "notification.completed",
    "batch.completed",
    "preference.updated",
    "device.deactivated",
    "integration.circuit_opened",
    "integration.circuit_closed",
    "webhook.endpoint_disabled",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
# Sent by `POST /v1/webhook-endpoints/{id}/test` only; nobody subscribes to it.
TEST_EVENT = "webhook.test"

EndpointStatus = Literal["enabled", "disabled"]


Description = Annotated[str, Field(max_length=500), AfterValidator(no_nul)]
Events = Annotated[
    list[EventType],
    Field(min_length=1, max_length=len(EVENT_TYPES), description="Event types to receive"),
]


class WebhookEndpointIn(BaseModel):
    """`POST /v1/webhook-endpoints`."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl
    events: Events
    description: Description = ""


class WebhookEndpointPatch(BaseModel):
    """`PATCH /v1/webhook-endpoints/{id}`: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl | None = None
    events: Events | None = None
    description: Description | None = None
    enabled: bool | None = Field(
        default=None, description="false disables; true enables again and clears the failures"
    )


class WebhookEndpointOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str
    status: EndpointStatus
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class WebhookEndpointWithSecret(WebhookEndpointOut):
    """Creation and rotation: the only responses that show the secret."""

    secret: str = Field(description="`whsec_…`: verify signatures with it (shown once)")


class WebhookAttemptOut(BaseModel):
    message_id: str = Field(description="The `webhook-id` header of the message")
    event_type: str
    status_code: int | None = Field(description="None when no HTTP answer came")
    latency_ms: int
    response_excerpt: str = Field(description="The first 1 KB of the response body")
    error: str | None
    at: datetime
    next_attempt_at: datetime | None


class ReplayRequest(BaseModel):
    """Send again every message of an endpoint created in [since, until)."""

    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime
    until: AwareDatetime | None = Field(default=None, description="Defaults to now")

    @model_validator(mode="after")
    def _ordered(self) -> ReplayRequest:
        if self.until is not None and self.until <= self.since:
            raise ValueError("until must be after since")
        return self


class ReplayAccepted(BaseModel):
    replayed: int = Field(description="How many messages are sent again")


class TestMessageSent(BaseModel):
    message_id: str


class ChannelSecretOut(BaseModel):
    secret: str = Field(description="Signs what the `webhook` channel sends (`whsec_…`)")
