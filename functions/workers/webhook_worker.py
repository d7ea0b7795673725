"""webhook-queue consumer: the `webhook` channel, signed POSTs to recipients' URLs."""

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
from herald.channels.url_guard import UrlPolicy
from herald.channels.webhook_http import (
    PROVIDER,
    WebhookChannelSender,
    WebhookMessage,
    WebhookPoster,
)
from herald.db.connection import Database
from herald.models.messages import ChannelMessage
from herald.services import templates, webhook_endpoints
from herald.services.delivering import RetryPolicy, deliver_batch
from herald.services.webhook_channel import compose_webhook
from herald.settings import Settings

logger = Logger()
tracer = Tracer()
settings = Settings()
db = Database(database_url(settings), settings.database_prepare_threshold)
webhook_queue = MessageQueue(settings.required("webhook_queue_url"))
publisher = EventPublisher(settings.required("events_topic_arn"))
# A notification with fallback channels goes back to dispatch when a delivery gives up.
dispatch_queue = MessageQueue(settings.required("dispatch_queue_url"))
# The same retry schedule as webhook endpoints (about a day).
policy = RetryPolicy(schedule=settings.webhook_retry_schedule)
sender = WebhookChannelSender(
    WebhookPoster(UrlPolicy(allow_local_sink=settings.webhook_allow_local_sink))
)
processor = BatchProcessor(event_type=EventType.SQS)
senders = ThreadPoolExecutor(max_workers=settings.send_concurrency, thread_name_prefix="post")
# Channel secrets never change: one read per tenant and execution environment.
_secrets: dict[str, str] = {}


def _secret(tenant_id: str) -> str:
    if tenant_id not in _secrets:
        _secrets[tenant_id] = webhook_endpoints.channel_secret(db, tenant_id)
    return _secrets[tenant_id]


def compose(delivery: dict[str, Any]) -> WebhookMessage:
    content = templates.content_for(db.connection(), delivery)
    return compose_webhook(delivery, content, _secret(delivery["tenant_id"]))


def send_record(record: SQSRecord) -> None:
    message = ChannelMessage.model_validate_json(record.body)
    outcome = deliver_batch(
        db,
        message,
        provider=PROVIDER,
        compose=compose,
        send=sender.send,
        retry_queue=webhook_queue,
        publisher=publisher,
        dispatch_queue=dispatch_queue,
        policy=policy,
        lease_seconds=settings.claim_lease_seconds,
        senders=senders,
    )
    logger.info(
        "webhook batch",
        extra={
            "sent": len(outcome.sent),
            "retrying": len(outcome.retrying),
            "failed": len(outcome.failed),
            "not_claimed": outcome.not_claimed,
        },
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=send_record, processor=processor, context=context
    )
