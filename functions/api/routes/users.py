"""/v1/users: the tenant's users, their preferences, export and erasure (scope users)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from herald.models.users import PreferenceLink, Preferences, UserExport, UserIn, UserOut
from herald.services import end_user_pages, preferences, users
from herald.services.auth import Principal

from functions.api.contract import declare
from functions.api.dependencies import db, link_key, scope, settings

router = APIGatewayHttpRouter()

UsersScope = Annotated[Principal, Depends(scope("users"))]
UserId = Annotated[str, Path(min_length=1, max_length=255, description="Your own id for the user")]
TAG = "Users"


@router.put("/v1/users/<user_id>", tags=[TAG], summary="Create or replace a user")
def put_user(user_id: UserId, body: UserIn, principal: UsersScope) -> UserOut:
    return users.put_user(db, principal.tenant_id, unquote(user_id), body)


@router.get("/v1/users/<user_id>", tags=[TAG], summary="A user")
def get_user(user_id: UserId, principal: UsersScope) -> UserOut:
    return users.get_user(db, principal.tenant_id, unquote(user_id))


@router.delete(
    "/v1/users/<user_id>",
    tags=[TAG],
    summary="Erase a user's personal data; delivery counts stay, anonymised",
    responses=declare(204),
)
def erase_user(user_id: UserId, principal: UsersScope) -> Response[None]:
    users.erase_user(db, principal.tenant_id, unquote(user_id))
    return Response(status_code=204)


@router.get(
    "/v1/users/<user_id>/export", tags=[TAG], summary="Everything Herald holds about a user"
)
def export_user(user_id: UserId, principal: UsersScope) -> UserExport:
    return users.export_user(db, principal.tenant_id, unquote(user_id))


@router.get("/v1/users/<user_id>/preferences", tags=[TAG], summary="A user's preferences")
def get_preferences(user_id: UserId, principal: UsersScope) -> Preferences:
    return preferences.get_preferences(db, principal.tenant_id, unquote(user_id))


@router.put(
    "/v1/users/<user_id>/preferences",
    tags=[TAG],
    summary="Replace a user's preferences (a channel or category not named is on)",
)
def replace_preferences(user_id: UserId, body: Preferences, principal: UsersScope) -> Preferences:
    return preferences.replace_preferences(
        db, principal.tenant_id, unquote(user_id), body, source="api"
    )


@router.post(
    "/v1/users/<user_id>/preference-link",
    tags=[TAG],
    summary="A signed link to the user's preference center (valid 30 days)",
)
def preference_link(user_id: UserId, principal: UsersScope) -> PreferenceLink:
    return end_user_pages.preference_center_link(
        db,
        link_key(),
        principal.tenant_id,
        unquote(user_id),
        base_url=settings.public_base_url,
        now=datetime.now(UTC),
    )
