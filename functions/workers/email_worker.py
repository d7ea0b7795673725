"""Email-queue consumer: sends claimed deliveries through SendGrid."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from herald.aws.secrets import link_signing_key, provider_credentials
from herald.channels.base import EmailMessage
from herald.channels.sendgrid_email import PROVIDER, SendGridEmailSender
from herald.services import templates
from herald.services.email import EmailIdentity, UnsubscribeLinks, compose_email

from functions.workers.channel_worker import BatchPlan, ChannelWorker

logger = Logger()
tracer = Tracer()
_senders: dict[str, SendGridEmailSender] = {}


def _sender() -> SendGridEmailSender:
    # The secret is cached for minutes; a rotated key gets a new client.
    api_key = str(provider_credentials(secret_id)["sendgrid_api_key"])
    if api_key not in _senders:
        _senders.clear()
        _senders[api_key] = SendGridEmailSender(api_key, host=worker.settings.sendgrid_api_host)
    return _senders[api_key]


def compose(delivery: dict[str, Any]) -> EmailMessage:
    content = templates.content_for(worker.db.connection(), delivery)
    unsubscribe = UnsubscribeLinks(
        link_signing_key(links_secret_id), worker.settings.public_base_url
    )
    return compose_email(
        delivery, content, identity, unsubscribe.headers_for(delivery, datetime.now(UTC))
    )


def plan() -> BatchPlan[EmailMessage]:
    return BatchPlan(compose=compose, send=_sender().send)


worker = ChannelWorker("email", PROVIDER, plan)
secret_id = worker.settings.required("provider_secret_id")
links_secret_id = worker.settings.required("links_secret_id")
identity = EmailIdentity(
    from_email=worker.settings.email_from, from_name=worker.settings.email_from_name
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return worker.handle(event, context)
