"""moto for the emulator tests: the session's one server (`moto_endpoint`, tests/conftest.py),
with fake credentials pointed at it for each test."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest

REGION = "us-east-1"


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    # Set per test too, so these tests don't depend on how the session fixture sets them.
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_endpoint


@pytest.fixture
def sqs(aws: str) -> Any:
    return boto3.client("sqs", region_name=REGION)


class Queue:
    """A fresh queue (and its DLQ when asked) with a unique name: moto is shared."""

    def __init__(self, sqs: Any, visibility_timeout: int = 1, max_receive_count: int = 0) -> None:
        name = f"test-{uuid.uuid4().hex[:12]}"
        attributes = {"VisibilityTimeout": str(visibility_timeout)}
        self.dlq_url: str | None = None
        if max_receive_count:
            self.dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
            redrive = {
                "deadLetterTargetArn": _arn(sqs, self.dlq_url),
                "maxReceiveCount": str(max_receive_count),
            }
            attributes["RedrivePolicy"] = json.dumps(redrive)
        self.url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        self.arn = _arn(sqs, self.url)
        self._sqs = sqs

    def counts(self) -> tuple[int, int]:
        """(visible, in flight) messages."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        values = self._sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=names)
        return int(values["Attributes"][names[0]]), int(values["Attributes"][names[1]])


def _arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])
