"""CORS for the browser routes (`/v1/me/...`) only: the rest of the API is for servers.

A preflight carries no credentials, so it cannot tell the tenant: it is answered for any
origin, and the tenant's list is enforced on the request itself, which a page of another
origin cannot make without being refused (403, nothing changed). Responses echo the
page's origin, except that refusal, so the browser hides it from the page too.
"""

from __future__ import annotations

from typing import Any

BROWSER_PREFIX = "/v1/me/"
PREFLIGHT_MAX_AGE_SECONDS = 600


def _origin(event: dict[str, Any]) -> str | None:
    if not str(event.get("rawPath", "")).startswith(BROWSER_PREFIX):
        return None
    headers = event.get("headers") or {}
    return next((v for k, v in headers.items() if k.lower() == "origin"), None)


def preflight(event: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to a CORS preflight of a browser route; None for any other request."""
    method = event.get("requestContext", {}).get("http", {}).get("method")
    origin = _origin(event)
    if method != "OPTIONS" or origin is None:
        return None
    return {
        "statusCode": 204,
        "headers": {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "GET, POST, DELETE",
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
            "Vary": "Origin",
        },
        "body": "",
        "isBase64Encoded": False,
    }


def with_cors(event: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """Let the page read a browser route's response (not a 403: the refused origin)."""
    origin = _origin(event)
    if origin is not None and response.get("statusCode") != 403:
        headers = response.setdefault("headers", {})
        headers["Access-Control-Allow-Origin"] = origin
        headers["Vary"] = "Origin"
    return response
