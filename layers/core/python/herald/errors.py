"""Domain errors. The API maps each to one HTTP status in one place (functions/api/errors.py)."""

from __future__ import annotations

from typing import Any


class HeraldError(Exception):
    """Base class: a message safe to show to the API caller, and optional details."""

    code = "INTERNAL"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class Unauthenticated(HeraldError):
    code = "UNAUTHENTICATED"


class Forbidden(HeraldError):
    code = "FORBIDDEN"


class NotFound(HeraldError):
    code = "NOT_FOUND"


class Conflict(HeraldError):
    code = "CONFLICT"


class PayloadTooLarge(HeraldError):
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(HeraldError):
    """A body in a format the route does not take (not JSON, or JSON not in UTF-8)."""

    code = "UNSUPPORTED_MEDIA_TYPE"


class Unprocessable(HeraldError):
    """A well-formed request that breaks a business rule (send_at in the past, ...)."""

    code = "UNPROCESSABLE"


class InvalidRequest(HeraldError):
    """Malformed input found outside pydantic validation (a bad cursor, a bad header)."""

    code = "VALIDATION_ERROR"
