"""API Gateway HTTP API entry point: routing, validation and OpenAPI from Powertools."""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.api import errors
from functions.api.routes import (
    api_keys,
    end_user_pages,
    notifications,
    operations,
    suppressions,
    templates,
    users,
    webhook_endpoints,
)

# Larger bodies are refused before parsing (API.md: 413). API Gateway allows 10 MB.
MAX_BODY_BYTES = 1024 * 1024

logger = Logger()
tracer = Tracer()
# A response that breaks its own schema is our bug: 500 (ResponseValidationError), never 4xx.
app = APIGatewayHttpResolver(enable_validation=True, response_validation_error_http_code=500)
app.include_router(notifications.router)
app.include_router(templates.router)
app.include_router(users.router)
app.include_router(suppressions.router)
app.include_router(end_user_pages.router)
app.include_router(api_keys.router)
app.include_router(operations.router)
app.include_router(webhook_endpoints.router)
errors.register(app)
app.configure_openapi(
    title="Herald",
    version="1",
    description="Multi-channel notifications: email, SMS, WhatsApp, push, web push, in-app inbox"
    " and webhooks. Authenticate with `Authorization: Bearer <api key>`.",
    security_schemes={"apiKey": HTTPBearer(description="A Herald API key")},
    security=[{"apiKey": []}],
)
app.enable_swagger(path="/v1/docs")


@app.get("/v1/openapi.json", include_in_schema=False)
@functools.cache
def openapi_document() -> dict[str, Any]:
    # Built once per execution environment: the routes do not change at run time.
    return app.get_openapi_schema().model_dump(mode="json", by_alias=True, exclude_none=True)


def _body_size(event: dict[str, Any]) -> int:
    body = event.get("body") or ""
    return len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if _body_size(event) > MAX_BODY_BYTES:
        request_id = event.get("requestContext", {}).get("requestId", "")
        message = f"request body over {MAX_BODY_BYTES} bytes"
        return {
            "statusCode": 413,
            "headers": {"Content-Type": "application/json"},
            "body": errors.error_body("PAYLOAD_TOO_LARGE", message, request_id),
            "isBase64Encoded": False,
        }
    return app.resolve(event, context)
