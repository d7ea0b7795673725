"""Loopback HTTP plumbing shared by the API Gateway emulator and the provider simulator."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


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


INTERNAL_ERROR = DevResponse(500, {"message": "Internal Server Error"})


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
    # Headers and body go out in two writes: with Nagle's algorithm the second waits for the
    # client's delayed ACK, adding 40 ms to every response with a body.
    disable_nagle_algorithm = True
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
            response = INTERNAL_ERROR
        self._write(response)
        logger.debug(
            "%s %s -> %d in %.0f ms",
            self.command,
            self.path,
            response.status,
            (time.monotonic() - started) * 1000,
        )

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, CONNECT, PROPFIND, ...): http.server would answer 501; an
        # HTTP API answers 405 and names the methods it takes.
        if name.startswith("do_"):
            return self._method_not_allowed
        raise AttributeError(name)

    def _method_not_allowed(self) -> None:
        self.close_connection = True  # a body, if any, is left unread on the socket
        self._write(
            DevResponse(
                405, {"message": "Method Not Allowed"}, {"allow": ", ".join(ALLOWED_METHODS)}
            )
        )

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
