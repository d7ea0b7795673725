"""How queue consumers are invoked (the sweeper runs on one-time schedules: infra/scheduler.py)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources

from infra.constants import SQS_BATCH_SIZE
from infra.queues import RedrivenQueue


def consume(
    function: lambda_.Function,
    queue: RedrivenQueue,
    *,
    max_concurrency: int,
    max_batching_window: Duration | None = None,
) -> None:
    """Invoke `function` with batches from `queue`; failed records alone are retried.

    Consumers return `batchItemFailures` (Powertools `process_partial_response`), so one bad
    message does not send its whole batch back to the queue.
    """
    function.add_event_source(
        event_sources.SqsEventSource(
            queue.queue,
            batch_size=SQS_BATCH_SIZE,
            report_batch_item_failures=True,
            max_concurrency=max_concurrency,
            max_batching_window=max_batching_window,
        )
    )
