"""Email-queue consumer: sends claimed deliveries through SendGrid."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
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
from herald.aws.secrets import database_url, link_signing_key, provider_credentials
from herald.aws.sns import EventPublisher
from herald.aws.sqs import MessageQueue
from herald.channels.base import EmailMessage
from herald.channels.sendgrid_email import PROVIDER, SendGridEmailSender
from herald.db.connection import Database
from herald.models.messages import ChannelMessage
from herald.services import templates
from herald.services.delivering import RetryPolicy, deliver_batch
from herald.services.email import EmailIdentity, UnsubscribeLinks, compose_email
from herald.settings import Settings

logger = Logger()
tracer = Tracer()
settings = Settings()
db = Database(database_url(settings), settings.database_prepare_threshold)
email_queue = MessageQueue(settings.required("email_queue_url"))
publisher = EventPublisher(settings.required("events_topic_arn"))
# A notification with fallback channels goes back to dispatch when a delivery gives up.
dispatch_queue = MessageQueue(settings.required("dispatch_queue_url"))
identity = EmailIdentity(from_email=settings.email_from, from_name=settings.email_from_name)
policy = RetryPolicy(max_attempts=settings.max_attempts, base_seconds=settings.retry_base_seconds)
secret_id = settings.required("provider_secret_id")
links_secret_id = settings.required("links_secret_id")
processor = BatchProcessor(event_type=EventType.SQS)
senders = ThreadPoolExecutor(max_workers=settings.send_concurrency, thread_name_prefix="send")
_senders: dict[str, SendGridEmailSender] = {}


def _sender() -> SendGridEmailSender:
    # The secret is cached for minutes; a rotated key gets a new client.
    api_key = str(provider_credentials(secret_id)["sendgrid_api_key"])
    if api_key not in _senders:
        _senders.clear()
        _senders[api_key] = SendGridEmailSender(api_key, host=settings.sendgrid_api_host)
    return _senders[api_key]


def compose(delivery: dict[str, Any]) -> EmailMessage:
    content = templates.content_for(db.connection(), delivery)
    unsubscribe = UnsubscribeLinks(link_signing_key(links_secret_id), settings.public_base_url)
    return compose_email(
        delivery, content, identity, unsubscribe.headers_for(delivery, datetime.now(UTC))
    )


def send_record(record: SQSRecord) -> None:
    message = ChannelMessage.model_validate_json(record.body)
    sender = _sender()
    outcome = deliver_batch(
        db,
        message,
        provider=PROVIDER,
        compose=compose,
        send=sender.send,
        retry_queue=email_queue,
        publisher=publisher,
        dispatch_queue=dispatch_queue,
        policy=policy,
        lease_seconds=settings.claim_lease_seconds,
        senders=senders,
    )
    logger.info(
        "email batch",
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
