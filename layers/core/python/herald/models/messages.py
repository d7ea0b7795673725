"""Queue message bodies. Small and versionless: every field is needed by the consumer."""

from __future__ import annotations

from pydantic import BaseModel, Field

from herald.models.common import Channel

# One channel message carries many deliveries: fewer SQS calls, shallower queues.
MAX_DELIVERIES_PER_MESSAGE = 50


class DispatchMessage(BaseModel):
    tenant_id: str
    notification_id: str


class ChannelMessage(BaseModel):
    tenant_id: str
    channel: Channel
    delivery_ids: list[str] = Field(min_length=1, max_length=MAX_DELIVERIES_PER_MESSAGE)
