"""Posts to the open connections of the API Gateway WebSocket API (or the local runtime's
server, which speaks the same management API)."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from herald.aws.clients import aws_client


class ConnectionPoster:
    """`PostToConnection` through the API's management endpoint
    (`https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`)."""

    def __init__(self, endpoint_url: str, client: Any | None = None) -> None:
        self._endpoint_url = endpoint_url
        if client is not None:
            self._client = client

    @cached_property
    def _client(self) -> Any:
        """Made on first use: see herald.aws.clients."""
        return aws_client("apigatewaymanagementapi", endpoint_url=self._endpoint_url)

    def post(self, connection_id: str, message: dict[str, Any]) -> bool:
        """Send one JSON message; False when the connection is gone (GoneException)."""
        try:
            self._client.post_to_connection(
                ConnectionId=connection_id,
                Data=json.dumps(message, default=str, separators=(",", ":")).encode(),
            )
        except self._client.exceptions.GoneException:
            return False
        return True
