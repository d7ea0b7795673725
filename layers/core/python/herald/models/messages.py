"""Queue message bodies. Small and versionless: every field is needed by the consumer."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from herald.models.common import Channel

# One channel message carries many deliveries: fewer SQS calls, shallower queues.
MAX_DELIVERIES_PER_MESSAGE = 50


class DispatchMessage(BaseModel):
    tenant_id: str
    notification_id: str
    # A slice of a batch: plan the recipients of `batch_id` from `first_index` (its slice).
    batch_id: str | None = None
    first_index: int | None = None


class ChannelMessage(BaseModel):
    tenant_id: str
    channel: Channel
    delivery_ids: list[str] = Field(min_length=1, max_length=MAX_DELIVERIES_PER_MESSAGE)
    # A retry waiting longer than SQS's 15-minute delay limit: until then, the message only
    # goes back on the queue (hops of at most 15 minutes).
    not_before: AwareDatetime | None = None
    # Which of the channel's queues it travels on (herald.services.lanes): a retry goes back
    # to the same one.
    lane: Literal["normal", "bulk"] = "normal"


class WebhookSendMessage(BaseModel):
    """On the webhook-events queue beside the status events: send these webhook messages
    once `due_at` has come (a retry, a test, a replay)."""

    kind: Literal["send"] = "send"
    tenant_id: str
    message_ids: list[str] = Field(min_length=1, max_length=MAX_DELIVERIES_PER_MESSAGE)
    due_at: AwareDatetime
