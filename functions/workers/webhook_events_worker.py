"""webhook-events queue consumer: status events fanned out to customer endpoints and sent;
tests, replays and retries sent when due."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
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
from herald.aws.sqs import MessageQueue
from herald.channels.url_guard import UrlPolicy
from herald.channels.webhook_http import WebhookPoster
from herald.db.connection import Database
from herald.models.messages import WebhookSendMessage
from herald.services.delivering import RetryPolicy
from herald.services.webhook_sending import (
    WebhookPorts,
    fan_out,
    handle_send_message,
    send_stored,
)
from herald.settings import Settings

logger = Logger()
tracer = Tracer()
settings = Settings()
db = Database(database_url(settings), settings.database_prepare_threshold)
ports = WebhookPorts(
    queue=MessageQueue(settings.required("webhook_events_queue_url")),
    publisher=EventPublisher(settings.required("events_topic_arn")),
    poster=WebhookPoster(UrlPolicy(allow_local_sink=settings.webhook_allow_local_sink)),
    policy=RetryPolicy(schedule=settings.webhook_retry_schedule),
    disable_after=timedelta(seconds=settings.webhook_disable_after_seconds),
    lease_seconds=settings.claim_lease_seconds,
    senders=ThreadPoolExecutor(max_workers=settings.send_concurrency, thread_name_prefix="post"),
)
processor = BatchProcessor(event_type=EventType.SQS)


def process_record(record: SQSRecord) -> None:
    body: dict[str, Any] = json.loads(record.body)
    if body.get("kind") == "send":
        handle_send_message(db, WebhookSendMessage.model_validate(body), ports)
        return
    # A status event, delivered raw by the topic's subscription; the queue message id is
    # the same on every redelivery, so a redelivered event stores nothing twice.
    stored = fan_out(db, [(record.message_id, body)])
    outcome = send_stored(db, stored, ports)
    logger.info(
        "webhook event",
        extra={
            "type": body.get("type"),
            "messages": len(stored),
            "delivered": len(outcome.delivered),
            "retrying": len(outcome.retrying),
            "failed": len(outcome.failed),
        },
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=process_record, processor=processor, context=context
    )
