"""SMS-queue consumer: sends claimed deliveries through Twilio's Messages API."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from herald.channels.base import TextMessage
from herald.db.connection import Connection
from herald.services.text_messages import TwilioIdentity, compose_sms

from functions.workers.text_worker import TextWorker

logger = Logger()
tracer = Tracer()


def compose(
    _: Connection, delivery: dict[str, Any], content: dict[str, Any], identity: TwilioIdentity
) -> TextMessage:
    return compose_sms(delivery, content, identity, worker.settings.sms_max_segments)


worker = TextWorker("sms", compose)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return worker.handle(event, context)
