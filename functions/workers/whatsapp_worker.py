"""WhatsApp-queue consumer: sends claimed deliveries through Twilio's Messages API, free-form
text inside the user's 24-hour window, Content templates outside it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from herald.channels.base import TextMessage
from herald.db import whatsapp_sessions
from herald.db.connection import Connection
from herald.services.text_messages import TwilioIdentity, compose_whatsapp

from functions.workers.text_worker import TextWorker

logger = Logger()
tracer = Tracer()


def compose(
    conn: Connection, delivery: dict[str, Any], content: dict[str, Any], identity: TwilioIdentity
) -> TextMessage:
    last_inbound_at = None
    if identity.whatsapp_from:
        last_inbound_at = whatsapp_sessions.last_inbound(
            conn, identity.whatsapp_from, delivery["address"]
        )
    return compose_whatsapp(
        delivery,
        content,
        identity,
        max_segments=worker.settings.sms_max_segments,
        last_inbound_at=last_inbound_at,
        now=datetime.now(UTC),
    )


worker = TextWorker("whatsapp", compose)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return worker.handle(event, context)
