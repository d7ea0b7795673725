"""What every request must be before any route sees it: the checks no route repeats.

They run in the handler, before routing and validation, on every route (including those added
later), because each is about the bytes rather than the route's model:
- a body over the size limit is 413;
- a body on a route that takes JSON must say JSON (415 otherwise), in UTF-8 (a declared other
  charset is 415, bytes that are not UTF-8 are 400), nest at most `MAX_JSON_DEPTH` deep, and
  hold only numbers JSON and PostgreSQL know (no NaN, Infinity, 1e400);
- no string anywhere (path, query, headers, JSON keys and values, form fields) may carry NUL,
  which PostgreSQL cannot store, nor a lone UTF-16 surrogate (`"\\ud83d"` is valid JSON), which
  is not text at all. Typed fields would catch some of these; free-form ones (metadata,
  variables, user data) would reach the database and fail there.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from herald.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType

# Larger bodies are refused before parsing (API.md: 413). API Gateway allows 10 MB.
MAX_BODY_BYTES = 1024 * 1024
# A batch's recipients come inline up to what a Lambda invocation takes (6 MB).
MAX_BATCH_BODY_BYTES = 6 * 1024 * 1024
_BATCH_PATH = re.compile(r"^/v1/batches(/[^/]+/recipients)?$")
# Deeper than any request Herald defines (a template's push `data` nests a few levels).
MAX_JSON_DEPTH = 32
JSON_MEDIA_TYPES = ("application/json",)
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# NUL, and the surrogate code points, which only appear in a Python str as halves of nothing.
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class RouteShape:
    """What the guard needs of a route: its method, path pattern, and whether it takes JSON
    (asked only of the routes a request matches: answering builds the route's validation, as
    Powertools does for the route it calls, so a cold start builds none)."""

    method: str
    pattern: re.Pattern[str]
    takes_json: Callable[[], bool]


def check_request(event: dict[str, Any], routes: Iterable[RouteShape]) -> None:
    """Raise the 4xx a request's bytes deserve; return quietly when any route may see it."""
    raw = _body_bytes(event)
    batch = _BATCH_PATH.match(event.get("rawPath") or "")
    limit = MAX_BATCH_BODY_BYTES if batch else MAX_BODY_BYTES
    if len(raw) > limit:
        raise PayloadTooLarge(f"request body over {limit} bytes")
    _check_text("path", unquote(event.get("rawPath") or ""))
    for name, value in (event.get("queryStringParameters") or {}).items():
        _check_text(f"query.{name}", name + value)
    for name, value in (event.get("headers") or {}).items():
        _check_text(f"header.{name}", value)
    method = str(event.get("requestContext", {}).get("http", {}).get("method", "")).upper()
    if not raw or method not in METHODS_WITH_BODY:
        return
    media_type, charset = _content_type(event)
    path = event.get("rawPath") or ""
    takes_json = any(r.takes_json() for r in routes if r.method == method and r.pattern.match(path))
    if takes_json:
        if media_type and media_type not in JSON_MEDIA_TYPES:
            raise UnsupportedMediaType(f"this route takes application/json, not {media_type}")
        if charset not in ("", "utf-8", "utf8"):
            raise UnsupportedMediaType(f"JSON bodies are UTF-8, not {charset}")
        _check_json(_utf8(raw))
    elif media_type == FORM_MEDIA_TYPE:
        for name, value in parse_qsl(_utf8(raw), keep_blank_values=True):
            _check_text(f"form.{name}", name + value)


def _body_bytes(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return str(body).encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _invalid("body", "not valid base64") from exc


def _content_type(event: dict[str, Any]) -> tuple[str, str]:
    """The media type and charset (both lower-case, "" when absent) of the request body."""
    header = str((event.get("headers") or {}).get("content-type", ""))
    media_type, _, parameters = header.partition(";")
    charset = ""
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media_type.strip().lower(), charset


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid("body", f"not UTF-8 (byte {exc.start})") from exc


def _check_json(text: str) -> None:
    try:
        document = json.loads(text, parse_constant=_not_json, parse_float=_finite)
    except RecursionError as exc:
        raise _invalid("body", f"nested deeper than {MAX_JSON_DEPTH} levels") from exc
    except json.JSONDecodeError:
        return  # malformed JSON: the route's validation names it (400)
    except ValueError as exc:
        # NaN and Infinity (Python's extensions to JSON), a float past double precision's
        # range, an integer of more than 4,300 digits: none can be stored or sent back.
        raise _invalid("body", f"holds a number out of range ({exc})") from exc
    # NUL and surrogates reach a parsed string only through a \u escape (raw ones are not
    # JSON, nor UTF-8): without any, only the depth needs checking, container by container
    # (a 50,000-recipient batch holds a quarter of a million strings).
    if "\\u" not in text and _depth_within_limit(document):
        return
    # Iterative walk: depth is bounded here, not by Python's stack; names what is wrong.
    stack: list[tuple[str, Any, int]] = [("body", document, 0)]
    while stack:
        where, value, depth = stack.pop()
        if isinstance(value, str):
            _check_text(where, value)
        elif isinstance(value, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise _invalid(where, f"nested deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(value, dict):
                for key, item in value.items():
                    _check_text(f"{where}.{key}", key)
                    stack.append((f"{where}.{key}", item, depth + 1))
            else:
                stack.extend((f"{where}[{i}]", item, depth + 1) for i, item in enumerate(value))


def _depth_within_limit(document: Any) -> bool:
    """Whether no container nests deeper than MAX_JSON_DEPTH (level by level, strings and
    numbers never visited)."""
    level = [document] if isinstance(document, dict | list) else []
    depth = 0
    while level:
        if depth >= MAX_JSON_DEPTH:
            return False
        below: list[Any] = []
        for value in level:
            items = value.values() if isinstance(value, dict) else value
            below.extend(item for item in items if isinstance(item, dict | list))
        level = below
        depth += 1
    return True


def _not_json(constant: str) -> float:
    raise ValueError(f"{constant} is not JSON")


def _finite(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):
        raise ValueError(f"{literal[:20]} overflows")
    return value


def _check_text(where: str, value: str) -> None:
    found = _NOT_TEXT.search(value)
    if found is None:
        return
    what = "a NUL character" if found.group() == "\x00" else "a lone UTF-16 surrogate"
    raise _invalid(where.removeprefix("body."), f"contains {what}")


def _invalid(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(
        f"invalid request: {field} {message}", [{"field": field, "message": message}]
    )
