"""/v1/users/{user_id}/devices (scope users) and the VAPID public key browsers subscribe with."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from herald.aws.secrets import plain_secret
from herald.errors import InvalidRequest, NotFound
from herald.models.devices import DeviceIn, DeviceList, DeviceOut, VapidPublicKey
from herald.services import devices, integrations, vapid
from herald.services.auth import Principal

from functions.api.contract import declare
from functions.api.dependencies import NO_API_KEY, db, scope, settings

router = APIGatewayHttpRouter()

UsersScope = Annotated[Principal, Depends(scope("users"))]
UserId = Annotated[str, Path(min_length=1, max_length=255, description="Your own id for the user")]
DeviceId = Annotated[str, Path(max_length=64, description="dev_…")]
WebPushIntegrationId = Annotated[
    str | None,
    Query(
        pattern=r"^int_[0-9A-Z]{26}$",
        description="A tenant's own `web_push` integration (int_…): its key instead of the "
        "deployment's",
    ),
]
TAG = "Devices"
_DEVICE_ID = re.compile(r"dev_[0-9A-Z]{26}")


def _user_id(raw: str) -> str:
    """The path's user id, decoded; control characters (NUL among them) are refused."""
    user_id = unquote(raw)
    if not user_id or any(ord(c) < 32 for c in user_id):
        raise InvalidRequest(
            "invalid request: user_id",
            [{"field": "user_id", "message": "must not contain control characters"}],
        )
    return user_id


@router.post(
    "/v1/users/<user_id>/devices",
    tags=[TAG],
    summary="Register a push token or web push subscription (again: same device, refreshed)",
    # Both answer the device; the errors every route shares are added by the contract.
    responses={
        200: {"description": "Already registered: the same device, refreshed"},
        201: {"description": "A new device"},
    },
)
def register_device(user_id: UserId, body: DeviceIn, principal: UsersScope) -> Response[DeviceOut]:
    device, created = devices.register_device(
        db,
        principal.tenant_id,
        _user_id(user_id),
        body,
        max_per_platform=settings.max_devices_per_platform,
        plain_http_origins=settings.web_push_plain_http_origins,
    )
    return Response(
        status_code=201 if created else 200,
        content_type=content_types.APPLICATION_JSON,
        body=device,
    )


@router.get(
    "/v1/users/<user_id>/devices",
    tags=[TAG],
    summary="A user's devices, active or not",
    responses={200: {"description": "The devices, oldest first"}},
)
def list_devices(user_id: UserId, principal: UsersScope) -> DeviceList:
    return devices.list_devices(db, principal.tenant_id, _user_id(user_id))


@router.delete(
    "/v1/users/<user_id>/devices/<device_id>",
    tags=[TAG],
    summary="Forget a device",
    responses=declare(204),
)
def delete_device(user_id: UserId, device_id: DeviceId, principal: UsersScope) -> Response[None]:
    device = unquote(device_id)
    if not _DEVICE_ID.fullmatch(device):
        raise NotFound("device not found")
    devices.delete_device(db, principal.tenant_id, _user_id(user_id), device)
    return Response(status_code=204)


@router.get(
    "/v1/web-push/vapid-public-key",
    tags=[TAG],
    summary="The VAPID public key for pushManager.subscribe (no API key)",
    security=NO_API_KEY,
    # 404: `integration_id` names no web push integration.
    responses={**declare(200, 404), 200: {"description": "The key, base64url"}},
)
def vapid_public_key(integration_id: WebPushIntegrationId = None) -> VapidPublicKey:
    """The deployment's key, or with `integration_id` that of a tenant's own `web_push`
    integration (whose key then signs that tenant's pushes)."""
    if integration_id is not None:
        return VapidPublicKey(public_key=integrations.web_push_public_key(db, integration_id))
    secret = plain_secret(settings.required("vapid_secret_id"))
    return VapidPublicKey(public_key=vapid.public_key(secret))
