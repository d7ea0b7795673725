"""Dispatch-queue consumer: one message per notification (sent now, or fired by a schedule)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from herald.aws import sqs
from herald.aws.scheduler import OneTimeScheduler
from herald.aws.secrets import database_url
from herald.aws.sns import EventPublisher
from herald.aws.sweeps import sweep_schedule
from herald.db.connection import Database
from herald.models.messages import DispatchMessage
from herald.services.dispatch import DispatchPorts, dispatch_batch_slice, dispatch_notification
from herald.settings import Settings

logger = Logger()
tracer = Tracer()
settings = Settings()
db = Database(database_url(settings), settings.database_prepare_threshold)
scheduler = OneTimeScheduler(
    group=settings.schedule_group,
    role_arn=settings.required("scheduler_role_arn"),
    target_arn=settings.required("dispatch_queue_arn"),
)
ports = DispatchPorts(
    channel_queues=sqs.channel_queues(settings),
    bulk_queues=sqs.bulk_channel_queues(settings),
    scheduler=scheduler,
    sweeps=sweep_schedule(settings, scheduler),
    publisher=EventPublisher(settings.required("events_topic_arn")),
)
processor = BatchProcessor(event_type=EventType.SQS)


def dispatch_record(record: SQSRecord) -> None:
    message = DispatchMessage.model_validate_json(record.body)
    if message.batch_id is not None:
        outcome = dispatch_batch_slice(db, ports, message)
    else:
        outcome = dispatch_notification(db, ports, message.tenant_id, message.notification_id)
    if outcome:
        logger.info(
            "dispatched",
            extra={
                "notification_id": outcome.notification_id,
                "queued": outcome.queued,
                "skipped": outcome.skipped,
                "deferred": outcome.deferred,
            },
        )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=dispatch_record, processor=processor, context=context
    )
