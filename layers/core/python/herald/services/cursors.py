"""Opaque list cursors: the sort key of the last item of a page, URL-safe base64."""

from __future__ import annotations

import base64
import binascii

from herald.db.connection import Row
from herald.errors import InvalidRequest


def encode_cursor(last_key: str) -> str:
    """The cursor to the page after the item whose sort key is `last_key`."""
    return base64.urlsafe_b64encode(last_key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The sort key a cursor carries; InvalidRequest (400, field `cursor`) when malformed."""
    try:
        padded = (cursor + "=" * (-len(cursor) % 4)).encode("ascii")
        value = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise _invalid() from exc
    # NUL is valid UTF-8 but no PostgreSQL text: a forged cursor must not reach a query with it.
    if not value or "\x00" in value:
        raise _invalid()
    return value


def _invalid() -> InvalidRequest:
    return InvalidRequest("invalid cursor", [{"field": "cursor", "message": "invalid"}])


def page_rows(rows: list[Row], limit: int, sort_key: str) -> tuple[list[Row], str | None]:
    """One page of rows fetched `limit + 1` at a time (the extra row tells whether more
    follow), and the cursor to the next page (None on the last one)."""
    if len(rows) <= limit:
        return rows, None
    page = rows[:limit]
    return page, encode_cursor(str(page[-1][sort_key]))
