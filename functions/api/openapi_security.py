"""The API's OpenAPI security scheme, without importing Powertools' OpenAPI models.

`aws_lambda_powertools.event_handler.openapi.models` costs ~150 ms to import (pydantic builds
every OpenAPI model); Powertools imports it itself only when a schema is generated (GET
/v1/openapi.json, /v1/docs, `make openapi`). The scheme is given as the plain JSON it
validates into then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import SecurityScheme

_API_KEY: dict[str, Any] = {"type": "http", "scheme": "bearer", "description": "A Herald API key"}
_INBOX_TOKEN: dict[str, Any] = {
    "type": "http",
    "scheme": "bearer",
    "description": "A user's inbox token (POST .../inbox-token)",
}
SECURITY_SCHEMES = cast(
    "dict[str, SecurityScheme]", {"apiKey": _API_KEY, "inboxToken": _INBOX_TOKEN}
)
