"""The in-app inbox: `/v1/users/{user_id}/inbox` for the tenant's servers (API key),
`/v1/me/inbox` for the user's browser (inbox token), the token itself, and the widget.

Both families call the same service functions; they differ in how the (tenant, user) pair
is found: from the key and the path, or from the token alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.request import Request
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from herald.models.common import Page
from herald.models.inbox import (
    ChangedCount,
    InboxAction,
    InboxCounts,
    InboxItemOut,
    InboxRealtimeInfo,
    InboxSettings,
    InboxStatus,
    InboxToken,
    SnoozeRequest,
)
from herald.services import inbox, inbox_widget
from herald.services.auth import Principal
from herald.services.inbox import InboxUser

from functions.api.contract import declare
from functions.api.dependencies import NO_API_KEY, db, inbox_ports, link_key, scope, settings

router = APIGatewayHttpRouter()

SERVER_TAG = "In-app inbox"
BROWSER_TAG = "In-app inbox (browser)"
ReadScope = Annotated[Principal, Depends(scope("read"))]
UsersScope = Annotated[Principal, Depends(scope("users"))]
AdminScope = Annotated[Principal, Depends(scope("admin"))]
UserId = Annotated[str, Path(min_length=1, max_length=255, description="Your own id for the user")]
ItemId = Annotated[str, Path(min_length=1, max_length=64, description="An inbox item id (inb_…)")]
Action = Annotated[InboxAction, Path(description="read, unread, seen, archive or unarchive")]
Status = Annotated[
    InboxStatus | None,
    Query(description="Without it: the inbox as shown (not archived, snoozed or expired)"),
]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=200)]
# A user token's only possible refusal besides 401: an origin the tenant does not allow.
BROWSER_SECURITY: list[dict[str, list[str]]] = [{"inboxToken": []}]


def _user(principal: Principal, user_id: str) -> InboxUser:
    return inbox.inbox_user(principal.tenant_id, unquote(user_id))


def me(request: Request) -> InboxUser:
    """The user an inbox token names, calling from an origin their tenant allows."""
    user = inbox.authenticate_token(
        link_key(), inbox.bearer_token(request.headers.get("authorization")), now=_now()
    )
    inbox.check_origin(db, user, request.headers.get("origin"))
    return user


Me = Annotated[InboxUser, Depends(me)]


def _now() -> datetime:
    return datetime.now(UTC)


# -- the tenant's servers ----------------------------------------------------------------


@router.get("/v1/users/<user_id>/inbox/count", tags=[SERVER_TAG], summary="A user's counts")
def server_counts(user_id: UserId, principal: ReadScope) -> InboxCounts:
    return inbox.get_counts(db, _user(principal, user_id))


@router.get("/v1/users/<user_id>/inbox", tags=[SERVER_TAG], summary="A user's inbox items")
def server_list(
    user_id: UserId,
    principal: ReadScope,
    status: Status = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[InboxItemOut]:
    user = _user(principal, user_id)
    return inbox.list_items(db, user, status=status, limit=limit, cursor=cursor)


@router.post(
    "/v1/users/<user_id>/inbox/read-all", tags=[SERVER_TAG], summary="Read every item shown"
)
def server_read_all(user_id: UserId, principal: UsersScope) -> ChangedCount:
    return inbox.change_all(db, inbox_ports, _user(principal, user_id), "read")


@router.post(
    "/v1/users/<user_id>/inbox/seen-all", tags=[SERVER_TAG], summary="See every item shown"
)
def server_seen_all(user_id: UserId, principal: UsersScope) -> ChangedCount:
    return inbox.change_all(db, inbox_ports, _user(principal, user_id), "seen")


@router.post(
    "/v1/users/<user_id>/inbox/<item_id>/snooze",
    tags=[SERVER_TAG],
    summary="Hide an item until a time (at most 90 days); it comes back unread",
    responses=declare(200, 422),
)
def server_snooze(
    user_id: UserId, item_id: ItemId, body: SnoozeRequest, principal: UsersScope
) -> InboxItemOut:
    user = _user(principal, user_id)
    return inbox.change_item(db, inbox_ports, user, item_id, "snooze", until=body.until)


@router.post(
    "/v1/users/<user_id>/inbox/<item_id>/<action>",
    tags=[SERVER_TAG],
    summary="Read, unread, see, archive or unarchive an item",
)
def server_change(
    user_id: UserId, item_id: ItemId, action: Action, principal: UsersScope
) -> InboxItemOut:
    return inbox.change_item(db, inbox_ports, _user(principal, user_id), item_id, action)


@router.delete(
    "/v1/users/<user_id>/inbox/<item_id>",
    tags=[SERVER_TAG],
    summary="Delete an item",
    responses=declare(204),
)
def server_delete(user_id: UserId, item_id: ItemId, principal: UsersScope) -> Response[None]:
    inbox.delete_item(db, inbox_ports, _user(principal, user_id), item_id)
    return Response(status_code=204)


@router.post(
    "/v1/users/<user_id>/inbox-token",
    tags=[SERVER_TAG],
    summary="A signed token for this user's inbox in a browser (valid 12 hours)",
)
def inbox_token(user_id: UserId, principal: UsersScope) -> InboxToken:
    return inbox.issue_inbox_token(link_key(), _user(principal, user_id), now=_now())


@router.get("/v1/inbox/settings", tags=[SERVER_TAG], summary="Where browsers may use the inbox")
def get_settings(principal: AdminScope) -> InboxSettings:
    return inbox.get_settings(db, principal.tenant_id)


@router.put(
    "/v1/inbox/settings", tags=[SERVER_TAG], summary="Set the origins browsers may use it from"
)
def put_settings(body: InboxSettings, principal: AdminScope) -> InboxSettings:
    return inbox.put_settings(db, principal.tenant_id, body)


# -- the user's browser ------------------------------------------------------------------


@router.get(
    "/v1/me/inbox/count", tags=[BROWSER_TAG], summary="My counts", security=BROWSER_SECURITY
)
def me_counts(user: Me) -> InboxCounts:
    return inbox.get_counts(db, user)


@router.get(
    "/v1/me/inbox/realtime",
    tags=[BROWSER_TAG],
    summary="Where to open the realtime WebSocket (null when not deployed)",
    security=BROWSER_SECURITY,
)
def me_realtime(user: Me) -> InboxRealtimeInfo:
    return InboxRealtimeInfo(url=settings.websocket_url)


@router.get("/v1/me/inbox", tags=[BROWSER_TAG], summary="My items", security=BROWSER_SECURITY)
def me_list(
    user: Me, status: Status = None, limit: Limit = 50, cursor: Cursor = None
) -> Page[InboxItemOut]:
    return inbox.list_items(db, user, status=status, limit=limit, cursor=cursor)


@router.post(
    "/v1/me/inbox/read-all", tags=[BROWSER_TAG], summary="Read all", security=BROWSER_SECURITY
)
def me_read_all(user: Me) -> ChangedCount:
    return inbox.change_all(db, inbox_ports, user, "read")


@router.post(
    "/v1/me/inbox/seen-all", tags=[BROWSER_TAG], summary="See all", security=BROWSER_SECURITY
)
def me_seen_all(user: Me) -> ChangedCount:
    return inbox.change_all(db, inbox_ports, user, "seen")


@router.post(
    "/v1/me/inbox/<item_id>/snooze",
    tags=[BROWSER_TAG],
    summary="Snooze one of my items",
    security=BROWSER_SECURITY,
    responses=declare(200, 422),
)
def me_snooze(item_id: ItemId, body: SnoozeRequest, user: Me) -> InboxItemOut:
    return inbox.change_item(db, inbox_ports, user, item_id, "snooze", until=body.until)


@router.post(
    "/v1/me/inbox/<item_id>/<action>",
    tags=[BROWSER_TAG],
    summary="Read, unread, see, archive or unarchive one of my items",
    security=BROWSER_SECURITY,
)
def me_change(item_id: ItemId, action: Action, user: Me) -> InboxItemOut:
    return inbox.change_item(db, inbox_ports, user, item_id, action)


@router.delete(
    "/v1/me/inbox/<item_id>",
    tags=[BROWSER_TAG],
    summary="Delete one of my items",
    security=BROWSER_SECURITY,
    responses=declare(204),
)
def me_delete(item_id: ItemId, user: Me) -> Response[None]:
    inbox.delete_item(db, inbox_ports, user, item_id)
    return Response(status_code=204)


@router.get(
    "/v1/inbox/widget.js",
    tags=[BROWSER_TAG],
    summary="The <herald-inbox> web component",
    security=NO_API_KEY,
    responses={
        200: {
            "description": "The script (a strong ETag; cached 5 minutes)",
            "content": {"text/javascript": {"schema": {"type": "string"}}},
        },
        304: {"description": "Not modified (If-None-Match)"},
    },
)
def widget(request: Request) -> Response[str]:
    script = inbox_widget.script()
    headers = {"ETag": script.etag, "Cache-Control": inbox_widget.CACHE_CONTROL}
    if script.etag in (request.headers.get("if-none-match") or ""):
        return Response(status_code=304, headers=headers, body="")
    return Response(
        status_code=200,
        content_type=inbox_widget.CONTENT_TYPE,
        body=script.text,
        headers=headers,
    )
