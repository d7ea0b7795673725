"""POST/GET /v1/batches: sends to up to 50,000 recipients, their recipients, start, cancel."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from herald.models.batches import (
    AddRecipientsRequest,
    BatchAccepted,
    BatchOut,
    BatchRecipientOut,
    CreateBatchRequest,
)
from herald.models.common import DeliveryStatus, Page
from herald.services import batches
from herald.services.auth import Principal

from functions.api.contract import declare
from functions.api.dependencies import IdempotencyKey, batch_ports, db, replayable, scope

router = APIGatewayHttpRouter()


@router.post(
    "/v1/batches",
    tags=["Batches"],
    summary="Create a batch (and start it, unless `start` is false)",
    responses=declare(202, 422),
)
def create_batch(
    body: CreateBatchRequest,
    principal: Annotated[Principal, Depends(scope("send"))],
    idempotency_key: IdempotencyKey = None,
) -> Response[BatchAccepted]:
    result = batches.create_batch(
        db, batch_ports, principal.tenant_id, body, idempotency_key=idempotency_key
    )
    return replayable(result, BatchAccepted)


@router.post(
    "/v1/batches/<batch_id>/recipients",
    tags=["Batches"],
    summary="Add up to 10,000 recipients to an open batch",
    responses=declare(202, 409, 422),
)
def add_recipients(
    batch_id: Annotated[str, Path(max_length=64)],
    body: AddRecipientsRequest,
    principal: Annotated[Principal, Depends(scope("send"))],
    idempotency_key: IdempotencyKey = None,
) -> Response[BatchAccepted]:
    result = batches.add_recipients(
        db, principal.tenant_id, batch_id, body, idempotency_key=idempotency_key
    )
    return replayable(result, BatchAccepted)


@router.post(
    "/v1/batches/<batch_id>/start",
    tags=["Batches"],
    summary="Start an open batch",
    responses=declare(202, 409, 422),
)
def start_batch(
    batch_id: Annotated[str, Path(max_length=64)],
    principal: Annotated[Principal, Depends(scope("send"))],
) -> Response[BatchAccepted]:
    accepted = batches.start_batch(db, batch_ports, principal.tenant_id, batch_id)
    return Response(status_code=202, content_type="application/json", body=accepted)


@router.get(
    "/v1/batches/<batch_id>",
    tags=["Batches"],
    summary="A batch with its deliveries' counts per status",
)
def get_batch(
    batch_id: Annotated[str, Path(max_length=64)],
    principal: Annotated[Principal, Depends(scope("read"))],
) -> BatchOut:
    return batches.get_batch(db, principal.tenant_id, batch_id)


@router.get(
    "/v1/batches/<batch_id>/recipients",
    tags=["Batches"],
    summary="A batch's recipients with their deliveries",
)
def list_recipients(
    batch_id: Annotated[str, Path(max_length=64)],
    principal: Annotated[Principal, Depends(scope("read"))],
    status: Annotated[DeliveryStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[BatchRecipientOut]:
    return batches.list_recipients(
        db, principal.tenant_id, batch_id, status=status, cursor=cursor, limit=limit
    )


@router.post(
    "/v1/batches/<batch_id>/cancel",
    tags=["Batches"],
    summary="Cancel what a batch has not sent yet",
    responses=declare(200, 409),
)
def cancel_batch(
    batch_id: Annotated[str, Path(max_length=64)],
    principal: Annotated[Principal, Depends(scope("send"))],
) -> BatchAccepted:
    return batches.cancel_batch(db, principal.tenant_id, batch_id)
