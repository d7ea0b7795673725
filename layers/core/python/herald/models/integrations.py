"""API input and output for integrations: a tenant's own provider accounts per channel."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from herald.models.validators import no_nul

Provider = Literal["sendgrid", "ses", "twilio", "fcm", "web_push"]
IntegrationChannel = Literal["email", "sms", "whatsapp", "push", "web_push"]
CircuitState = Literal["closed", "open", "half_open"]

# The providers each channel can send through.
PROVIDERS_BY_CHANNEL: dict[str, tuple[str, ...]] = {
    "email": ("sendgrid", "ses"),
    "sms": ("twilio",),
    "whatsapp": ("twilio",),
    "push": ("fcm",),
    "web_push": ("web_push",),
}

Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(no_nul)]
Priority = Annotated[
    int, Field(ge=0, le=1000, description="Lower goes first; ties by creation order")
]
Credentials = Annotated[
    dict[str, Any],
    Field(
        max_length=20,
        description="The provider's secrets (stored in Secrets Manager, never returned): "
        "sendgrid `{api_key}`; ses `{access_key_id, secret_access_key}` or `{}` to use the "
        "deployment's own role; twilio `{account_sid, auth_token}`; fcm `{service_account}`; "
        'web_push `{vapid_private_key}` or `{"generate": true}`',
    ),
]
ProviderSettings = Annotated[
    dict[str, Any],
    Field(
        max_length=20,
        description="What is not secret: `from_email`, `from_name` (email); `region`, "
        "`configuration_set` (ses); `from_number`, `messaging_service_sid`, `whatsapp_from`, "
        "`help_text` (twilio: the answer to HELP sent to its numbers); `subject` (web_push)",
    ),
]


class IntegrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: IntegrationChannel
    provider: Provider
    name: Name
    credentials: Credentials = Field(default_factory=dict)
    settings: ProviderSettings = Field(default_factory=dict)
    priority: Priority = 0
    active: bool = True


class IntegrationPatch(BaseModel):
    """What may change; channel and provider are fixed (create another integration)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    credentials: Credentials | None = None
    settings: ProviderSettings | None = None
    priority: Priority | None = None
    active: bool | None = None


class CircuitOut(BaseModel):
    state: CircuitState
    opened_at: datetime | None
    failure_rate: float | None = Field(
        description="Failed share of the latest calls (null before any)"
    )


class IntegrationOut(BaseModel):
    id: str
    channel: IntegrationChannel
    provider: Provider
    name: str
    settings: dict[str, Any]
    priority: int
    active: bool
    credentials_last4: str | None = Field(
        description="The last four characters of the main credential; the rest is never shown"
    )
    circuit: CircuitOut
    created_at: datetime
    updated_at: datetime


class IntegrationTestResult(BaseModel):
    ok: bool
    provider: Provider
    detail: str = Field(description="What the provider answered")
