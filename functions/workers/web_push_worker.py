"""Web-push-queue consumer: sends claimed deliveries to the recipient's browser subscriptions
with `pywebpush` (aes128gcm, VAPID), signed with the deployment's VAPID key or with the one
of a tenant's own `web_push` integration.

A subscription is bound to the key it was made with (push services refuse any other), so a
tenant's integrations do not fail over: its first active one (by priority) signs for every
subscription, and while its breaker is open deliveries wait (`provider_unavailable`)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from herald.aws.secrets import plain_secret
from herald.channels.base import FanOutResult, WebPushMessage
from herald.channels.web_push import PROVIDER, WebPushSender
from herald.db.connection import Row
from herald.services import devices, templates, vapid
from herald.services.delivering import Send
from herald.services.push import compose_web_push

from functions.workers.channel_worker import BatchPlan, ChannelWorker

logger = Logger()
tracer = Tracer()
_senders: dict[str, WebPushSender] = {}


def _sender() -> WebPushSender:
    # The secret is cached for minutes; a rotated one gets a new key pair.
    secret = plain_secret(vapid_secret_id)
    if secret not in _senders:
        _senders.clear()
        _senders[secret] = WebPushSender(vapid.private_key(secret), worker.settings.vapid_subject)
    return _senders[secret]


def compose(delivery: dict[str, Any]) -> WebPushMessage:
    conn = worker.db.connection()
    return compose_web_push(
        templates.content_for(conn, delivery), devices.targets_of(conn, delivery)
    )


def deactivate_gone(delivery: dict[str, Any], result: FanOutResult) -> list[dict[str, Any]]:
    return devices.deactivate_gone(worker.db.connection(), delivery, result)


def plan() -> BatchPlan[WebPushMessage]:
    return BatchPlan(compose=compose, send=_sender().send, on_targets=deactivate_gone)


def integration_sender(integration: Row, credentials: dict[str, Any]) -> Send[WebPushMessage]:
    """The send function of a tenant's `web_push` integration: its own VAPID key, and its
    own subject when its settings have one."""
    sender = WebPushSender(
        vapid.private_key(str(credentials["vapid_private_key"])),
        integration["settings"].get("subject") or worker.settings.vapid_subject,
    )
    return sender.send


worker = ChannelWorker("web_push", PROVIDER, plan, integrations=integration_sender, failover=False)
vapid_secret_id = worker.settings.required("vapid_secret_id")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return worker.handle(event, context)
