"""Every Herald queue: a standard SQS queue with its own redrive dead-letter queue."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constants import (
    DEAD_LETTER_RETENTION,
    MAX_RECEIVE_COUNT,
    NAME_PREFIX,
    VISIBILITY_TIMEOUT_FACTOR,
)
from infra.functions import Binding


class RedrivenQueue(Construct):
    """A queue whose messages move to a dead-letter queue after `MAX_RECEIVE_COUNT` receives.

    The visibility timeout follows from the consumer's timeout, so the two cannot drift apart.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        queue_name: str,
        consumer_timeout: Duration,
        environment_prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self._environment_prefix = environment_prefix
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=f"{queue_name}-dlq",
            retention_period=DEAD_LETTER_RETENTION,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=queue_name,
            visibility_timeout=Duration.seconds(
                consumer_timeout.to_seconds() * VISIBILITY_TIMEOUT_FACTOR
            ),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=MAX_RECEIVE_COUNT
            ),
        )

    def sender(self) -> Binding:
        """Send messages (only `sqs:SendMessage`); the URL and ARN come as <prefix>_URL/_ARN."""
        return Binding(
            environment={
                f"{self._environment_prefix}_URL": self.queue.queue_url,
                f"{self._environment_prefix}_ARN": self.queue.queue_arn,
            },
            grant=lambda function: self.queue.grant(function, "sqs:SendMessage"),
        )


def dead_letter_admin(scope: Construct, queues: Mapping[str, RedrivenQueue]) -> Binding:
    """Read every dead-letter queue and move its messages back (GET /v1/dead-letters, POST
    /v1/dead-letters/redrive): HERALD_DEAD_LETTER_QUEUES lists them by the queues' short
    names; StartMessageMoveTask needs to read and delete on the DLQ, send on the source."""

    def grant(function: lambda_.Function) -> None:
        for queue in queues.values():
            queue.dead_letter_queue.grant(
                function,
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:StartMessageMoveTask",
                "sqs:ListMessageMoveTasks",
            )
            queue.queue.grant(function, "sqs:SendMessage")

    listed = {
        name: {
            "url": q.dead_letter_queue.queue_url,
            "arn": q.dead_letter_queue.queue_arn,
            "source_url": q.queue.queue_url,
            "source_arn": q.queue.queue_arn,
        }
        for name, q in queues.items()
    }
    return Binding(
        environment={"HERALD_DEAD_LETTER_QUEUES": Stack.of(scope).to_json_string(listed)},
        grant=grant,
    )


def bulk_lanes(
    scope: Construct, consumer_timeouts: Mapping[str, Duration]
) -> dict[str, RedrivenQueue]:
    """Each delivered channel's bulk lane (herald.services.lanes), by channel: a queue with its
    own dead-letter queue, `<prefix>-<channel>-bulk`, found as HERALD_<CHANNEL>_BULK_QUEUE_URL.
    Its consumer is the channel's worker, through a second mapping of lower concurrency."""
    return {
        channel: RedrivenQueue(
            scope,
            "".join(part.capitalize() for part in channel.split("_")) + "BulkQueue",
            queue_name=f"{NAME_PREFIX}-{channel.replace('_', '-')}-bulk",
            consumer_timeout=timeout,
            environment_prefix=f"HERALD_{channel.upper()}_BULK_QUEUE",
        )
        for channel, timeout in consumer_timeouts.items()
    }
