"""API Gateway HTTP API entry point: routing, validation and OpenAPI from Powertools."""

from __future__ import annotations

import functools
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from herald.errors import HeraldError

from functions.api import docs, errors, guards, inbox_cors
from functions.api.contract import HeraldResolver
from functions.api.openapi_security import SECURITY_SCHEMES
from functions.api.routes import (
    api_keys,
    batches,
    dead_letters,
    devices,
    end_user_pages,
    inbox,
    integrations,
    notifications,
    operations,
    stats,
    suppressions,
    templates,
    users,
    webhook_endpoints,
)

logger = Logger()
# A response that breaks its own schema is our bug: 500 (ResponseValidationError), never 4xx.
app = HeraldResolver(enable_validation=True, response_validation_error_http_code=500)
app.include_router(notifications.router)
app.include_router(templates.router)
app.include_router(users.router)
app.include_router(devices.router)
app.include_router(suppressions.router)
app.include_router(end_user_pages.router)
app.include_router(api_keys.router)
app.include_router(operations.router)
app.include_router(inbox.router)
app.include_router(webhook_endpoints.router)
app.include_router(dead_letters.router)
app.include_router(batches.router)
app.include_router(stats.router)
app.include_router(integrations.router)
errors.register(app)
app.configure_openapi(
    title="Herald",
    version="1",
    description="Multi-channel notifications: email, SMS, WhatsApp, push, web push, in-app inbox"
    " and webhooks. Authenticate with `Authorization: Bearer <api key>`.",
    security_schemes=SECURITY_SCHEMES,
    security=[{"apiKey": []}],
)
docs.register(app, "/v1/docs")


@app.get("/v1/openapi.json", include_in_schema=False)
@functools.cache
def openapi_document() -> dict[str, Any]:
    # Built once per execution environment: the routes do not change at run time.
    return app.get_openapi_schema().model_dump(mode="json", by_alias=True, exclude_none=True)


route_shapes = app.route_shapes()
# A large body (a batch of up to 50,000 recipients, 5 MB) becomes about a million objects
# built in one go and freed together at the end of the request, in trees with no cycles.
# CPython's cyclic collector, triggered by allocation counts, would scan that growing pile
# (and the whole heap) several times over while it is built: a third of the request's time.
# Reference counting frees the objects all the same; the collector resumes after.
LARGE_BODY_CHARS = 256 * 1024


@contextmanager
def _collector_paused(event: dict[str, Any]) -> Iterator[None]:
    if len(event.get("body") or "") < LARGE_BODY_CHARS or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with _collector_paused(event):
        return _handle(event, context)


def _handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        guards.check_request(event, route_shapes)
    except HeraldError as exc:
        request_id = event.get("requestContext", {}).get("requestId", "")
        return {
            "statusCode": errors.status_for(exc),
            "headers": {"Content-Type": "application/json"},
            "body": errors.error_body(exc.code, exc.message, request_id, exc.details),
            "isBase64Encoded": False,
        }
    if (answer := inbox_cors.preflight(event)) is not None:
        return answer
    return inbox_cors.with_cors(event, app.resolve(event, context))
