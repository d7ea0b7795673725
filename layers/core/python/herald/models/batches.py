"""API input and output for batches: one send to up to 50,000 recipients."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from herald.models.common import Channel, DeliveryStatus
from herald.models.content import Content
from herald.models.notifications import Recipient
from herald.models.templates import TEMPLATE_KEY_PATTERN
from herald.models.validators import EmailAddress

MAX_BATCH_RECIPIENTS = 50_000
MAX_CHUNK_RECIPIENTS = 10_000

ReprArgs = Iterable[tuple[str | None, Any]]
BatchStatus = Literal["open", "processing", "completed", "canceled"]


class BatchRecipient(Recipient):
    """A recipient with its own template variables (over the batch's)."""

    # Validated as `EmailStr` is, with a fast path for common addresses (50,000 a request).
    email: EmailAddress | None = None
    variables: dict[str, Any] = Field(default_factory=dict)


def _recipients_counted(args: ReprArgs) -> ReprArgs:
    """A request's repr with its recipients counted, not listed: a framework that logs the
    route's arguments (Powertools formats them even when it does not log) spends no time on
    50,000 of them."""
    for name, value in args:
        yield (name, f"<{len(value)} recipients>") if name == "recipients" else (name, value)


class Throttle(BaseModel):
    model_config = ConfigDict(extra="forbid")

    per_second: StrictInt = Field(
        description="About this many sends a second (each recipient's channel counts one),"
        " from 1 to 10,000; a value out of that range is a 422",
        examples=[100],
    )


class CreateBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def __repr_args__(self) -> ReprArgs:
        return _recipients_counted(super().__repr_args__())

    recipients: list[BatchRecipient] = Field(
        default_factory=list,
        max_length=MAX_BATCH_RECIPIENTS,
        description="Inline recipients; more may be added in chunks while the batch is open",
    )
    template: str | None = Field(default=None, pattern=TEMPLATE_KEY_PATTERN)
    content: Content | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    channels: list[Channel] | None = Field(default=None, min_length=1)
    category: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    critical: bool = False
    priority: Literal["low", "normal", "high"] = "normal"
    metadata: dict[str, Any] = Field(default_factory=dict)
    start: bool = Field(
        default=True, description="false: keep the batch open for chunks, then start it"
    )
    throttle: Throttle | None = Field(
        default=None,
        description="Spread the sends: waves of `per_second` a second from the start",
    )

    @model_validator(mode="after")
    def _check(self) -> CreateBatchRequest:
        if (self.template is None) == (self.content is None):
            raise ValueError("give either template or content, not both and not neither")
        if self.start and not self.recipients:
            raise ValueError("a batch started at once needs recipients")
        return self


class AddRecipientsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def __repr_args__(self) -> ReprArgs:
        return _recipients_counted(super().__repr_args__())

    recipients: list[BatchRecipient] = Field(min_length=1, max_length=MAX_CHUNK_RECIPIENTS)


class BatchAccepted(BaseModel):
    id: str
    status: BatchStatus
    total: int = Field(description="Recipients in the batch, duplicates left out")
    duplicates: list[int] = Field(
        default_factory=list,
        description="Indexes (in this request) of recipients already in the batch: not added",
    )


class BatchCounts(BaseModel):
    model_config = ConfigDict(extra="allow")

    queued: int = 0
    deferred: int = 0
    sending: int = 0
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    read: int = 0
    failed: int = 0
    bounced: int = 0
    skipped: int = 0
    canceled: int = 0


class BatchOut(BaseModel):
    id: str
    status: BatchStatus
    total: int
    duplicates: int
    notification_id: str | None = Field(
        default=None, description="The notification whose deliveries the batch became"
    )
    counts: BatchCounts
    throttle: Throttle | None = Field(default=None, description="As given when created")
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


class BatchDeliveryOut(BaseModel):
    id: str
    channel: Channel
    status: DeliveryStatus
    reason: str | None
    error: str | None
    provider_message_id: str | None


class BatchRecipientOut(BaseModel):
    index: int
    recipient: dict[str, Any]
    variables: dict[str, Any]
    deliveries: list[BatchDeliveryOut] = Field(
        description="None before the batch starts; one per channel once it is planned"
    )
