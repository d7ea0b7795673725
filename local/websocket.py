"""API Gateway WebSocket API on loopback, for the inbox's realtime updates.

Browsers connect with `websockets` (the library) as they would to API Gateway: the opening
handshake becomes a `$connect` event for the real realtime handler (which may refuse it with a
non-2xx status), a close becomes `$disconnect`. Functions push messages through the same
management API API Gateway has (`POST /@connections/{id}`, `DELETE`, `GET`), served on a
second loopback port, so boto3's `apigatewaymanagementapi` client talks to it unchanged and
an unknown connection answers `410 GoneException` as in AWS.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import threading
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from local.http import DevRequest, DevResponse, LocalHttpServer
from local.lambda_context import DEFAULT_ACCOUNT_ID, LocalFunction

logger = logging.getLogger(__name__)

CONNECTIONS_PATH = "/@connections/"
STAGE = "local"


class WebSocketGateway:
    """A WebSocket API with `$connect` and `$disconnect` routes, and its management API."""

    def __init__(self, host: str, port: int, management_port: int, function: LocalFunction) -> None:
        self._host = host
        self._port = port
        self._function = function
        self._connections: dict[str, ServerConnection] = {}
        self._ids: dict[ServerConnection, str] = {}
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._management = LocalHttpServer(host, management_port, self._manage)

    @property
    def url(self) -> str:
        """What browsers connect to, e.g. `ws://127.0.0.1:8001`."""
        return f"ws://{self._host}:{self._port}"

    @property
    def management_url(self) -> str:
        """The endpoint of the management API (`HERALD_WEBSOCKET_MANAGEMENT_URL`)."""
        return self._management.url

    @classmethod
    def started(
        cls, host: str, port: int, management_port: int, realtime_handler: Any
    ) -> WebSocketGateway:
        """The gateway of the inbox's realtime function (`functions.realtime.handler`),
        started."""
        gateway = cls(host, port, management_port, LocalFunction("realtime", realtime_handler, 10))
        gateway.start()
        return gateway

    def start(self) -> None:
        self._management.start()
        self._thread = threading.Thread(target=self._run, daemon=True, name="websocket")
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the WebSocket server did not start")

    def stop(self) -> None:
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._management.stop()

    # -- the WebSocket side -----------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        async with serve(
            self._connected,
            self._host,
            self._port,
            process_request=self._handshake,
            # API Gateway closes idle connections after 10 minutes and pings nobody; browsers
            # answer pings anyway, so keep the library's keepalive for dead-peer detection.
            max_size=128 * 1024,
        ) as server:
            self._server = server
            self._ready.set()
            await server.wait_closed()

    async def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        """Run `$connect`; a non-2xx answer refuses the connection with that status."""
        connection_id = _connection_id()
        event = _event("$connect", "CONNECT", connection_id, request, self._port)
        try:
            result = await self._loop.run_in_executor(None, self._function.invoke, event)
        except Exception:
            logger.exception("$connect failed")
            return connection.respond(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error")
        status = int(result.get("statusCode", 200)) if isinstance(result, dict) else 200
        if not 200 <= status < 300:
            return connection.respond(status, str(result.get("body") or "Forbidden"))
        self._ids[connection] = connection_id
        self._connections[connection_id] = connection
        return None

    async def _connected(self, connection: ServerConnection) -> None:
        connection_id = self._ids[connection]
        try:
            # Clients send nothing Herald routes; reading keeps the connection open.
            async for _ in connection:
                pass
        except ConnectionClosed:
            pass
        finally:
            self._connections.pop(connection_id, None)
            self._ids.pop(connection, None)
            assert connection.request is not None
            event = _event("$disconnect", "DISCONNECT", connection_id, connection.request, 0)
            try:
                await self._loop.run_in_executor(None, self._function.invoke, event)
            except Exception:
                logger.exception("$disconnect failed")

    # -- the management API -----------------------------------------------------------------

    def _manage(self, request: DevRequest) -> DevResponse:
        if not request.path.startswith(CONNECTIONS_PATH):
            return DevResponse(404, {"message": "Not Found"})
        connection_id = unquote(request.path.removeprefix(CONNECTIONS_PATH))
        connection = self._connections.get(connection_id)
        if connection is None:
            return DevResponse(410, {"message": None}, {"x-amzn-errortype": "GoneException"})
        if request.method == "POST":
            text = request.body.decode("utf-8", errors="replace")
            return self._await(connection.send(text))
        if request.method == "DELETE":
            return self._await(connection.close())
        if request.method == "GET":
            return DevResponse(200, {"connectionId": connection_id})
        return DevResponse(405, {"message": "Method Not Allowed"})

    def _await(self, coroutine: Any) -> DevResponse:
        try:
            asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=5)
        except ConnectionClosed:
            return DevResponse(410, {"message": None}, {"x-amzn-errortype": "GoneException"})
        return DevResponse(200, b"")


def _connection_id() -> str:
    # API Gateway's connection ids look like "L0SM9cOFvHcCIhw=".
    return base64.b64encode(secrets.token_bytes(10)).decode("ascii")


def _event(
    route: str, event_type: str, connection_id: str, request: Request, port: int
) -> dict[str, Any]:
    """The event API Gateway sends a WebSocket route's Lambda integration."""
    now = datetime.now(UTC)
    split = urlsplit(request.path)
    event: dict[str, Any] = {
        "headers": {name: value for name, value in request.headers.raw_items()},
        "requestContext": {
            "routeKey": route,
            "eventType": event_type,
            "connectionId": connection_id,
            "stage": STAGE,
            "apiId": "local-ws",
            "accountId": DEFAULT_ACCOUNT_ID,
            "domainName": f"127.0.0.1:{port}" if port else "127.0.0.1",
            "requestId": _connection_id(),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "connectedAt": int(now.timestamp() * 1000),
            "messageDirection": "IN",
        },
        "isBase64Encoded": False,
    }
    query = dict(parse_qsl(split.query, keep_blank_values=True))
    if query and route == "$connect":
        event["queryStringParameters"] = query
    return event
