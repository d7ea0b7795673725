"""The end-user pages: unsubscribe and the preference center, as HTML.

No API key: the signed token in the link is the credential. Errors are HTML pages too,
with the status the API maps each domain error to.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from herald.errors import HeraldError
from herald.pages import render_error
from herald.services import end_user_pages

from functions.api.dependencies import NO_API_KEY, db, link_key
from functions.api.errors import status_for

router = APIGatewayHttpRouter()

TAG = "End-user pages"
HTML = "text/html; charset=utf-8"
# The token is a credential in the URL: keep it out of caches and other sites' frames.
HTML_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}
Token = Annotated[str | None, Query(description="The signed token from the link")]


def _form(**fields: dict[str, Any]) -> dict[str, Any]:
    """The operation's request body: an HTML form post (Powertools takes it as an extension)."""
    schema = {"type": "object", "properties": fields}
    return {"requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": schema}}}}


def _html_responses(success: str) -> dict[int, OpenAPIResponse]:
    def html(description: str) -> OpenAPIResponse:
        return {
            "description": description,
            "content": {"text/html": {"schema": {"type": "string"}}},
        }

    return {
        200: html(success),
        400: html("The form could not be used"),
        401: html("A forged, expired or malformed link"),
        404: html("The user is gone"),
    }


def _page(render: Callable[[], str]) -> Response[str]:
    try:
        status, body = 200, render()
    except HeraldError as exc:
        status = status_for(exc)
        body = render_error(exc.message, status)
    return Response(status_code=status, content_type=HTML, body=body, headers=HTML_HEADERS)


def _now() -> datetime:
    return datetime.now(UTC)


def _form_body() -> str:
    # Bytes that are not UTF-8 cannot name a channel or category: replaced, they match none.
    event = router.current_event
    body = event.body or ""
    raw = base64.b64decode(body) if event.is_base64_encoded else body.encode()
    return raw.decode("utf-8", "replace")


@router.get(
    "/v1/unsubscribe",
    tags=[TAG],
    summary="Unsubscribe page: explains and asks; changes nothing",
    security=NO_API_KEY,
    responses=_html_responses("The confirmation page"),
)
def unsubscribe_confirmation(token: Token = None) -> Response[str]:
    return _page(lambda: end_user_pages.unsubscribe_confirmation(link_key(), token, now=_now()))


@router.post(
    "/v1/unsubscribe",
    tags=[TAG],
    summary="Unsubscribe (RFC 8058 one-click: body `List-Unsubscribe=One-Click`)",
    security=NO_API_KEY,
    responses=_html_responses("Unsubscribed (again, on a repeat)"),
    openapi_extensions=_form(**{"List-Unsubscribe": {"type": "string", "enum": ["One-Click"]}}),
)
def unsubscribe(token: Token = None) -> Response[str]:
    # RFC 8058 fixes the body; any body is accepted, as the token alone says what to do.
    return _page(lambda: end_user_pages.unsubscribe(db, link_key(), token, now=_now()))


@router.get(
    "/v1/preferences/page",
    tags=[TAG],
    summary="The preference center",
    security=NO_API_KEY,
    responses=_html_responses("The user's preferences, as a form"),
)
def preference_center(token: Token = None) -> Response[str]:
    return _page(lambda: end_user_pages.preference_center(db, link_key(), token, now=_now()))


@router.post(
    "/v1/preferences/page",
    tags=[TAG],
    summary="Save the preference center's form (application/x-www-form-urlencoded)",
    security=NO_API_KEY,
    responses=_html_responses("Saved; the page again"),
    openapi_extensions=_form(
        channels={"type": "array", "items": {"type": "string"}},
        categories={"type": "array", "items": {"type": "string"}},
        quiet_hours_enabled={"type": "string", "enum": ["on"]},
        quiet_hours_start={"type": "string", "description": "HH:MM"},
        quiet_hours_end={"type": "string", "description": "HH:MM"},
    ),
)
def save_preference_center(token: Token = None) -> Response[str]:
    form = _form_body()
    return _page(
        lambda: end_user_pages.save_preference_center(db, link_key(), token, form, now=_now())
    )
