"""/v1/webhook-endpoints: signed event subscriptions (scope admin), and the channel secret."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from herald.models.common import Page
from herald.models.webhooks import (
    ChannelSecretOut,
    ReplayAccepted,
    ReplayRequest,
    TestMessageSent,
    WebhookAttemptOut,
    WebhookEndpointIn,
    WebhookEndpointOut,
    WebhookEndpointPatch,
    WebhookEndpointWithSecret,
)
from herald.services import webhook_endpoints
from herald.services.auth import Principal

from functions.api.contract import declare
from functions.api.dependencies import (
    IdempotencyKey,
    db,
    replayable,
    scope,
    webhook_events_queue,
    webhook_url_policy,
)

router = APIGatewayHttpRouter()

AdminScope = Annotated[Principal, Depends(scope("admin"))]
EndpointId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,64}$", description="`whe_…`")]
TAG = "Webhooks"
BASE = "/v1/webhook-endpoints"


@router.post(
    BASE,
    tags=[TAG],
    summary="Subscribe a URL to events (the secret is shown once)",
    responses=declare(201),
)
def create_endpoint(
    body: WebhookEndpointIn, principal: AdminScope, idempotency_key: IdempotencyKey = None
) -> Response[WebhookEndpointWithSecret]:
    result = webhook_endpoints.create_endpoint(
        db, principal.tenant_id, body, webhook_url_policy, idempotency_key=idempotency_key
    )
    return replayable(result, WebhookEndpointWithSecret)


@router.get(BASE, tags=[TAG], summary="List webhook endpoints")
def list_endpoints(
    principal: AdminScope,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> Page[WebhookEndpointOut]:
    return webhook_endpoints.list_endpoints(db, principal.tenant_id, cursor=cursor, limit=limit)


@router.get(f"{BASE}/<endpoint_id>", tags=[TAG], summary="Read a webhook endpoint")
def get_endpoint(endpoint_id: EndpointId, principal: AdminScope) -> WebhookEndpointOut:
    return webhook_endpoints.get_endpoint(db, principal.tenant_id, endpoint_id)


@router.patch(f"{BASE}/<endpoint_id>", tags=[TAG], summary="Change url, events or enabled")
def update_endpoint(
    endpoint_id: EndpointId, body: WebhookEndpointPatch, principal: AdminScope
) -> WebhookEndpointOut:
    return webhook_endpoints.update_endpoint(
        db, principal.tenant_id, endpoint_id, body, webhook_url_policy
    )


@router.delete(
    f"{BASE}/<endpoint_id>", tags=[TAG], summary="Delete a webhook endpoint", responses=declare(204)
)
def delete_endpoint(endpoint_id: EndpointId, principal: AdminScope) -> Response[None]:
    webhook_endpoints.delete_endpoint(db, principal.tenant_id, endpoint_id)
    return Response(status_code=204)


@router.post(
    f"{BASE}/<endpoint_id>/rotate-secret",
    tags=[TAG],
    summary="New secret; the old one keeps signing beside it for 24 h",
)
def rotate_secret(endpoint_id: EndpointId, principal: AdminScope) -> WebhookEndpointWithSecret:
    return webhook_endpoints.rotate_secret(db, principal.tenant_id, endpoint_id)


@router.post(
    f"{BASE}/<endpoint_id>/test",
    tags=[TAG],
    summary="Send a webhook.test event",
    responses=declare(202, 409),
)
def send_test(endpoint_id: EndpointId, principal: AdminScope) -> Response[TestMessageSent]:
    sent = webhook_endpoints.send_test(db, principal.tenant_id, endpoint_id, webhook_events_queue)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=sent)


@router.get(f"{BASE}/<endpoint_id>/attempts", tags=[TAG], summary="The attempt log, newest first")
def list_attempts(
    endpoint_id: EndpointId,
    principal: AdminScope,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> Page[WebhookAttemptOut]:
    return webhook_endpoints.list_attempts(
        db, principal.tenant_id, endpoint_id, cursor=cursor, limit=limit
    )


@router.post(
    f"{BASE}/<endpoint_id>/replay",
    tags=[TAG],
    summary="Send again the messages of a time range",
    responses=declare(202, 409),
)
def replay(
    endpoint_id: EndpointId, body: ReplayRequest, principal: AdminScope
) -> Response[ReplayAccepted]:
    accepted = webhook_endpoints.replay(
        db, principal.tenant_id, endpoint_id, body, webhook_events_queue
    )
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=accepted)


@router.get(
    "/v1/webhook-channel/secret", tags=[TAG], summary="The secret that signs the webhook channel"
)
def channel_secret(principal: AdminScope) -> ChannelSecretOut:
    return ChannelSecretOut(secret=webhook_endpoints.channel_secret(db, principal.tenant_id))
