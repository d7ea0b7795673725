"""/v1/integrations: a tenant's own provider accounts per channel (scope admin)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from herald.models.common import Page
from herald.models.integrations import (
    IntegrationChannel,
    IntegrationIn,
    IntegrationOut,
    IntegrationPatch,
    IntegrationTestResult,
)
from herald.services import integrations
from herald.services.auth import Principal

from functions.api.contract import declare
from functions.api.dependencies import db, integration_ports, scope

router = APIGatewayHttpRouter()

AdminScope = Annotated[Principal, Depends(scope("admin"))]
IntegrationId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,64}$", description="`int_…`")]
TAG = "Integrations"
BASE = "/v1/integrations"


@router.post(
    BASE,
    tags=[TAG],
    summary="Add a provider account (credentials are stored, never shown again)",
    responses=declare(201, 422),
)
def create_integration(body: IntegrationIn, principal: AdminScope) -> Response[IntegrationOut]:
    created = integrations.create_integration(db, principal.tenant_id, body, integration_ports)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=created)


@router.get(BASE, tags=[TAG], summary="List integrations, by channel then priority")
def list_integrations(
    principal: AdminScope, channel: Annotated[IntegrationChannel | None, Query()] = None
) -> Page[IntegrationOut]:
    return integrations.list_integrations(
        db, principal.tenant_id, channel, integration_ports.breaker
    )


@router.get(f"{BASE}/<integration_id>", tags=[TAG], summary="Read an integration")
def get_integration(integration_id: IntegrationId, principal: AdminScope) -> IntegrationOut:
    return integrations.get_integration(
        db, principal.tenant_id, integration_id, integration_ports.breaker
    )


@router.patch(
    f"{BASE}/<integration_id>",
    tags=[TAG],
    summary="Change name, priority, active, settings or credentials",
)
def update_integration(
    integration_id: IntegrationId, body: IntegrationPatch, principal: AdminScope
) -> IntegrationOut:
    return integrations.update_integration(
        db, principal.tenant_id, integration_id, body, integration_ports
    )


@router.delete(
    f"{BASE}/<integration_id>",
    tags=[TAG],
    summary="Delete an integration and its credentials",
    responses=declare(204),
)
def delete_integration(integration_id: IntegrationId, principal: AdminScope) -> Response[None]:
    integrations.delete_integration(
        db, principal.tenant_id, integration_id, integration_ports.secrets
    )
    return Response(status_code=204)


@router.post(
    f"{BASE}/<integration_id>/test",
    tags=[TAG],
    summary="One real call to the provider (sandbox or validate-only where it has one)",
)
def test_integration(integration_id: IntegrationId, principal: AdminScope) -> IntegrationTestResult:
    return integrations.test_integration(db, principal.tenant_id, integration_id, integration_ports)
