"""Health and the OpenAPI document (no auth)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions.api.dependencies import NO_API_KEY, db

router = APIGatewayHttpRouter()


@router.get(
    "/v1/health",
    tags=["Operations"],
    summary="Liveness and database reachability",
    security=NO_API_KEY,
)
def health() -> dict[str, Any]:
    db.connection().execute("SELECT 1")
    return {"status": "ok", "database": "ok"}
