"""The one place where errors become HTTP responses, in API.md's error shape."""

from __future__ import annotations

import json
import sys
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestValidationError,
    ResponseValidationError,
)
from herald import errors

logger = Logger(child=True)

STATUS: dict[type[errors.HeraldError], int] = {
    errors.InvalidRequest: 400,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.Unprocessable: 422,
}


def status_for(exc: errors.HeraldError) -> int:
    """The status of the nearest mapped class: a subclass (RenderFailed is an Unprocessable)
    maps like its base."""
    return next((STATUS[c] for c in type(exc).__mro__ if c in STATUS), 500)


def error_body(
    code: str, message: str, request_id: str, details: list[dict[str, Any]] | None = None
) -> str:
    body = {
        "error": {"code": code, "message": message, "details": details or []},
        "request_id": request_id,
    }
    return json.dumps(body)


def error_response(
    status: int,
    code: str,
    message: str,
    request_id: str,
    details: list[dict[str, Any]] | None = None,
) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=error_body(code, message, request_id, details),
    )


def _field(location: tuple[Any, ...]) -> str:
    # ("body", "recipients", 0, "email") -> "recipients[0].email"
    parts = [p for p in location if p not in ("body",)]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _refused_by_the_database(exc: Exception) -> bool:
    """Whether `exc` is psycopg's DataError. psycopg is imported with the first connection, not
    at cold start: until then no database error can exist, and looking it up never imports it."""
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, psycopg.DataError)


def register(app: APIGatewayHttpResolver) -> None:
    def request_id() -> str:
        return str(app.current_event.request_context.request_id)

    @app.exception_handler(RequestValidationError)
    def invalid_request(exc: RequestValidationError) -> Response[str]:
        details = [
            {"field": _field(tuple(e.get("loc", ()))), "message": str(e.get("msg", "invalid"))}
            for e in exc.errors()
        ]
        fields = ", ".join(dict.fromkeys(d["field"] for d in details))
        return error_response(
            400, "VALIDATION_ERROR", f"invalid request: {fields}", request_id(), details
        )

    @app.exception_handler(ResponseValidationError)
    def invalid_response(exc: ResponseValidationError) -> Response[str]:
        logger.error("response failed its own schema", extra={"errors": exc.errors()})
        return error_response(500, "INTERNAL", "internal error", request_id())

    @app.exception_handler(errors.HeraldError)
    def domain_error(exc: errors.HeraldError) -> Response[str]:
        status = status_for(exc)
        return error_response(status, exc.code, exc.message, request_id(), exc.details)

    @app.not_found
    def not_found(_: Exception) -> Response[str]:
        path = app.current_event.path
        return error_response(404, "NOT_FOUND", f"no route for {path}", request_id())

    @app.exception_handler(Exception)
    def unexpected(exc: Exception) -> Response[str]:
        if _refused_by_the_database(exc):
            # A value PostgreSQL cannot hold (an integer past its range, text it cannot store)
            # that no check before it caught: the caller's input, and the transaction that met
            # it rolled back. The guards and models name such fields first; this is the net.
            logger.warning("the database refused a value", extra={"error": str(exc)})
            message = "a value is out of the range the service stores"
            return error_response(400, "VALIDATION_ERROR", message, request_id())
        logger.exception("unhandled error")
        return error_response(500, "INTERNAL", "internal error", request_id())
