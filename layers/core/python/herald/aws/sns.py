"""Publishes Herald's status events to the SNS events topic, with filterable attributes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import Executor
from functools import cached_property
from typing import Any

from herald.aws.clients import aws_client

_SNS_BATCH = 10  # PublishBatch takes at most ten entries


class EventPublisher:
    def __init__(
        self, topic_arn: str, client: Any | None = None, *, executor: Executor | None = None
    ) -> None:
        self._topic_arn = topic_arn
        if client is not None:
            self._client = client
        # With an executor, the batches of a large publish go out concurrently (a bulk
        # worker records hundreds of events at once; one call per ten is the floor).
        self._executor = executor

    @cached_property
    def _client(self) -> Any:
        """Made on first use: see herald.aws.clients."""
        return aws_client("sns")

    def publish(self, events: Sequence[dict[str, Any]]) -> None:
        """Publish events shaped `{"type": "delivery.sent", "tenant_id": ..., ...}`."""
        chunks = [events[start : start + _SNS_BATCH] for start in range(0, len(events), _SNS_BATCH)]
        if self._executor is None or len(chunks) < 2:
            for chunk in chunks:
                self._publish_batch(chunk)
        else:
            list(self._executor.map(self._publish_batch, chunks))

    def _publish_batch(self, chunk: Sequence[dict[str, Any]]) -> None:
        self._client.publish_batch(
            TopicArn=self._topic_arn,
            PublishBatchRequestEntries=[
                {
                    "Id": str(i),
                    "Message": json.dumps(event, default=str),
                    "MessageAttributes": {
                        "type": {"DataType": "String", "StringValue": event["type"]},
                        "tenant_id": {"DataType": "String", "StringValue": event["tenant_id"]},
                    },
                }
                for i, event in enumerate(chunk)
            ],
        )
