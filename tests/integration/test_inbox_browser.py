"""The inbox from a browser: a signed user token, `/v1/me/inbox` for that user alone, and
CORS for the tenant's origins on those routes only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from herald.services import links

from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import call_api
from tests.integration.test_inbox import counts, item_ids, send_in_app

ITEM = "inb_01ARZ3NDEKTSV4RRFFQ69G5FAV"
UNTIL = {"until": (datetime.now(UTC) + timedelta(days=30)).isoformat()}


def token_for(stack: Stack, tenant: Tenant, user_id: str) -> str:
    status, _, body = call_api(stack, "POST", f"/v1/users/{user_id}/inbox-token", key=tenant.key)
    assert status == 200, body
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=11) < expires_at - datetime.now(UTC) <= timedelta(hours=12)
    return str(body["token"])


def me(stack: Stack, token: str, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    status, _, body = call_api(stack, method, f"/v1/me/inbox{path}", key=token, **kw)
    return status, body


def every_me_route(item_id: str) -> list[tuple[str, str, Any]]:
    """(method, path under /v1/me/inbox, body) of every browser route that names an item or
    changes state."""
    return [
        ("POST", f"/{item_id}/read", None),
        ("POST", f"/{item_id}/unread", None),
        ("POST", f"/{item_id}/seen", None),
        ("POST", f"/{item_id}/archive", None),
        ("POST", f"/{item_id}/unarchive", None),
        ("POST", f"/{item_id}/snooze", UNTIL),
        ("DELETE", f"/{item_id}", None),
    ]


def test_a_user_token_reads_and_changes_that_users_inbox(stack: Stack, tenant: Tenant) -> None:
    # given
    send_in_app(stack, tenant, ["u_ada"], title="one")
    send_in_app(stack, tenant, ["u_ada"], title="two")
    token = token_for(stack, tenant, "u_ada")

    # when / then
    status, page = me(stack, token, "GET", "")
    assert status == 200
    assert [i["title"] for i in page["items"]] == ["two", "one"]
    assert me(stack, token, "GET", "/count") == (200, {"unread": 2, "unseen": 2, "total": 2})
    one = page["items"][1]["id"]
    status, item = me(stack, token, "POST", f"/{one}/read")
    assert status == 200 and item["read_at"] is not None
    assert me(stack, token, "GET", "/count")[1] == {"unread": 1, "unseen": 1, "total": 2}
    assert me(stack, token, "POST", "/seen-all") == (200, {"changed": 1})
    assert me(stack, token, "POST", "/read-all") == (200, {"changed": 1})
    assert me(stack, token, "GET", "/count")[1] == {"unread": 0, "unseen": 0, "total": 2}
    status, snoozed = me(stack, token, "POST", f"/{one}/snooze", body=UNTIL)
    assert status == 200 and snoozed["read_at"] is None
    assert me(stack, token, "DELETE", f"/{one}")[0] == 204
    assert me(stack, token, "GET", "/count")[1] == {"unread": 0, "unseen": 0, "total": 1}
    # the server sees the same inbox
    assert counts(stack, tenant, "u_ada") == {"unread": 0, "unseen": 0, "total": 1}


def test_another_users_token_changes_nothing(stack: Stack, tenant: Tenant) -> None:
    # given: Ada's item, Bob's token
    send_in_app(stack, tenant, ["u_ada"])
    [ada_item] = item_ids(stack, tenant, "u_ada").values()
    bob = token_for(stack, tenant, "u_bob")

    # when / then: every route is a 404 for Bob, and Ada's inbox is as it was
    for method, path, body in every_me_route(ada_item):
        status, answer = me(stack, bob, method, path, body=body)
        assert status == 404, (method, path, answer)
        assert answer["error"]["code"] == "NOT_FOUND"
    assert me(stack, bob, "POST", "/read-all") == (200, {"changed": 0})
    assert me(stack, bob, "GET", "")[1]["items"] == []
    assert counts(stack, tenant, "u_ada") == {"unread": 1, "unseen": 1, "total": 1}
    [item] = call_api(stack, "GET", "/v1/users/u_ada/inbox", key=tenant.key)[2]["items"]
    assert item["read_at"] is None and item["archived_at"] is None


def test_the_same_user_id_in_another_tenant_changes_nothing(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given: Ada of tenant 1 has an item; "u_ada" of tenant 2 has a token
    send_in_app(stack, tenant, ["u_ada"])
    [item_id] = item_ids(stack, tenant, "u_ada").values()
    other = token_for(stack, other_tenant, "u_ada")

    # when / then
    for method, path, body in every_me_route(item_id):
        assert me(stack, other, method, path, body=body)[0] == 404
    assert me(stack, other, "POST", "/read-all") == (200, {"changed": 0})
    assert me(stack, other, "GET", "/count")[1]["total"] == 0
    assert counts(stack, tenant, "u_ada") == {"unread": 1, "unseen": 1, "total": 1}


def test_only_an_inbox_token_opens_the_browser_routes(stack: Stack, tenant: Tenant) -> None:
    # given
    send_in_app(stack, tenant, ["u_ada"])
    now = datetime.now(UTC)
    token = token_for(stack, tenant, "u_ada")
    expired = links.issue_token(
        stack.links_secret,
        tenant_id=tenant.id,
        user_id="u_ada",
        purpose="inbox",
        category=None,
        expires_at=now - timedelta(seconds=1),
    )
    unsubscribe = links.issue_token(
        stack.links_secret,
        tenant_id=tenant.id,
        user_id="u_ada",
        purpose="unsubscribe",
        category=None,
        expires_at=now + timedelta(days=1),
    )
    forged = links.issue_token(
        b"another-secret-that-is-long-enough-0123456789",
        tenant_id=tenant.id,
        user_id="u_ada",
        purpose="inbox",
        category=None,
        expires_at=now + timedelta(days=1),
    )
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")

    # when / then: an API key, an expired, forged, tampered or other-purpose token, or none
    for credential in (tenant.key, expired, unsubscribe, forged, tampered, "x" * 5000, None):
        for method, path, body in [
            ("GET", "", None),
            ("GET", "/count", None),
            ("GET", "/realtime", None),
            ("POST", "/read-all", None),
            ("POST", "/seen-all", None),
            *every_me_route(ITEM),
        ]:
            status, answer = me(stack, credential, method, path, body=body)  # type: ignore[arg-type]
            assert status == 401, (credential, method, path, answer)
            assert answer["error"]["code"] == "UNAUTHENTICATED"
    # and the user token is no API key
    status, _, _ = call_api(stack, "GET", "/v1/users/u_ada/inbox", key=token)
    assert status == 401
    assert counts(stack, tenant, "u_ada") == {"unread": 1, "unseen": 1, "total": 1}


def test_minting_a_token_needs_the_users_scope(stack: Stack, tenant: Tenant) -> None:
    # given: a key with the read scope only
    status, _, key = call_api(
        stack, "POST", "/v1/api-keys", key=tenant.key, body={"name": "r", "scopes": ["read"]}
    )
    assert status == 201, key

    # when
    status, _, body = call_api(stack, "POST", "/v1/users/u_ada/inbox-token", key=key["key"])

    # then
    assert (status, body["error"]["code"]) == (403, "FORBIDDEN")


def _with_origin(origin: str) -> dict[str, str]:
    return {"origin": origin}


def test_cors_answers_browser_routes_for_the_tenants_origins_only(
    stack: Stack, tenant: Tenant
) -> None:
    # given: the tenant allows one origin
    send_in_app(stack, tenant, ["u_ada"])
    [item_id] = item_ids(stack, tenant, "u_ada").values()
    token = token_for(stack, tenant, "u_ada")
    status, _, settings = call_api(
        stack,
        "PUT",
        "/v1/inbox/settings",
        key=tenant.key,
        body={"allowed_origins": ["https://App.Example.com:443/"]},
    )
    assert (status, settings) == (200, {"allowed_origins": ["https://app.example.com"]})

    # when: a preflight (no credentials), then requests from the allowed origin and another
    status, headers, _ = call_api(
        stack,
        "OPTIONS",
        "/v1/me/inbox/count",
        headers={
            "origin": "https://app.example.com",
            "access-control-request-method": "GET",
            "access-control-request-headers": "authorization",
        },
    )
    allowed = call_api(
        stack,
        "GET",
        "/v1/me/inbox/count",
        key=token,
        headers=_with_origin("https://app.example.com"),
    )
    refused = call_api(
        stack,
        "POST",
        f"/v1/me/inbox/{item_id}/read",
        key=token,
        headers=_with_origin("https://evil.example.net"),
    )
    server = call_api(
        stack,
        "GET",
        "/v1/users/u_ada/inbox/count",
        key=tenant.key,
        headers=_with_origin("https://app.example.com"),
    )

    # then
    assert status == 204
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert "authorization" in headers["access-control-allow-headers"].lower()
    assert allowed[0] == 200
    assert allowed[1]["access-control-allow-origin"] == "https://app.example.com"
    assert refused[0] == 403 and refused[2]["error"]["code"] == "FORBIDDEN"
    assert "access-control-allow-origin" not in refused[1]
    assert counts(stack, tenant, "u_ada")["unread"] == 1  # the refused read changed nothing
    assert server[0] == 200 and "access-control-allow-origin" not in server[1]


def test_by_default_any_origin_may_use_the_inbox(stack: Stack, tenant: Tenant) -> None:
    # given
    token = token_for(stack, tenant, "u_ada")
    assert call_api(stack, "GET", "/v1/inbox/settings", key=tenant.key)[2] == {
        "allowed_origins": None
    }

    # when
    status, headers, _ = call_api(
        stack, "GET", "/v1/me/inbox", key=token, headers=_with_origin("http://localhost:3000")
    )

    # then
    assert status == 200 and headers["access-control-allow-origin"] == "http://localhost:3000"


@pytest.mark.parametrize(
    "case",
    [
        ("", {"cursor": "%%%"}, None, 400),
        ("", {"cursor": "aW5iXwA"}, None, 400),  # "inb_\0"
        ("", {"limit": "1e400"}, None, 400),
        ("/count", {"status": "x"}, None, 200),  # unknown query parameters are ignored
        (f"/{ITEM}/snooze", None, {"until": 12345678901234567890}, 400),
        (f"/{ITEM}/snooze", None, None, 400),
    ],
)
def test_bad_browser_input_is_a_4xx(
    stack: Stack, tenant: Tenant, case: tuple[str, dict[str, str] | None, Any, int]
) -> None:
    path, query, body, expected = case
    token = token_for(stack, tenant, "u_ada")
    method = "POST" if path.endswith("snooze") else "GET"
    status, answer = me(stack, token, method, path, query=query, body=body)
    assert status == expected, answer
