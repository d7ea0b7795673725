"""Every Herald queue: a standard SQS queue with its own redrive dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constants import DEAD_LETTER_RETENTION, MAX_RECEIVE_COUNT, VISIBILITY_TIMEOUT_FACTOR
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
