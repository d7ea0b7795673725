"""/v1/suppressions: addresses Herald does not send to (scope admin)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from herald.models.common import Page
from herald.models.suppressions import SuppressionIn, SuppressionOut
from herald.services import suppressions
from herald.services.auth import Principal

from functions.api.contract import declare
from functions.api.dependencies import IdempotencyKey, db, replayable, scope

router = APIGatewayHttpRouter()

AdminScope = Annotated[Principal, Depends(scope("admin"))]
TAG = "Suppressions"


@router.get("/v1/suppressions", tags=[TAG], summary="List suppressed addresses")
def list_suppressions(
    principal: AdminScope,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> Page[SuppressionOut]:
    return suppressions.list_suppressions(db, principal.tenant_id, cursor=cursor, limit=limit)


@router.post(
    "/v1/suppressions",
    tags=[TAG],
    summary="Stop sending to an address",
    responses=declare(201, 409),
)
def add_suppression(
    body: SuppressionIn, principal: AdminScope, idempotency_key: IdempotencyKey = None
) -> Response[SuppressionOut]:
    result = suppressions.add_suppression(
        db, principal.tenant_id, body, idempotency_key=idempotency_key
    )
    return replayable(result, SuppressionOut)


@router.delete(
    "/v1/suppressions/<address>",
    tags=[TAG],
    summary="Send to a suppressed address again",
    responses=declare(204),
)
def remove_suppression(
    address: Annotated[str, Path(max_length=1000, description="Email, or E.164 phone")],
    principal: AdminScope,
) -> Response[None]:
    suppressions.remove_suppression(db, principal.tenant_id, unquote(address))
    return Response(status_code=204)
