"""Input a careless client or an attacker sends: a 4xx in API.md's shape, and nothing stored.

Each family once answered 500 (found by fuzzing). The cases reach every kind of string the
API stores: typed fields, free-form JSON (metadata, variables, user data), path ids, query
parameters and cursors.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.integration.conftest import LambdaContext, Stack, Tenant, http_event
from tests.integration.pipeline import call_api, email_body

NUL = "\u0000"
EMAIL = {"subject": "Hi {{ name }}", "text": "Welcome."}
TEMPLATE = {"key": "welcome", "name": "Welcome", "channels": {"email": EMAIL}}


def _stored(stack: Stack) -> dict[str, int]:
    tables = ("notifications", "deliveries", "templates", "users", "suppressions")
    with stack.db.transaction() as conn:
        return {
            t: conn.execute(f"SELECT count(*) AS n FROM {t}").fetchone()["n"]  # type: ignore[index]
            for t in (*tables, "idempotency_keys", "api_keys")
        }


def _cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def _json_with(escape: str, where: str) -> str:
    """A JSON body whose `where` holds a string with `escape` (a JSON escape, e.g. \\u0000)."""
    bodies = {
        "subject": email_body(["a@example.com"], subject="Hi @@"),
        "metadata value": email_body(["a@example.com"], metadata={"campaign": "@@"}),
        "metadata key": email_body(["a@example.com"], metadata={"c@@": "x"}),
        "variables": {**email_body(["a@example.com"]), "variables": {"name": "@@"}},
        "recipient": email_body(["a@@@example.com"]),
        "template name": {**TEMPLATE, "name": "We@@"},
        "template body": {**TEMPLATE, "channels": {"email": {**EMAIL, "text": "Hi @@"}}},
        "user name": {"email": "ada@example.com", "name": "Ada @@"},
        "user data": {"email": "ada@example.com", "data": {"plan": {"tier": "@@"}}},
    }
    return json.dumps(bodies[where]).replace("@@", escape)


ROUTE = {
    "subject": ("POST", "/v1/notifications"),
    "metadata value": ("POST", "/v1/notifications"),
    "metadata key": ("POST", "/v1/notifications"),
    "variables": ("POST", "/v1/notifications"),
    "recipient": ("POST", "/v1/notifications"),
    "template name": ("POST", "/v1/templates"),
    "template body": ("POST", "/v1/templates"),
    "user name": ("PUT", "/v1/users/u_1"),
    "user data": ("PUT", "/v1/users/u_1"),
}


def _assert_refused(
    stack: Stack, before: dict[str, int], response: tuple[int, Any, Any], status: int
) -> None:
    code, _, body = response
    assert code == status, body
    assert set(body) == {"error", "request_id"} and body["request_id"]
    assert body["error"]["code"] in ("VALIDATION_ERROR", "UNSUPPORTED_MEDIA_TYPE")
    assert _stored(stack) == before


@pytest.mark.parametrize("where", sorted(ROUTE))
@pytest.mark.parametrize("escape", ["\\u0000", "\\ud83d", "\\udc00x"], ids=["nul", "hi", "lo"])
def test_nul_and_lone_surrogates_in_any_json_string_are_400(
    stack: Stack, tenant: Tenant, where: str, escape: str
) -> None:
    # given
    before = _stored(stack)
    method, path = ROUTE[where]

    # when
    response = call_api(stack, method, path, key=tenant.key, raw_body=_json_with(escape, where))

    # then
    _assert_refused(stack, before, response, 400)


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("GET", "/v1/users/%00", None),
        ("PUT", "/v1/users/u%00x/preferences", None),
        ("DELETE", "/v1/suppressions/a%00%40example.com", None),
        ("GET", "/v1/notifications", {"cursor": _cursor("ntf_" + NUL)}),
        ("GET", "/v1/suppressions", {"cursor": _cursor("a" + NUL)}),
        ("GET", "/v1/templates", {"cursor": _cursor("k" + NUL)}),
        ("GET", "/v1/templates/k/versions", {"cursor": _cursor("1" + NUL)}),
        ("GET", "/v1/templates/k", {"locale": "en" + NUL}),
    ],
)
def test_nul_in_path_ids_queries_and_cursors_is_400(
    stack: Stack, tenant: Tenant, method: str, path: str, query: dict[str, str] | None
) -> None:
    before = _stored(stack)
    body = {"categories": {}} if method == "PUT" else None
    response = call_api(stack, method, path, key=tenant.key, query=query, body=body)
    _assert_refused(stack, before, response, 400)


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/v1/templates/k/versions/9999999999999999999/activate", None),
        ("/v1/templates/k/versions/2147483648/activate", None),
        ("/v1/templates/k", {"version": "9999999999999999999"}),
        ("/v1/templates/k/versions", {"cursor": _cursor("9999999999999999999")}),
        ("/v1/templates/k/versions", {"cursor": _cursor("²")}),
    ],
)
def test_integers_past_postgresql_range_are_400(
    stack: Stack, tenant: Tenant, path: str, query: dict[str, str] | None
) -> None:
    # given a template, so that only the number is wrong
    created = call_api(
        stack, "POST", "/v1/templates", key=tenant.key, body={**TEMPLATE, "key": "k"}
    )
    assert created[0] == 201
    before = _stored(stack)

    # when
    method = "POST" if path.endswith("/activate") else "GET"
    response = call_api(stack, method, path, key=tenant.key, query=query)

    # then
    _assert_refused(stack, before, response, 400)


@pytest.mark.parametrize(
    "case",
    [
        ("application/json", b'{"name": "\xac"}', 400),
        ("application/json; charset=utf-16", json.dumps({"name": "x"}).encode("utf-16"), 415),
        ("application/json; charset=utf-16", b'{"name": "x"}', 415),
        ("text/plain", b'{"name": "x"}', 415),
        ("application/xml", b"<name>x</name>", 415),
        ("application/x-www-form-urlencoded", b"name=x", 415),
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/notifications"),
        ("POST", "/v1/templates"),
        ("PUT", "/v1/users/u_1"),
        ("PUT", "/v1/users/u_1/preferences"),
        ("POST", "/v1/suppressions"),
        ("POST", "/v1/api-keys"),
    ],
)
def test_every_json_route_takes_utf8_json_only(
    stack: Stack, tenant: Tenant, method: str, path: str, case: tuple[str, bytes, int]
) -> None:
    # given a body as API Gateway hands over what is not UTF-8 text: base64
    content_type, raw, status = case
    before = _stored(stack)

    # when
    response = _call_base64(stack, method, path, key=tenant.key, content_type=content_type, raw=raw)

    # then
    _assert_refused(stack, before, response, status)


def _call_base64(
    stack: Stack, method: str, path: str, *, key: str | None, content_type: str, raw: bytes
) -> tuple[int, Any, Any]:
    body = base64.b64encode(raw).decode()
    event = http_event(method, path, key=key, raw_body=body, headers={"content-type": content_type})
    event["isBase64Encoded"] = True
    result = stack.handlers["api.handler"].handler(event, LambdaContext())
    headers = {k.lower(): v for k, v in result.get("headers", {}).items()}
    json_body = headers.get("content-type", "").startswith("application/json")
    return result["statusCode"], headers, json.loads(result["body"]) if json_body else None


def test_deeply_nested_json_is_400_without_a_recursion_error(stack: Stack, tenant: Tenant) -> None:
    # given 100,000 levels of arrays in a free-form field
    before = _stored(stack)
    deep = '{"recipients": [{"email": "a@example.com"}], "metadata": {"x": ' + "[" * 100_000 + "}"

    # when
    response = call_api(stack, "POST", "/v1/notifications", key=tenant.key, raw_body=deep)

    # then
    _assert_refused(stack, before, response, 400)
    assert "nested deeper" in response[2]["error"]["message"]


def test_the_preference_page_takes_any_bytes_without_a_500(stack: Stack) -> None:
    # given a form post whose bytes are not UTF-8, and one carrying NUL (no token: a 401 page)
    for content_type, raw in [("text/plain", b"\xac\xff"), ("application/octet-stream", b"\0")]:
        # when
        path = "/v1/preferences/page"
        response = _call_base64(stack, "POST", path, key=None, content_type=content_type, raw=raw)

        # then
        assert response[0] == 401


def test_nul_in_a_form_field_is_400(stack: Stack) -> None:
    form = "application/x-www-form-urlencoded"
    status, _, body = _call_base64(
        stack, "POST", "/v1/preferences/page", key=None, content_type=form, raw=b"categories=a%00b"
    )
    assert status == 400
    assert body["error"]["details"][0]["field"] == "form.categories"


@pytest.mark.parametrize(
    "number", ["1e400", "-1e400", "NaN", "Infinity", "-Infinity", "9" * 5000], ids=lambda n: n[:9]
)
@pytest.mark.parametrize("where", ["metadata value", "user data"])
def test_numbers_json_or_postgresql_cannot_hold_are_400(
    stack: Stack, tenant: Tenant, number: str, where: str
) -> None:
    # given a free-form field holding the number (Python's json reads all of these)
    before = _stored(stack)
    method, path = ROUTE[where]
    raw = _json_with("@@", where).replace('"@@"', number)

    # when
    response = call_api(stack, method, path, key=tenant.key, raw_body=raw)

    # then
    _assert_refused(stack, before, response, 400)
    assert "number out of range" in response[2]["error"]["message"]


@pytest.mark.parametrize("raw", [b'[{"event": "\xac"}]', b"\xff\xfe[\x00]\x00"])
def test_a_callback_body_that_is_not_utf8_is_an_unsigned_401(stack: Stack, raw: bytes) -> None:
    # given a body that is not UTF-8, with signature headers (over other bytes)
    signature = stack.sign_sendgrid(raw.decode("latin-1"))
    event = http_event(
        "POST", "/v1/callbacks/sendgrid", raw_body=base64.b64encode(raw).decode(), headers=signature
    )
    event["isBase64Encoded"] = True

    # when
    result = stack.handlers["webhooks.handler"].handler(event, LambdaContext())

    # then
    assert result["statusCode"] == 401
    assert json.loads(result["body"])["error"]["code"] == "UNAUTHENTICATED"
