"""Run by one-time schedules while work is in flight: re-enqueue notifications and deliveries
that stalled, then renew its own schedule only if anything is still pending (see
herald.services.sweep_schedule), so an idle Herald lets Aurora pause."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from herald.aws import sqs
from herald.aws.scheduler import OneTimeScheduler
from herald.aws.secrets import database_url
from herald.aws.sns import EventPublisher
from herald.aws.sqs import MessageQueue
from herald.aws.sweeps import sweep_schedule
from herald.db.connection import Database
from herald.services.delivering import RetryPolicy
from herald.services.sweep_schedule import run_while_pending
from herald.services.sweeper import sweep
from herald.services.webhook_sending import resend_stalled
from herald.settings import Settings

logger = Logger()
tracer = Tracer()
settings = Settings()
db = Database(database_url(settings), settings.database_prepare_threshold)
dispatch_queue = MessageQueue(settings.required("dispatch_queue_url"))
channel_queues = sqs.channel_queues(settings)
bulk_queues = sqs.bulk_channel_queues(settings)
policy = RetryPolicy(max_attempts=settings.max_attempts, base_seconds=settings.retry_base_seconds)
webhook_events_queue = MessageQueue(settings.required("webhook_events_queue_url"))
# Deliveries it fails (dead-lettered, attempts spent) are announced like a worker's.
publisher = EventPublisher(settings.required("events_topic_arn"))
# A webhook message this overdue lost its queue message: queue it again.
WEBHOOK_STALL = timedelta(minutes=15)
schedule = sweep_schedule(
    settings,
    OneTimeScheduler(
        group=settings.schedule_group,
        role_arn=settings.required("scheduler_role_arn"),
        target_arn=settings.required("dispatch_queue_arn"),
    ),
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result, renewed = run_while_pending(db, schedule, _sweep)
    return {**result, "renewed": renewed}


def _sweep() -> dict[str, Any]:
    result = sweep(
        db,
        dispatch_queue,
        channel_queues,
        grace=timedelta(seconds=settings.sweeper_notification_grace_seconds),
        delivery_grace=timedelta(seconds=settings.sweeper_delivery_grace_seconds),
        policy=policy,
        publisher=publisher,
        bulk_queues=bulk_queues,
    )
    webhook_messages = resend_stalled(db, webhook_events_queue, older_than=WEBHOOK_STALL)
    return {**asdict(result), "webhook_messages": webhook_messages}
