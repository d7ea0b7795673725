"""Push-queue consumer: sends claimed deliveries to the recipient's iOS and Android devices
through FCM (`firebase-admin`): the deployment's Firebase project, or the one of a tenant's
own `fcm` integration.

A registration token works only with the project its app registered with, so a tenant's
integrations do not fail over: its first active one (by priority) serves every device, and
while its breaker is open deliveries wait (`provider_unavailable`)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from herald.aws.secrets import provider_credentials
from herald.channels.base import FanOutResult, PushMessage
from herald.channels.fcm_push import PROVIDER, FcmPushSender
from herald.db.connection import Row
from herald.services import devices, templates
from herald.services.delivering import Send
from herald.services.push import compose_push

from functions.workers.channel_worker import BatchPlan, ChannelWorker

logger = Logger()
tracer = Tracer()
_senders: dict[str, FcmPushSender] = {}


def _sender() -> FcmPushSender:
    # The secret is cached for minutes; a rotated service account gets its own app.
    service_account = provider_credentials(secret_id).get("fcm_service_account")
    if not isinstance(service_account, dict):
        raise ValueError("the provider secret's fcm_service_account must be a service-account JSON")
    key = json.dumps(service_account, sort_keys=True)
    if key not in _senders:
        _senders.clear()
        _senders[key] = FcmPushSender(
            service_account, simulator_url=worker.settings.fcm_simulator_url
        )
    return _senders[key]


def compose(delivery: dict[str, Any]) -> PushMessage:
    conn = worker.db.connection()
    return compose_push(templates.content_for(conn, delivery), devices.targets_of(conn, delivery))


def deactivate_gone(delivery: dict[str, Any], result: FanOutResult) -> list[dict[str, Any]]:
    return devices.deactivate_gone(worker.db.connection(), delivery, result)


def plan() -> BatchPlan[PushMessage]:
    return BatchPlan(compose=compose, send=_sender().send, on_targets=deactivate_gone)


def integration_sender(integration: Row, credentials: dict[str, Any]) -> Send[PushMessage]:
    """The send function of a tenant's `fcm` integration: its own service account, with a
    firebase-admin app (and OAuth token) of its own."""
    # Apps are named by their credential, so one is shared by integrations holding the same
    # service account; a replaced one is left alive, as a send may still be using it.
    sender = FcmPushSender(
        credentials["service_account"], simulator_url=worker.settings.fcm_simulator_url
    )
    return sender.send


worker = ChannelWorker("push", PROVIDER, plan, integrations=integration_sender, failover=False)
secret_id = worker.settings.required("provider_secret_id")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return worker.handle(event, context)
