"""/v1/templates: versioned, localized content (scope templates)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from herald.errors import InvalidRequest
from herald.locales import normalize_locale
from herald.models.common import INT4_MAX, Page
from herald.models.templates import (
    CreateTemplateRequest,
    PreviewOut,
    PreviewRequest,
    TemplateOut,
    TemplateStatus,
    TemplateSummary,
    TemplateVersionIn,
    TemplateVersionSummary,
)
from herald.services import templates
from herald.services.auth import Principal

from functions.api.contract import declare
from functions.api.dependencies import IdempotencyKey, db, replayable, scope

router = APIGatewayHttpRouter()

TemplatesScope = Annotated[Principal, Depends(scope("templates"))]
Key = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_.-]{0,127}$")]
TAG = "Templates"


@router.post(
    "/v1/templates",
    tags=[TAG],
    summary="Create a template (version 1)",
    responses=declare(201, 409),
)
def create_template(
    body: CreateTemplateRequest,
    principal: TemplatesScope,
    idempotency_key: IdempotencyKey = None,
) -> Response[TemplateOut]:
    result = templates.create_template(
        db, principal.tenant_id, body, idempotency_key=idempotency_key
    )
    return replayable(result, TemplateOut)


@router.get("/v1/templates", tags=[TAG], summary="List templates")
def list_templates(
    principal: TemplatesScope,
    status: Annotated[TemplateStatus, Query()] = "active",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Page[TemplateSummary]:
    return templates.list_templates(
        db, principal.tenant_id, status=status, cursor=cursor, limit=limit
    )


@router.get(
    "/v1/templates/<key>",
    tags=[TAG],
    summary="A template: the active version, or ?version=; with ?locale=, that locale's content",
)
def get_template(
    key: Key,
    principal: TemplatesScope,
    version: Annotated[int | None, Query(ge=1, le=INT4_MAX)] = None,
    locale: Annotated[str | None, Query(max_length=35)] = None,
) -> TemplateOut:
    return templates.get_template(
        db, principal.tenant_id, key, version=version, locale=_locale(locale)
    )


@router.put("/v1/templates/<key>", tags=[TAG], summary="Save a new version and make it active")
def update_template(key: Key, body: TemplateVersionIn, principal: TemplatesScope) -> TemplateOut:
    return templates.update_template(db, principal.tenant_id, key, body)


@router.delete(
    "/v1/templates/<key>",
    tags=[TAG],
    summary="Archive a template: sends by its key are refused",
    responses=declare(204),
)
def archive_template(key: Key, principal: TemplatesScope) -> Response[None]:
    templates.archive_template(db, principal.tenant_id, key)
    return Response(status_code=204)


@router.get("/v1/templates/<key>/versions", tags=[TAG], summary="Every version, newest first")
def list_versions(
    key: Key,
    principal: TemplatesScope,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[TemplateVersionSummary]:
    return templates.list_versions(db, principal.tenant_id, key, cursor=cursor, limit=limit)


@router.post(
    "/v1/templates/<key>/versions/<version>/activate",
    tags=[TAG],
    summary="Make a version the one sends use (roll back or forward)",
)
def activate_version(
    key: Key, version: Annotated[int, Path(ge=1, le=INT4_MAX)], principal: TemplatesScope
) -> TemplateOut:
    return templates.activate_version(db, principal.tenant_id, key, version)


@router.post(
    "/v1/templates/<key>/preview",
    tags=[TAG],
    summary="Render one channel for given variables and locale",
    responses=declare(200, 422),
)
def preview_template(key: Key, body: PreviewRequest, principal: TemplatesScope) -> PreviewOut:
    return templates.preview(db, principal.tenant_id, key, body)


def _locale(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return normalize_locale(value)
    except ValueError as exc:
        raise InvalidRequest(str(exc), [{"field": "locale", "message": str(exc)}]) from exc
