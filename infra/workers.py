"""How queue consumers and the periodic sweeper are invoked."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

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


def run_every(
    scope: Construct, construct_id: str, function: lambda_.IFunction, interval: Duration
) -> events.Rule:
    """Invoke `function` on a fixed rate (the stuck-notification sweeper)."""
    return events.Rule(
        scope,
        construct_id,
        schedule=events.Schedule.rate(interval),
        targets=[targets.LambdaFunction(function)],
    )
