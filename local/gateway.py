"""API Gateway HTTP API (payload format 2.0) in front of the real Lambda handlers.

Requests become the events API Gateway sends and handler results become HTTP responses by the
same rules, so a handler that works here works behind API Gateway. `/_dev/...` paths exist only
locally and are served in-process by `DevRoute` callables.

The loopback HTTP plumbing lives in `local.http`, shared with the provider simulator.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from local.http import (
    INTERNAL_ERROR,
    MAX_REQUEST_BYTES,
    DevRequest,
    DevResponse,
    DevRoute,
    LocalHttpServer,
)
from local.lambda_context import DEFAULT_ACCOUNT_ID, LocalFunction

logger = logging.getLogger(__name__)

# The only media types HTTP APIs pass as text; every other body (even form posts and bodies
# without a Content-Type) reaches Lambda base64-encoded.
TEXT_MEDIA_TYPES = frozenset({"application/json", "application/xml", "application/javascript"})


class Gateway:
    """An API Gateway HTTP API with one `$default` route per path prefix, on loopback."""

    def __init__(
        self,
        host: str,
        port: int,
        routes: list[tuple[str, LocalFunction]],
        dev_routes: dict[str, DevRoute],
        *,
        api_id: str = "local",
        account_id: str = DEFAULT_ACCOUNT_ID,
    ) -> None:
        # Longest prefix first, so "/v1/callbacks/" wins over "/"; sorted() keeps ties in order.
        self._routes = sorted(routes, key=lambda route: len(route[0]), reverse=True)
        self._dev_routes = dev_routes
        self._api_id = api_id
        self._account_id = account_id
        self._server = LocalHttpServer(host, port, self._handle, max_body_bytes=MAX_REQUEST_BYTES)

    @property
    def port(self) -> int:
        """The bound port (after `start()`; useful with port 0)."""
        return self._server.port

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:8000`."""
        return self._server.url

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._server.start()

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.stop()

    def _handle(self, request: DevRequest) -> DevResponse:
        request_id = _apigw_request_id()
        response = self._route(request, request_id)
        return replace(response, headers={**response.headers, "apigw-requestid": request_id})

    def _route(self, request: DevRequest, request_id: str) -> DevResponse:
        if request.path == "/_dev" or request.path.startswith("/_dev/"):
            return self._dev_route(request)
        for prefix, function in self._routes:
            if request.path.startswith(prefix):
                event = build_event(request, request_id, self._api_id, self._account_id)
                try:
                    result = function.invoke(event)
                except Exception:
                    logger.exception(
                        "%s raised on %s %s", function.name, request.method, request.path
                    )
                    return INTERNAL_ERROR
                return translate_result(result)
        return DevResponse(404, {"message": "Not Found"})

    def _dev_route(self, request: DevRequest) -> DevResponse:
        """Exact path first, then the longest registered prefix ending in '/'."""
        route = self._dev_routes.get(request.path)
        if route is None:
            prefixes = [
                p for p in self._dev_routes if p.endswith("/") and request.path.startswith(p)
            ]
            if not prefixes:
                return DevResponse(404, {"message": "Not Found"})
            route = self._dev_routes[max(prefixes, key=len)]
        return route(request)  # LocalHttpServer turns an exception into a logged 500


def build_event(
    request: DevRequest,
    request_id: str,
    api_id: str = "local",
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """The payload-2.0 event API Gateway HTTP API sends for `request` on the `$default` route."""
    now = datetime.now(UTC)
    headers = {k: v for k, v in request.headers.items() if k != "cookie"}
    host = headers.get("host", "localhost").split(":")[0]
    headers.setdefault("x-forwarded-for", request.source_ip)
    headers.setdefault("x-forwarded-proto", "http")
    trace_id = f"Root=1-{int(now.timestamp()):08x}-{os.urandom(12).hex()}"
    headers.setdefault("x-amzn-trace-id", trace_id)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.path,
        "rawQueryString": request.raw_query,
        "headers": headers,
    }
    if "cookie" in request.headers:
        # A Cookie header's pairs are separated by "; ", repeated Cookie headers by ",".
        pairs = request.headers["cookie"].replace(",", ";").split(";")
        event["cookies"] = [pair.strip() for pair in pairs if pair.strip()]
    if request.query:
        event["queryStringParameters"] = dict(request.query)
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": host,
        "domainPrefix": host.split(".")[0],
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if request.body:
        if _is_text(headers.get("content-type", "")):
            try:
                event["body"] = request.body.decode("utf-8")
                event["isBase64Encoded"] = False
                return event
            except UnicodeDecodeError:
                pass
        event["body"] = base64.b64encode(request.body).decode("ascii")
        event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event


def _is_text(content_type: str) -> bool:
    media_type = content_type.split(";", maxsplit=1)[0].strip().lower()
    return media_type.startswith("text/") or media_type in TEXT_MEDIA_TYPES


def translate_result(result: Any) -> DevResponse:
    """The HTTP response API Gateway makes of a handler's result under payload format 2.0."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # Anything else is taken as the body of a 200 JSON response; strings verbatim.
        text = result if isinstance(result, str) else json.dumps(result)
        return DevResponse(200, text, {"content-type": "application/json"})
    status = result["statusCode"]
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        logger.error("handler returned an invalid statusCode: %r", status)
        return INTERNAL_ERROR
    if result.get("multiValueHeaders"):
        logger.warning("payload format 2.0 ignores multiValueHeaders; use headers and cookies")
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    raw_body = result.get("body") or ""
    if not isinstance(raw_body, str):
        logger.error("handler returned a non-string body: %r", type(raw_body))
        return INTERNAL_ERROR
    body: bytes | str = base64.b64decode(raw_body) if result.get("isBase64Encoded") else raw_body
    cookies = [str(c) for c in result.get("cookies") or []]
    return DevResponse(status, body, headers, cookies)


def _apigw_request_id() -> str:
    # The shape API Gateway uses, e.g. "JKJaXmPLvHcESHA=".
    return base64.b64encode(secrets.token_bytes(10)).decode("ascii")
