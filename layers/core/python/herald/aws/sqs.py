"""An SQS queue that takes pydantic models."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from pydantic import BaseModel

from herald.aws.clients import aws_client
from herald.settings import Settings

_SQS_BATCH = 10  # SendMessageBatch takes at most ten entries
# The channels with a queue and a worker, each queue's URL in Settings as `<channel>_queue_url`.
DELIVERED_CHANNELS = ("email", "sms", "whatsapp", "push", "web_push", "in_app", "webhook")


class QueueSendError(RuntimeError):
    """Some messages of a batch were not accepted by SQS."""


class MessageQueue:
    def __init__(self, url: str, client: Any | None = None) -> None:
        self.url = url
        if client is not None:
            self._client = client

    @cached_property
    def _client(self) -> Any:
        """Made on first use: see herald.aws.clients."""
        return aws_client("sqs")

    def send(self, message: BaseModel, delay_seconds: int = 0) -> None:
        self._client.send_message(
            QueueUrl=self.url, MessageBody=message.model_dump_json(), DelaySeconds=delay_seconds
        )

    def send_many(self, messages: Sequence[BaseModel], delay_seconds: int = 0) -> None:
        """Send in batches of ten; raise if SQS refused any entry."""
        self.send_delayed([(m, delay_seconds) for m in messages])

    def send_delayed(self, entries: Sequence[tuple[BaseModel, int]]) -> None:
        """Send (message, delay in seconds) pairs in batches of ten; raise if SQS refused any."""
        for start in range(0, len(entries), _SQS_BATCH):
            chunk = entries[start : start + _SQS_BATCH]
            response = self._client.send_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "MessageBody": m.model_dump_json(), "DelaySeconds": delay}
                    for i, (m, delay) in enumerate(chunk)
                ],
            )
            if response.get("Failed"):
                raise QueueSendError(
                    f"SQS refused {len(response['Failed'])} messages: {response['Failed']}"
                )


def channel_queues(settings: Settings) -> dict[str, MessageQueue]:
    """Every channel's queue, by channel: what dispatch and the sweeper enqueue deliveries to.

    A function that enqueues deliveries needs each of them; a missing URL fails its cold start.
    """
    return {
        channel: MessageQueue(settings.required(f"{channel}_queue_url"))
        for channel in DELIVERED_CHANNELS
    }


def bulk_channel_queues(settings: Settings) -> dict[str, MessageQueue]:
    """Every channel's bulk lane (`<channel>_bulk_queue_url`), by channel: a queue of its own
    with a consumer of lower concurrency, so a batch draining never delays what goes on
    `channel_queues` (herald.services.lanes says what goes where)."""
    return {
        channel: MessageQueue(settings.required(f"{channel}_bulk_queue_url"))
        for channel in DELIVERED_CHANNELS
    }
