"""In-app-queue consumer: stores claimed deliveries as inbox items, a batch per statement,
and tells the users' open browsers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
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
from herald.aws.websocket import ConnectionPoster
from herald.db.connection import Database
from herald.db.inbox import NewInboxItem
from herald.models.messages import ChannelMessage
from herald.services import templates
from herald.services.delivering import deliver_stored_batch
from herald.services.in_app import DELIVERED, PROVIDER, compose_item, store_items
from herald.services.realtime import InboxRealtime
from herald.settings import Settings

logger = Logger()
tracer = Tracer()
settings = Settings()
db = Database(database_url(settings), settings.database_prepare_threshold)
# Calls to SNS and to the WebSocket API are network-bound: a batch's go out concurrently.
calls = ThreadPoolExecutor(max_workers=settings.send_concurrency, thread_name_prefix="post")
publisher = EventPublisher(settings.required("events_topic_arn"), executor=calls)
# A notification with fallback channels goes back to dispatch when a delivery gives up.
dispatch_queue = MessageQueue(settings.required("dispatch_queue_url"))
realtime = InboxRealtime(
    ConnectionPoster(settings.websocket_management_url)
    if settings.websocket_management_url
    else None,
    calls,
)
processor = BatchProcessor(event_type=EventType.SQS)


def compose(delivery: dict[str, Any]) -> NewInboxItem:
    return compose_item(delivery, templates.content_for(db.connection(), delivery))


def store_record(record: SQSRecord) -> None:
    message = ChannelMessage.model_validate_json(record.body)
    outcome = deliver_stored_batch(
        db,
        message,
        provider=PROVIDER,
        compose=compose,
        store=store_items,
        status=DELIVERED,
        publisher=publisher,
        dispatch_queue=dispatch_queue,
        lease_seconds=settings.claim_lease_seconds,
    )
    realtime.items_created(db.connection(), message.tenant_id, outcome.stored)
    logger.info(
        "in_app batch",
        extra={
            "stored": len(outcome.stored),
            "failed": len(outcome.failed),
            "not_claimed": outcome.not_claimed,
        },
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=store_record, processor=processor, context=context
    )
