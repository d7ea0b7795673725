"""What the SMS and WhatsApp workers share: one Twilio channel's consumer on the shared
delivery loop. Each worker module builds one `TextWorker` with its queue and composer."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools import Logger
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
from herald.db.connection import Connection, Database
from herald.models.messages import ChannelMessage
from herald.services import templates
from herald.services.delivering import RetryPolicy, deliver_batch
from herald.services.text_messages import TwilioIdentity, describe
from herald.settings import Settings

logger = Logger()

ComposeText = Callable[[Connection, dict[str, Any], dict[str, Any], TwilioIdentity], TextMessage]
"""Builds a delivery's message from its rendered content (the connection: for lookups)."""


class TextWorker:
    """The consumer of one Twilio channel's queue (created once per execution environment)."""

    def __init__(self, channel: str, queue_url_setting: str, compose: ComposeText) -> None:
        self.channel = channel
        self.settings = Settings()
        self._compose = compose
        self._db = Database(database_url(self.settings), self.settings.database_prepare_threshold)
        self._queue = MessageQueue(self.settings.required(queue_url_setting))
        self._publisher = EventPublisher(self.settings.required("events_topic_arn"))
        # A notification with fallback channels goes back to dispatch when a delivery gives up.
        self._dispatch_queue = MessageQueue(self.settings.required("dispatch_queue_url"))
        self._policy = RetryPolicy(
            max_attempts=self.settings.max_attempts, base_seconds=self.settings.retry_base_seconds
        )
        self._secret_id = self.settings.required("provider_secret_id")
        self._processor = BatchProcessor(event_type=EventType.SQS)
        self._senders = ThreadPoolExecutor(
            max_workers=self.settings.send_concurrency, thread_name_prefix="send"
        )

    def handle(self, event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        return process_partial_response(
            event=event,
            record_handler=self._send_record,
            processor=self._processor,
            context=context,
        )

    def _send_record(self, record: SQSRecord) -> None:
        message = ChannelMessage.model_validate_json(record.body)
        # The secret is cached for minutes: a rotated token or a new number takes effect alone.
        credentials = provider_credentials(self._secret_id)
        identity = TwilioIdentity.from_credentials(credentials, self.settings.public_base_url)
        sender = sender_for(
            str(credentials.get("twilio_account_sid", "")),
            str(credentials.get("twilio_auth_token", "")),
            self.settings.twilio_api_base_url,
        )

        def compose(delivery: dict[str, Any]) -> TextMessage:
            conn = self._db.connection()
            content = templates.content_for(conn, delivery)
            return self._compose(conn, delivery, content, identity)

        outcome = deliver_batch(
            self._db,
            message,
            provider=PROVIDER,
            compose=compose,
            send=sender.send,
            retry_queue=self._queue,
            publisher=self._publisher,
            dispatch_queue=self._dispatch_queue,
            policy=self._policy,
            lease_seconds=self.settings.claim_lease_seconds,
            senders=self._senders,
            describe=describe,
        )
        logger.info(
            f"{self.channel} batch",
            extra={
                "sent": len(outcome.sent),
                "retrying": len(outcome.retrying),
                "failed": len(outcome.failed),
                "not_claimed": outcome.not_claimed,
            },
        )
