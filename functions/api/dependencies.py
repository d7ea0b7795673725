"""What the API's routes use, built once per execution environment (cold start)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.event_handler.request import Request
from herald.aws.dead_letters import CopyingDeadLetterQueues, DeadLetterQueues
from herald.aws.integration_secrets import IntegrationSecrets
from herald.aws.scheduler import OneTimeScheduler
from herald.aws.secrets import database_url, link_signing_key
from herald.aws.sns import EventPublisher
from herald.aws.sqs import MessageQueue
from herald.aws.sweeps import sweep_schedule
from herald.aws.websocket import ConnectionPoster
from herald.channels.url_guard import UrlPolicy
from herald.db.connection import Database
from herald.services.auth import Principal, authenticate
from herald.services.batches import BatchPorts
from herald.services.circuits import breaker_policy
from herald.services.idempotency import StoredResponse
from herald.services.inbox import InboxPorts
from herald.services.integration_probes import ProbeTargets, provider_probe
from herald.services.integrations import IntegrationPorts
from herald.services.notifications import SendPorts
from herald.services.realtime import InboxRealtime
from herald.settings import Settings
from pydantic import BaseModel

settings = Settings()
db = Database(database_url(settings), settings.database_prepare_threshold)
scheduler = OneTimeScheduler(
    group=settings.schedule_group,
    role_arn=settings.required("scheduler_role_arn"),
    target_arn=settings.required("dispatch_queue_arn"),
)
send_ports = SendPorts(
    dispatch_queue=MessageQueue(settings.required("dispatch_queue_url")),
    scheduler=scheduler,
    sweeps=sweep_schedule(settings, scheduler),
)
links_secret_id = settings.required("links_secret_id")
dead_letter_queues = (
    CopyingDeadLetterQueues(settings.dead_letter_queues)
    if settings.dead_letter_redrive == "copy"
    else DeadLetterQueues(settings.dead_letter_queues)
)


def link_key() -> bytes:
    """The key that signs end-user links (read through the cached secrets provider)."""
    return link_signing_key(links_secret_id)


# A route's `security` for "no API key". A router drops `security=[]` as "not given" (leaving the
# API-wide bearer requirement on the route); one empty requirement survives, and the resolver
# (functions/api/contract.py) writes it into the document as OpenAPI's `security: []`.
NO_API_KEY: list[dict[str, list[str]]] = [{}]


def scope(name: str) -> Callable[[Request], Principal]:
    """A route dependency: the caller's Principal, which must hold scope `name`."""

    def principal_with_scope(request: Request) -> Principal:
        principal = authenticate(db, request.headers.get("authorization"))
        principal.require(name)
        return principal

    principal_with_scope.__name__ = f"principal_with_{name}_scope"
    return principal_with_scope


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="idempotency-key",
        min_length=1,
        max_length=255,
        description="Same key + same body within 24 h returns the first response again.",
    ),
]

M = TypeVar("M", bound=BaseModel)


def replayable(result: StoredResponse, model: type[M]) -> Response[M]:
    """The response of a POST under Idempotency-Key, marked when it is a replay."""
    headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
    return Response(
        status_code=result.status_code,
        content_type=content_types.APPLICATION_JSON,
        body=model.model_validate(result.body),
        headers=headers,
    )


# The inbox: reading an item publishes `delivery.read`; changes reach the user's browsers.
inbox_ports = InboxPorts(
    publisher=EventPublisher(settings.required("events_topic_arn")),
    realtime=InboxRealtime(
        ConnectionPoster(settings.websocket_management_url)
        if settings.websocket_management_url
        else None
    ),
)
# Outbound webhooks: the SSRF policy URLs are checked against when saved, and the queue
# that tests and replays are sent through.
webhook_url_policy = UrlPolicy(allow_local_sink=settings.webhook_allow_local_sink)
webhook_events_queue = MessageQueue(settings.required("webhook_events_queue_url"))
# Batches: their slices go to the dispatch queue, like a notification.
batch_ports = BatchPorts(dispatch_queue=send_ports.dispatch_queue, sweeps=send_ports.sweeps)
# Integrations: one Secrets Manager secret each; test calls reach the providers (the
# simulator locally); breakers as the workers apply them.
integration_ports = IntegrationPorts(
    secrets=IntegrationSecrets(settings.integration_secret_prefix),
    probe=provider_probe(
        ProbeTargets(
            sendgrid_api_host=settings.sendgrid_api_host,
            email_from=settings.email_from,
            twilio_api_base_url=settings.twilio_api_base_url,
            ses_endpoint_url=settings.ses_endpoint_url,
            ses_configuration_set=settings.ses_configuration_set,
            fcm_simulator_url=settings.fcm_simulator_url,
        )
    ),
    breaker=breaker_policy(settings),
)
