"""Publishes Herald's status events to the SNS events topic, with filterable attributes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from herald.aws.clients import aws_client

_SNS_BATCH = 10  # PublishBatch takes at most ten entries


class EventPublisher:
    def __init__(self, topic_arn: str, client: Any | None = None) -> None:
        self._topic_arn = topic_arn
        if client is not None:
            self._client = client

    @cached_property
    def _client(self) -> Any:
        """Made on first use: see herald.aws.clients."""
        return aws_client("sns")

    def publish(self, events: Sequence[dict[str, Any]]) -> None:
        """Publish events shaped `{"type": "delivery.sent", "tenant_id": ..., ...}`."""
        for start in range(0, len(events), _SNS_BATCH):
            chunk = events[start : start + _SNS_BATCH]
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
