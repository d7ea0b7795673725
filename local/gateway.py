"""API Gateway HTTP API (payload format 2.0) in front of the real Lambda handlers.

Requests become the events API Gateway sends and handler results become HTTP responses by the
same rules, so a handler that works here works behind API Gateway. `/_dev/...` paths exist only
locally and are served in-process by `DevRoute` callables.

The loopback HTTP plumbing (`LocalHttpServer`, `DevRequest`, `DevResponse`) is shared with the
provider simulator.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local.lambda_context import DEFAULT_ACCOUNT_ID, LocalFunction

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
# The only media types HTTP APIs pass as text; every other body (even form posts and bodies
# without a Content-Type) reaches Lambda base64-encoded.
TEXT_MEDIA_TYPES = frozenset({"application/json", "application/xml", "application/javascript"})


@dataclass(frozen=True)
class DevRequest:
    """An HTTP request as the local servers see it; repeated headers and params comma-joined."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    raw_query: str = ""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"


@dataclass(frozen=True)
class DevResponse:
    """An HTTP response; dict and list bodies are sent as JSON, each cookie as a Set-Cookie."""

    status: int
    body: bytes | str | dict[str, Any] | list[Any]
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)


DevRoute = Callable[[DevRequest], DevResponse]
App = Callable[[DevRequest], DevResponse]


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
                    return _INTERNAL_ERROR
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


_INTERNAL_ERROR = DevResponse(500, {"message": "Internal Server Error"})


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
        return _INTERNAL_ERROR
    if result.get("multiValueHeaders"):
        logger.warning("payload format 2.0 ignores multiValueHeaders; use headers and cookies")
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    raw_body = result.get("body") or ""
    if not isinstance(raw_body, str):
        logger.error("handler returned a non-string body: %r", type(raw_body))
        return _INTERNAL_ERROR
    body: bytes | str = base64.b64decode(raw_body) if result.get("isBase64Encoded") else raw_body
    cookies = [str(c) for c in result.get("cookies") or []]
    return DevResponse(status, body, headers, cookies)


def _apigw_request_id() -> str:
    # The shape API Gateway uses, e.g. "JKJaXmPLvHcESHA=".
    return base64.b64encode(secrets.token_bytes(10)).decode("ascii")


class _RequestTooLarge(Exception):
    pass


class _Server(ThreadingHTTPServer):
    # The standard library listens with a backlog of 5: concurrent clients (a worker's
    # parallel sends, a load test) would see connection resets no real service gives.
    request_queue_size = 128


class LocalHttpServer:
    """A loopback HTTP/1.1 server in a daemon thread, handing every request to `app`."""

    def __init__(
        self, host: str, port: int, app: App, *, max_body_bytes: int = MAX_REQUEST_BYTES
    ) -> None:
        self._address = (host, port)
        self._app = app
        self._max_body_bytes = max_body_bytes
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port; only known after `start()` when 0 was asked for."""
        if self._httpd is None:
            return self._address[1]
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL without a trailing slash."""
        return f"http://{self._address[0]}:{self.port}"

    def start(self) -> None:
        """Bind and serve in a daemon thread."""
        handler = type(
            "Handler",
            (_Handler,),
            {"app": staticmethod(self._app), "max_body_bytes": self._max_body_bytes},
        )
        self._httpd = _Server(self._address, handler)
        self._httpd.daemon_threads = True
        # A short poll interval only makes stop() quick; requests don't wait on it.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), daemon=True, name=f"http-{self.port}"
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting requests and close the socket."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients pooling connections expect
    app: App
    max_body_bytes: int

    def _handle(self) -> None:
        started = time.monotonic()
        try:
            body = self._read_body()
        except _RequestTooLarge:
            self.close_connection = True  # the unread body is still on the socket
            self._write(DevResponse(413, {"message": "Request Entity Too Large"}))
            return
        split = urlsplit(self.path)
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        query: dict[str, str] = {}
        for name, value in parse_qsl(split.query, keep_blank_values=True):
            query[name] = f"{query[name]},{value}" if name in query else value
        request = DevRequest(
            self.command,
            split.path,
            query,
            headers,
            body,
            split.query,
            self.client_address[0],
            self.request_version,
        )
        try:
            response = self.app(request)
        except Exception:
            logger.exception("unhandled error on %s %s", self.command, split.path)
            response = _INTERNAL_ERROR
        self._write(response)
        logger.debug(
            "%s %s -> %d in %.0f ms",
            self.command,
            self.path,
            response.status,
            (time.monotonic() - started) * 1000,
        )

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("content-length") or 0)
        if length > self.max_body_bytes:
            raise _RequestTooLarge
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            total += size
            if total > self.max_body_bytes:
                raise _RequestTooLarge
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after each chunk
        while self.rfile.readline().strip():  # trailers, up to the blank line
            pass
        return b"".join(chunks)

    def _write(self, response: DevResponse) -> None:
        headers = dict(response.headers)
        if isinstance(response.body, dict | list):
            body = json.dumps(response.body).encode()
            if not any(k.lower() == "content-type" for k in headers):
                headers["content-type"] = "application/json"
        else:
            body = response.body.encode() if isinstance(response.body, str) else response.body
        self.send_response(response.status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        for cookie in response.cookies:
            self.send_header("set-cookie", cookie)
        self.send_header("content-length", str(len(body)))
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Access logs go through logging (debug) instead of raw stderr lines.
        logger.debug(format, *args)
