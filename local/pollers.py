"""Lambda SQS event source mappings, with `ReportBatchItemFailures`, against moto.

A poller receives batches, invokes the real handler with the SQS event Lambda would send, and
deletes what succeeded. Failed messages are left alone: they reappear after the queue's
visibility timeout and SQS's own redrive policy moves them to the dead-letter queue, exactly as
in AWS (moto applies `maxReceiveCount` on receive).
"""

from __future__ import annotations

import base64
import logging
import threading
from typing import Any, TypeAlias

from local.lambda_context import LocalFunction

logger = logging.getLogger(__name__)

# boto3 ships no type information and no mypy-boto3 package matches our pin: clients are Any.
SQSClient: TypeAlias = Any

MAX_RECEIVE = 10  # SQS's own cap per ReceiveMessage
ERROR_PAUSE_SECONDS = 1.0


class BatchFailure(Exception):
    """The handler's answer makes Lambda treat the whole batch as failed."""


class QueuePoller:
    """Polls one queue and invokes one function, like a Lambda event source mapping."""

    def __init__(  # noqa: PLR0917 - positional, as the runtime constructs it
        self,
        sqs: SQSClient,
        queue_url: str,
        queue_arn: str,
        function: LocalFunction,
        batch_size: int = 10,
        wait_seconds: int = 1,
        region: str = "us-east-1",
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._function = function
        self._batch_size = batch_size
        self._wait_seconds = wait_seconds
        self._region = region
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Poll continuously in a daemon thread."""
        self._stopping.clear()
        name = f"poller-{self._queue_arn.rsplit(':', 1)[-1]}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask to stop without waiting: several pollers then finish their receives at once."""
        self._stopping.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current receive (at most `wait_seconds`) or invocation."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("%s did not stop within %.0f s", self._thread.name, timeout)

    def poll_once(self) -> int:
        """One receive-invoke-delete cycle; returns how many messages were received."""
        messages = self._receive()
        if not messages:
            return 0
        event = {"Records": [self._record(message) for message in messages]}
        try:
            result = self._function.invoke(event)
            failed_ids = _failed_message_ids(result, {m["MessageId"] for m in messages})
        except BatchFailure as error:
            logger.error(
                "%s: whole batch of %d fails: %s", self._function.name, len(messages), error
            )
            return len(messages)
        except Exception:
            logger.exception(
                "%s raised: the batch of %d will be retried", self._function.name, len(messages)
            )
            return len(messages)
        self._delete([m for m in messages if m["MessageId"] not in failed_ids])
        return len(messages)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once()
            except Exception:
                # Only SQS itself (or a bug here) gets here; handler errors are handled above.
                logger.exception("polling %s failed", self._queue_url)
                self._stopping.wait(ERROR_PAUSE_SECONDS)

    def _receive(self) -> list[dict[str, Any]]:
        """Up to `batch_size` messages; past 10 it takes several receives, as Lambda does."""
        messages: list[dict[str, Any]] = []
        while len(messages) < self._batch_size:
            response = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=min(MAX_RECEIVE, self._batch_size - len(messages)),
                # Only the first receive waits: later ones top up the batch with what's there.
                WaitTimeSeconds=0 if messages else self._wait_seconds,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages", [])
            messages.extend(received)
            if len(received) < MAX_RECEIVE:
                break
        return messages

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        """The record Lambda builds for one SQS message."""
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: _lambda_attribute(value)
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self._queue_arn,
            "awsRegion": self._region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), MAX_RECEIVE):
            chunk = messages[start : start + MAX_RECEIVE]
            response = self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
            for failure in response.get("Failed", []):
                # The message comes back after its visibility timeout: at-least-once, as in AWS.
                logger.warning("could not delete a message from %s: %s", self._queue_url, failure)


def _lambda_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """SQS's MessageAttributeValue in the camel-cased shape Lambda puts in records."""
    attribute: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return attribute


def _failed_message_ids(result: Any, message_ids: set[str]) -> set[str]:
    """The messages a handler reported as failed, by Lambda's partial batch response rules.

    No response, no list or an empty list means every message succeeded; an identifier that is
    empty or not in the batch, or a response that isn't an object, fails the whole batch.
    """
    if result is None:
        return set()
    if not isinstance(result, dict):
        raise BatchFailure(f"invalid batch response: {result!r}")
    failed: set[str] = set()
    for failure in result.get("batchItemFailures") or []:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in message_ids:
            raise BatchFailure(f"invalid itemIdentifier in {failure!r}")
        failed.add(identifier)
    return failed
