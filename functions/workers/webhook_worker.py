"""webhook-queue consumer: the `webhook` channel, signed POSTs to recipients' URLs."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from herald.channels.url_guard import UrlPolicy
from herald.channels.webhook_http import (
    PROVIDER,
    WebhookChannelSender,
    WebhookMessage,
    WebhookPoster,
)
from herald.services import templates, webhook_endpoints
from herald.services.delivering import RetryPolicy
from herald.services.webhook_channel import compose_webhook

from functions.workers.channel_worker import BatchPlan, ChannelWorker

logger = Logger()
tracer = Tracer()
# Channel secrets never change: one read per tenant and execution environment.
_secrets: dict[str, str] = {}


def _secret(tenant_id: str) -> str:
    if tenant_id not in _secrets:
        _secrets[tenant_id] = webhook_endpoints.channel_secret(worker.db, tenant_id)
    return _secrets[tenant_id]


def compose(delivery: dict[str, Any]) -> WebhookMessage:
    content = templates.content_for(worker.db.connection(), delivery)
    return compose_webhook(delivery, content, _secret(delivery["tenant_id"]))


def plan() -> BatchPlan[WebhookMessage]:
    return BatchPlan(compose=compose, send=sender.send)


# The same retry schedule as webhook endpoints (about a day).
worker = ChannelWorker(
    "webhook",
    PROVIDER,
    plan,
    policy=lambda settings: RetryPolicy(schedule=settings.webhook_retry_schedule),
)
sender = WebhookChannelSender(
    WebhookPoster(UrlPolicy(allow_local_sink=worker.settings.webhook_allow_local_sink))
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return worker.handle(event, context)
