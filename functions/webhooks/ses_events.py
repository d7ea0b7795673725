"""SES event notifications: the configuration set publishes them to an SNS topic, which
feeds this function's queue; each one updates its delivery like a SendGrid event."""

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
from herald.aws.secrets import database_url
from herald.aws.sns import EventPublisher
from herald.db.connection import Database
from herald.services.ses_events import apply_sns_messages
from herald.settings import Settings

logger = Logger()
tracer = Tracer()
settings = Settings()
db = Database(database_url(settings), settings.database_prepare_threshold)
publisher = EventPublisher(settings.required("events_topic_arn"))
processor = BatchProcessor(event_type=EventType.SQS)


def apply_record(record: SQSRecord) -> None:
    result = apply_sns_messages(db, [record.body])
    if result.changes:
        publisher.publish(result.changes)
    logger.info(
        "ses events",
        extra={
            "applied": result.applied,
            "duplicates": result.duplicates,
            "unmatched": result.unmatched,
        },
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=apply_record, processor=processor, context=context
    )
