"""/v1/dead-letters: what the queues gave up on, and redriving it (scope admin)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from herald.models.dead_letters import DeadLettersOut, RedriveIn, RedriveOut
from herald.services import dead_letters
from herald.services.auth import Principal

from functions.api.contract import declare
from functions.api.dependencies import dead_letter_queues, scope

router = APIGatewayHttpRouter()

AdminScope = Annotated[Principal, Depends(scope("admin"))]
TAG = "Operations"


@router.get("/v1/dead-letters", tags=[TAG], summary="Each queue's dead letters")
def list_dead_letters(principal: AdminScope) -> DeadLettersOut:
    return dead_letters.list_dead_letters(dead_letter_queues, principal.tenant_id)


@router.post(
    "/v1/dead-letters/redrive",
    tags=[TAG],
    summary="Move a queue's dead letters back to it",
    responses=declare(202, 422),
)
def redrive(body: RedriveIn, principal: AdminScope) -> Response[RedriveOut]:
    result = dead_letters.redrive(dead_letter_queues, body)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=result)
