"""`/_dev/webhook-sink/{name}`: a local receiver for webhooks, to watch what Herald sends.

A POST is kept (headers and the raw body, byte for byte, so signatures can be checked) and
answered 200, or the status given in `?status=` (to watch retries and auto-disable; with
`&retry_after=N`, a `Retry-After: N` header too); a GET
lists what the sink received, oldest first; a DELETE empties it.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import UTC, datetime
from typing import Any

from local.http import DevRequest, DevResponse

PREFIX = "/_dev/webhook-sink/"
MAX_ITEMS_PER_SINK = 1000


class WebhookSink:
    def __init__(self) -> None:
        self._items: dict[str, deque[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def items(self, name: str) -> list[dict[str, Any]]:
        """What sink `name` received, oldest first."""
        with self._lock:
            return [dict(item) for item in self._items.get(name, ())]

    def route(self, request: DevRequest) -> DevResponse:
        name = request.path.removeprefix(PREFIX)
        if not name or "/" in name:
            return _error(404, "NOT_FOUND", "a sink is /_dev/webhook-sink/{name}")
        if request.method == "GET":
            return DevResponse(200, {"items": self.items(name)})
        if request.method == "DELETE":
            with self._lock:
                self._items.pop(name, None)
            return DevResponse(204, b"")
        if request.method != "POST":
            return _error(405, "METHOD_NOT_ALLOWED", "POST, GET or DELETE")
        status = request.query.get("status", "200")
        if not status.isdigit() or not 200 <= int(status) <= 599:
            return _error(400, "VALIDATION_ERROR", "status must be an HTTP status, 200 to 599")
        item = {
            "headers": dict(request.headers),
            "body": request.body.decode("utf-8", errors="replace"),
            "received_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        with self._lock:
            self._items.setdefault(name, deque(maxlen=MAX_ITEMS_PER_SINK)).append(item)
        retry_after = request.query.get("retry_after")
        headers = {"Retry-After": retry_after} if retry_after and retry_after.isdigit() else {}
        return DevResponse(int(status), {"received": True}, headers)


def _error(status: int, code: str, message: str) -> DevResponse:
    return DevResponse(status, {"error": {"code": code, "message": message, "details": []}})
