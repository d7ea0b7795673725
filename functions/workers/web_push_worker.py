"""Web-push-queue consumer: sends claimed deliveries to the recipient's browser subscriptions
with `pywebpush` (aes128gcm, VAPID)."""

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
from herald.aws.secrets import database_url, plain_secret
from herald.aws.sns import EventPublisher
from herald.aws.sqs import MessageQueue
from herald.channels.base import FanOutResult, WebPushMessage
from herald.channels.web_push import PROVIDER, WebPushSender
from herald.db.connection import Database
from herald.models.messages import ChannelMessage
from herald.services import devices, templates, vapid
from herald.services.delivering import RetryPolicy, deliver_batch
from herald.services.push import compose_web_push
from herald.settings import Settings

logger = Logger()
tracer = Tracer()
settings = Settings()
db = Database(database_url(settings), settings.database_prepare_threshold)
web_push_queue = MessageQueue(settings.required("web_push_queue_url"))
publisher = EventPublisher(settings.required("events_topic_arn"))
# A notification with fallback channels goes back to dispatch when a delivery gives up.
dispatch_queue = MessageQueue(settings.required("dispatch_queue_url"))
policy = RetryPolicy(max_attempts=settings.max_attempts, base_seconds=settings.retry_base_seconds)
vapid_secret_id = settings.required("vapid_secret_id")
processor = BatchProcessor(event_type=EventType.SQS)
senders = ThreadPoolExecutor(max_workers=settings.send_concurrency, thread_name_prefix="send")


_senders: dict[str, WebPushSender] = {}


def _sender() -> WebPushSender:
    # The secret is cached for minutes; a rotated one gets a new key pair.
    secret = plain_secret(vapid_secret_id)
    if secret not in _senders:
        _senders.clear()
        _senders[secret] = WebPushSender(vapid.private_key(secret), settings.vapid_subject)
    return _senders[secret]


def compose(delivery: dict[str, Any]) -> WebPushMessage:
    conn = db.connection()
    return compose_web_push(
        templates.content_for(conn, delivery), devices.targets_of(conn, delivery)
    )


def deactivate_gone(delivery: dict[str, Any], result: FanOutResult) -> list[dict[str, Any]]:
    return devices.deactivate_gone(db.connection(), delivery, result)


def send_record(record: SQSRecord) -> None:
    message = ChannelMessage.model_validate_json(record.body)
    outcome = deliver_batch(
        db,
        message,
        provider=PROVIDER,
        compose=compose,
        send=_sender().send,
        retry_queue=web_push_queue,
        publisher=publisher,
        dispatch_queue=dispatch_queue,
        policy=policy,
        lease_seconds=settings.claim_lease_seconds,
        senders=senders,
        on_targets=deactivate_gone,
    )
    logger.info(
        "web push batch",
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
