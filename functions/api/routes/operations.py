"""Health and the OpenAPI document (no auth)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from herald.services.circuits import breaker_policy, default_states

from functions.api.dependencies import NO_API_KEY, db, settings

router = APIGatewayHttpRouter()


@router.get(
    "/v1/health",
    tags=["Operations"],
    summary="Liveness, database reachability, and the deployment's provider accounts",
    description="`default_accounts`: per channel, the circuit breaker of the deployment's own "
    "provider account (what tenants without an integration of the channel send through): "
    "`closed`, `open` (deliveries wait, reason `provider_unavailable`) or `half_open`.",
    security=NO_API_KEY,
)
def health() -> dict[str, Any]:
    conn = db.connection()
    conn.execute("SELECT 1")
    accounts = default_states(conn, breaker_policy(settings))
    return {"status": "ok", "database": "ok", "default_accounts": accounts}
