"""SQS event source mappings against moto: batches, partial failures, redrive."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest

from local.lambda_context import LocalFunction
from local.pollers import PollerGroup, QueuePoller
from tests.unit.local.conftest import Queue


class Recorder:
    """A handler that records its events and fails the messages whose body is in `fail`."""

    def __init__(self, fail: frozenset[str] = frozenset(), raises: bool = False) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail = fail
        self.raises = raises

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        if self.raises:
            raise RuntimeError("handler crashed")
        failures = [r["messageId"] for r in event["Records"] if r["body"] in self.fail]
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failures]}

    def bodies(self) -> list[str]:
        return [r["body"] for e in self.events for r in e["Records"]]


def _poller(sqs: Any, queue: Queue, handler: Recorder) -> QueuePoller:
    return QueuePoller(sqs, queue.url, queue.arn, LocalFunction("worker", handler), wait_seconds=1)


def test_partial_failure_deletes_the_rest_and_redrives_the_failed_one(sqs: Any) -> None:
    # given
    queue = Queue(sqs, visibility_timeout=1, max_receive_count=2)
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=queue.url, MessageBody=body)
    handler = Recorder(fail=frozenset({"b"}))
    poller = _poller(sqs, queue, handler)

    # when
    received = poller.poll_once()

    # then: only "b" is left, in flight
    assert received == 3
    assert queue.counts() == (0, 1)

    # when: "b" keeps failing until SQS moves it to the DLQ
    dead: list[dict[str, Any]] = []
    deadline = time.monotonic() + 8
    while not dead and time.monotonic() < deadline:
        poller.poll_once()
        dead = sqs.receive_message(QueueUrl=queue.dlq_url).get("Messages", [])

    # then
    assert [m["Body"] for m in dead] == ["b"]
    assert sorted(handler.bodies()) == ["a", "b", "b", "c"]  # maxReceiveCount 2
    assert queue.counts() == (0, 0)


def test_handler_raising_fails_the_whole_batch(sqs: Any) -> None:
    # given
    queue = Queue(sqs, visibility_timeout=1)
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=queue.url, MessageBody=body)
    poller = _poller(sqs, queue, Recorder(raises=True))

    # when
    received = poller.poll_once()

    # then: nothing deleted, both come back with a second receive
    assert received == 2
    assert queue.counts() == (0, 2)
    retry = Recorder()
    time.sleep(1.1)
    assert _poller(sqs, queue, retry).poll_once() == 2
    counts = {r["attributes"]["ApproximateReceiveCount"] for r in retry.events[0]["Records"]}
    assert counts == {"2"}


@pytest.mark.parametrize("identifier", ["", "not-in-this-batch"])
def test_invalid_item_identifier_fails_the_whole_batch(sqs: Any, identifier: str) -> None:
    # given
    queue = Queue(sqs, visibility_timeout=30)
    sqs.send_message(QueueUrl=queue.url, MessageBody="a")

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": identifier}]}

    poller = QueuePoller(sqs, queue.url, queue.arn, LocalFunction("worker", handler))

    # when
    poller.poll_once()

    # then
    assert queue.counts() == (0, 1)


def test_records_have_the_shape_lambda_sends(sqs: Any) -> None:
    # given
    queue = Queue(sqs)
    sent = sqs.send_message(
        QueueUrl=queue.url,
        MessageBody='{"delivery_ids": ["d1"]}',
        MessageAttributes={
            "tenant": {"DataType": "String", "StringValue": "t1"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    handler = Recorder()

    # when
    _poller(sqs, queue, handler).poll_once()

    # then
    (record,) = handler.events[0]["Records"]
    assert record["messageId"] == sent["MessageId"]
    assert record["body"] == '{"delivery_ids": ["d1"]}'
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue.arn
    assert record["awsRegion"] == "us-east-1"
    assert record["receiptHandle"]
    assert {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    } <= set(record["attributes"])
    assert record["messageAttributes"] == {
        "tenant": {
            "stringValue": "t1",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "blob": {
            "binaryValue": base64.b64encode(b"\x00\x01").decode(),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }
    assert queue.counts() == (0, 0)


def test_started_poller_invokes_until_stopped(sqs: Any) -> None:
    # given
    queue = Queue(sqs)
    handler = Recorder()
    poller = _poller(sqs, queue, handler)
    poller.start()

    # when
    sqs.send_message(QueueUrl=queue.url, MessageBody="x")
    deadline = time.monotonic() + 5
    while not handler.events and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    poller.stop()

    # then
    assert handler.bodies() == ["x"]
    assert time.monotonic() - started < 3


def test_a_poller_group_stops_every_poller(sqs: Any) -> None:
    # given three pollers, started together, each having handled a message
    queues = [Queue(sqs) for _ in range(3)]
    handlers = [Recorder() for _ in queues]
    group = PollerGroup([_poller(sqs, q, h) for q, h in zip(queues, handlers, strict=True)])
    group.start()
    for queue in queues:
        sqs.send_message(QueueUrl=queue.url, MessageBody="x")
    deadline = time.monotonic() + 5
    while not all(h.events for h in handlers) and time.monotonic() < deadline:
        time.sleep(0.05)

    # when
    group.stop()
    for queue in queues:
        sqs.send_message(QueueUrl=queue.url, MessageBody="y")
    time.sleep(1.5)

    # then nothing polls any more: the second messages wait on their queues
    assert [h.bodies() for h in handlers] == [["x"], ["x"], ["x"]]
    assert [q.counts() for q in queues] == [(1, 0), (1, 0), (1, 0)]
