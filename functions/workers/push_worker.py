"""Push-queue consumer: sends claimed deliveries to the recipient's iOS and Android devices
through FCM (`firebase-admin`)."""

from __future__ import annotations

import json
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
from herald.aws.secrets import database_url, provider_credentials
from herald.aws.sns import EventPublisher
from herald.aws.sqs import MessageQueue
from herald.channels.base import FanOutResult, PushMessage
from herald.channels.fcm_push import PROVIDER, FcmPushSender
from herald.db.connection import Database
from herald.models.messages import ChannelMessage
from herald.services import devices, templates
from herald.services.delivering import RetryPolicy, deliver_batch
from herald.services.push import compose_push
from herald.settings import Settings

logger = Logger()
tracer = Tracer()
settings = Settings()
db = Database(database_url(settings), settings.database_prepare_threshold)
push_queue = MessageQueue(settings.required("push_queue_url"))
publisher = EventPublisher(settings.required("events_topic_arn"))
# A notification with fallback channels goes back to dispatch when a delivery gives up.
dispatch_queue = MessageQueue(settings.required("dispatch_queue_url"))
policy = RetryPolicy(max_attempts=settings.max_attempts, base_seconds=settings.retry_base_seconds)
secret_id = settings.required("provider_secret_id")
processor = BatchProcessor(event_type=EventType.SQS)
senders = ThreadPoolExecutor(max_workers=settings.send_concurrency, thread_name_prefix="send")


_senders: dict[str, FcmPushSender] = {}


def _sender() -> FcmPushSender:
    # The secret is cached for minutes; a rotated service account gets its own app.
    service_account = provider_credentials(secret_id).get("fcm_service_account")
    if not isinstance(service_account, dict):
        raise ValueError("the provider secret's fcm_service_account must be a service-account JSON")
    key = json.dumps(service_account, sort_keys=True)
    if key not in _senders:
        _senders.clear()
        _senders[key] = FcmPushSender(service_account, simulator_url=settings.fcm_simulator_url)
    return _senders[key]


def compose(delivery: dict[str, Any]) -> PushMessage:
    conn = db.connection()
    return compose_push(templates.content_for(conn, delivery), devices.targets_of(conn, delivery))


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
        retry_queue=push_queue,
        publisher=publisher,
        dispatch_queue=dispatch_queue,
        policy=policy,
        lease_seconds=settings.claim_lease_seconds,
        senders=senders,
        on_targets=deactivate_gone,
    )
    logger.info(
        "push batch",
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
