"""GET /v1/stats."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from herald.models.common import Channel
from herald.models.stats import Granularity, StatsOut
from herald.services import stats
from herald.services.auth import Principal
from pydantic import AwareDatetime

from functions.api.contract import declare
from functions.api.dependencies import db, scope

router = APIGatewayHttpRouter()


@router.get(
    "/v1/stats",
    tags=["Stats"],
    summary="Delivery counts, rates and accept-to-sent latency per hour or day",
    responses=declare(200, 422),
)
def get_stats(  # noqa: PLR0917 - the handler takes the query parameters as Powertools binds them
    principal: Annotated[Principal, Depends(scope("read"))],
    since: Annotated[AwareDatetime | None, Query()] = None,
    until: Annotated[AwareDatetime | None, Query()] = None,
    granularity: Annotated[Granularity, Query()] = "hour",
    channel: Annotated[Channel | None, Query()] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
) -> StatsOut:
    return stats.get_stats(
        db,
        principal.tenant_id,
        since=since,
        until=until,
        granularity=granularity,
        channel=channel,
        category=category,
    )
