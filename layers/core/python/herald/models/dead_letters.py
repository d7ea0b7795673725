"""API output and input for dead letters."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class DeadLetterSample(BaseModel):
    message_id: str
    delivery_ids: list[str] = Field(
        description="The deliveries the message carries (empty for a dispatch message)"
    )
    notification_id: str | None = Field(
        default=None, description="For a dispatch message: the notification it dispatches"
    )
    sent_at: datetime


class DeadLetterQueueOut(BaseModel):
    queue: str = Field(description="The queue whose dead letters these are: redrive by it")
    depth: int
    oldest_age_seconds: int | None = Field(
        description="The age of the oldest message sampled (SQS samples up to ten)"
    )
    samples: list[DeadLetterSample] = Field(description="Only the caller's tenant's messages")


class DeadLettersOut(BaseModel):
    items: list[DeadLetterQueueOut]


class RedriveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queue: str = Field(min_length=1, max_length=64)


class RedriveOut(BaseModel):
    queue: str
    status: str = Field(description="`started`: the messages are on their way back")
    depth: int = Field(description="How many messages the dead-letter queue held")
