"""Dead-letter queues: what is in them, and moving it back to the queue it came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from herald.aws.clients import aws_client
from herald.settings import DeadLetterQueue

_SQS_BATCH = 10  # ReceiveMessage, SendMessageBatch and DeleteMessageBatch take at most ten


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    body: str
    sent_at: datetime


class DeadLetterQueues:
    """Every queue's dead-letter queue, by the queue's short name (`email`, `dispatch`, ...).

    `redrive` is SQS's own StartMessageMoveTask: SQS moves the messages back to their source
    queue in the background, at least once each.
    """

    def __init__(self, queues: Mapping[str, DeadLetterQueue], client: Any | None = None) -> None:
        self.queues = dict(queues)
        if client is not None:
            self._client = client

    @cached_property
    def _client(self) -> Any:
        return aws_client("sqs")

    def depth(self, name: str) -> int:
        """How many messages the dead-letter queue holds (SQS's approximate count)."""
        attributes = self._client.get_queue_attributes(
            QueueUrl=self.queues[name].url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def peek(self, name: str) -> list[DeadLetter]:
        """Up to ten messages, left where they are (visible again at once)."""
        response = self._client.receive_message(
            QueueUrl=self.queues[name].url,
            MaxNumberOfMessages=_SQS_BATCH,
            VisibilityTimeout=0,
            AttributeNames=["SentTimestamp"],
        )
        return [
            DeadLetter(
                message_id=m["MessageId"],
                body=m["Body"],
                sent_at=datetime.fromtimestamp(int(m["Attributes"]["SentTimestamp"]) / 1000, UTC),
            )
            for m in response.get("Messages", [])
        ]

    def redrive(self, name: str) -> None:
        """Move every message back to the queue it came from."""
        queue = self.queues[name]
        self._client.start_message_move_task(SourceArn=queue.arn, DestinationArn=queue.source_arn)


class CopyingDeadLetterQueues(DeadLetterQueues):
    """The same port where the SQS API has no StartMessageMoveTask (moto, in the local
    runtime): the move done by hand, as the task does it. Each message is sent to the source
    queue, then deleted from the dead-letter queue: at least once, like the task; a message
    moved twice is harmless, workers claim a delivery before sending it."""

    # A receive hides a message this long: past it, a move cut short is picked up again.
    _VISIBILITY_SECONDS = 30

    def redrive(self, name: str) -> None:
        queue = self.queues[name]
        while messages := self._client.receive_message(
            QueueUrl=queue.url,
            MaxNumberOfMessages=_SQS_BATCH,
            VisibilityTimeout=self._VISIBILITY_SECONDS,
        ).get("Messages", []):
            self._client.send_message_batch(
                QueueUrl=queue.source_url,
                Entries=[{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(messages)],
            )
            self._client.delete_message_batch(
                QueueUrl=queue.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
