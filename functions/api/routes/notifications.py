"""POST/GET /v1/notifications and cancel."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from herald.models.common import NotificationStatus, Page
from herald.models.notifications import (
    NotificationAccepted,
    NotificationOut,
    NotificationSummary,
    SendNotificationRequest,
)
from herald.services import notifications
from herald.services.auth import Principal

from functions.api.contract import declare
from functions.api.dependencies import IdempotencyKey, db, replayable, scope, send_ports, settings

router = APIGatewayHttpRouter()


@router.post(
    "/v1/notifications",
    tags=["Notifications"],
    summary="Send a notification",
    responses=declare(202, 422),
)
def send_notification(
    body: SendNotificationRequest,
    principal: Annotated[Principal, Depends(scope("send"))],
    idempotency_key: IdempotencyKey = None,
) -> Response[NotificationAccepted]:
    result = notifications.accept_notification(
        db,
        send_ports,
        principal.tenant_id,
        body,
        idempotency_key=idempotency_key,
        max_sms_segments=settings.sms_max_segments,
    )
    return replayable(result, NotificationAccepted)


@router.get("/v1/notifications", tags=["Notifications"], summary="List notifications")
def list_notifications(
    principal: Annotated[Principal, Depends(scope("read"))],
    status: Annotated[NotificationStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[NotificationSummary]:
    return notifications.list_notifications(
        db, principal.tenant_id, status=status, cursor=cursor, limit=limit
    )


@router.get(
    "/v1/notifications/<notification_id>",
    tags=["Notifications"],
    summary="A notification with its deliveries and their history",
)
def get_notification(
    notification_id: Annotated[str, Path(max_length=64)],
    principal: Annotated[Principal, Depends(scope("read"))],
) -> NotificationOut:
    return notifications.get_notification(db, principal.tenant_id, notification_id)


@router.post(
    "/v1/notifications/<notification_id>/cancel",
    tags=["Notifications"],
    summary="Cancel a notification not yet dispatched",
    responses=declare(200, 409),
)
def cancel_notification(
    notification_id: Annotated[str, Path(max_length=64)],
    principal: Annotated[Principal, Depends(scope("send"))],
) -> NotificationAccepted:
    return notifications.cancel_notification(
        db, send_ports.scheduler, principal.tenant_id, notification_id
    )
