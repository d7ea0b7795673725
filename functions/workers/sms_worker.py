"""SMS-queue consumer: sends claimed deliveries through Twilio's Messages API."""

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
from herald.aws.secrets import database_url, provider_credentials
from herald.aws.sns import EventPublisher
from herald.aws.sqs import MessageQueue
from herald.channels.base import TextMessage
from herald.channels.twilio_messages import PROVIDER, sender_for
from herald.db.connection import Database
from herald.models.messages import ChannelMessage
from herald.services import templates
from herald.services.delivering import RetryPolicy, deliver_batch
from herald.services.text_messages import TwilioIdentity, compose_sms, describe
from herald.settings import Settings

logger = Logger()
tracer = Tracer()
settings = Settings()
db = Database(database_url(settings), settings.database_prepare_threshold)
sms_queue = MessageQueue(settings.required("sms_queue_url"))
publisher = EventPublisher(settings.required("events_topic_arn"))
policy = RetryPolicy(max_attempts=settings.max_attempts, base_seconds=settings.retry_base_seconds)
secret_id = settings.required("provider_secret_id")
processor = BatchProcessor(event_type=EventType.SQS)
senders = ThreadPoolExecutor(max_workers=settings.send_concurrency, thread_name_prefix="send")


def send_record(record: SQSRecord) -> None:
    message = ChannelMessage.model_validate_json(record.body)
    # The secret is cached for minutes: a rotated token or a new number takes effect alone.
    credentials = provider_credentials(secret_id)
    identity = TwilioIdentity.from_credentials(credentials, settings.public_base_url)
    sender = sender_for(
        str(credentials.get("twilio_account_sid", "")),
        str(credentials.get("twilio_auth_token", "")),
        settings.twilio_api_base_url,
    )

    def compose(delivery: dict[str, Any]) -> TextMessage:
        content = templates.content_for(db.connection(), delivery)
        return compose_sms(delivery, content, identity, settings.sms_max_segments)

    outcome = deliver_batch(
        db,
        message,
        provider=PROVIDER,
        compose=compose,
        send=sender.send,
        retry_queue=sms_queue,
        publisher=publisher,
        policy=policy,
        lease_seconds=settings.claim_lease_seconds,
        senders=senders,
        describe=describe,
    )
    logger.info(
        "sms batch",
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
