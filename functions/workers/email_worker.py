"""Email-queue consumer: sends claimed deliveries through SendGrid (the deployment's
account), or through a tenant's own SendGrid and Amazon SES integrations, by priority."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from herald.aws.secrets import link_signing_key, provider_credentials
from herald.channels.base import EmailMessage
from herald.channels.sendgrid_email import PROVIDER, SendGridEmailSender
from herald.channels.ses_email import SesEmailSender
from herald.db.connection import Row
from herald.services import templates
from herald.services.delivering import Send
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


def integration_sender(integration: Row, credentials: dict[str, Any]) -> Send[EmailMessage]:
    """The send function of a tenant's email integration: its own account, and its own
    sender address when it has one."""
    settings = integration["settings"]
    sender: SendGridEmailSender | SesEmailSender
    if integration["provider"] == "ses":
        sender = SesEmailSender(
            region=settings.get("region"),
            configuration_set=settings.get("configuration_set")
            or worker.settings.ses_configuration_set,
            endpoint_url=worker.settings.ses_endpoint_url,
            access_key_id=credentials.get("access_key_id"),
            secret_access_key=credentials.get("secret_access_key"),
        )
    else:
        sender = SendGridEmailSender(
            str(credentials["api_key"]), host=worker.settings.sendgrid_api_host
        )
    changes = {k: settings[k] for k in ("from_email", "from_name") if settings.get(k)}

    def send(message: EmailMessage) -> str:
        return sender.send(dataclasses.replace(message, **changes) if changes else message)

    return send


worker = ChannelWorker("email", PROVIDER, plan, integrations=integration_sender)
secret_id = worker.settings.required("provider_secret_id")
links_secret_id = worker.settings.required("links_secret_id")
identity = EmailIdentity(
    from_email=worker.settings.email_from, from_name=worker.settings.email_from_name
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return worker.handle(event, context)
