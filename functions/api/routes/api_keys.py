"""POST/DELETE /v1/api-keys (scope admin)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from herald.models.api_keys import ApiKeyCreated, CreateApiKeyRequest
from herald.services import tenants
from herald.services.auth import Principal

from functions.api.contract import declare
from functions.api.dependencies import db, scope

router = APIGatewayHttpRouter()


@router.post(
    "/v1/api-keys",
    tags=["API keys"],
    summary="Create an API key (shown once)",
    responses=declare(201),
)
def create_api_key(
    body: CreateApiKeyRequest, principal: Annotated[Principal, Depends(scope("admin"))]
) -> Response[ApiKeyCreated]:
    created = tenants.create_api_key(db, principal.tenant_id, body.name, body.scopes)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=created)


@router.delete(
    "/v1/api-keys/<key_id>",
    tags=["API keys"],
    summary="Revoke an API key",
    responses=declare(204),
)
def revoke_api_key(
    key_id: Annotated[str, Path(max_length=64)],
    principal: Annotated[Principal, Depends(scope("admin"))],
) -> Response[None]:
    tenants.revoke_api_key(db, principal.tenant_id, key_id)
    return Response(status_code=204)
