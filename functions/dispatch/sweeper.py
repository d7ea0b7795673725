"""Scheduled every few minutes: re-enqueue notifications and deliveries that stalled."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from herald.aws.secrets import database_url
from herald.aws.sqs import MessageQueue
from herald.db.connection import Database
from herald.services.delivering import RetryPolicy
from herald.services.sweeper import sweep
from herald.services.webhook_sending import resend_stalled
from herald.settings import Settings

logger = Logger()
tracer = Tracer()
settings = Settings()
db = Database(database_url(settings), settings.database_prepare_threshold)
dispatch_queue = MessageQueue(settings.required("dispatch_queue_url"))
channel_queues = {
    "email": MessageQueue(settings.required("email_queue_url")),
    "webhook": MessageQueue(settings.required("webhook_queue_url")),
}
policy = RetryPolicy(max_attempts=settings.max_attempts, base_seconds=settings.retry_base_seconds)
webhook_events_queue = MessageQueue(settings.required("webhook_events_queue_url"))
# A webhook message this overdue lost its queue message: queue it again.
WEBHOOK_STALL = timedelta(minutes=15)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = sweep(db, dispatch_queue, channel_queues, policy=policy)
    webhook_messages = resend_stalled(db, webhook_events_queue, older_than=WEBHOOK_STALL)
    return {**asdict(result), "webhook_messages": webhook_messages}
