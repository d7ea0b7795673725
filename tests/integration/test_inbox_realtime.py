"""Realtime inbox updates over the WebSocket API (the local stand-in for API Gateway's):
connect with a user token, receive `inbox.item_created` and `inbox.counts` on send and on
read; a connection that went away is forgotten."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import psycopg
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import call_api
from tests.integration.test_inbox import item_ids, send_in_app
from tests.integration.test_inbox_browser import token_for


def open_socket(stack: Stack, token: str, origin: str | None = None) -> ClientConnection:
    headers = {"Origin": origin} if origin else None
    return connect(f"{stack.websocket.url}/?token={token}", additional_headers=headers)


def messages(socket: ClientConnection, until_type: str, timeout: float = 10.0) -> list[Any]:
    """Messages received until one of `until_type`. `timeout` only bounds a failing test: the
    messages come as soon as the pipeline ran, with no polling, so a loaded machine's slower
    pipeline must not fail it (how fast they come is for a benchmark to show)."""
    received = []
    deadline = time.monotonic() + timeout
    while True:
        received.append(json.loads(socket.recv(timeout=max(0.0, deadline - time.monotonic()))))
        if received[-1]["type"] == until_type:
            return received


def connection_count() -> int:
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        row = conn.execute("SELECT count(*) FROM inbox_connections").fetchone()
    assert row is not None
    return int(row[0])


def test_a_sent_item_and_new_counts_are_pushed_to_the_users_open_socket(
    stack: Stack, tenant: Tenant
) -> None:
    # given: Ada's browser is connected; Bob's too
    with (
        open_socket(stack, token_for(stack, tenant, "u_ada")) as ada,
        open_socket(stack, token_for(stack, tenant, "u_bob")) as bob,
    ):
        # when
        send_in_app(stack, tenant, ["u_ada"], title="Your order shipped")
        received = messages(ada, "inbox.counts")

        # then
        assert [m["type"] for m in received] == ["inbox.item_created", "inbox.counts"]
        assert received[0]["item"]["title"] == "Your order shipped"
        assert received[0]["item"]["id"].startswith("inb_")
        assert received[1] == {"type": "inbox.counts", "unread": 1, "unseen": 1, "total": 1}
        # and Bob heard nothing
        with pytest.raises(TimeoutError):
            bob.recv(timeout=0.2)


def test_reading_pushes_the_new_counts_to_every_open_tab(stack: Stack, tenant: Tenant) -> None:
    # given: two items and two tabs
    send_in_app(stack, tenant, ["u_ada"], title="one")
    send_in_app(stack, tenant, ["u_ada"], title="two")
    token = token_for(stack, tenant, "u_ada")
    with open_socket(stack, token) as first, open_socket(stack, token) as second:
        # when: one is read from the browser
        item_id = item_ids(stack, tenant, "u_ada")["one"]
        status, _, _ = call_api(stack, "POST", f"/v1/me/inbox/{item_id}/read", key=token)
        assert status == 200

        # then: both tabs hear the new counts
        for socket in (first, second):
            assert messages(socket, "inbox.counts")[-1] == {
                "type": "inbox.counts",
                "unread": 1,
                "unseen": 1,
                "total": 2,
            }

        # when: everything is read through the server API
        call_api(stack, "POST", "/v1/users/u_ada/inbox/read-all", key=tenant.key)
        # then
        assert messages(first, "inbox.counts")[-1]["unread"] == 0


def test_a_bad_token_or_origin_cannot_connect(stack: Stack, tenant: Tenant) -> None:
    # given
    token = token_for(stack, tenant, "u_ada")
    call_api(
        stack,
        "PUT",
        "/v1/inbox/settings",
        key=tenant.key,
        body={"allowed_origins": ["https://app.example.com"]},
    )

    # when / then
    for bad_token, origin, status in (
        ("forged.token", "https://app.example.com", 401),
        (tenant.key, "https://app.example.com", 401),
        (token, "https://evil.example.net", 403),
    ):
        with pytest.raises(InvalidStatus) as refused:
            open_socket(stack, bad_token, origin)
        assert refused.value.response.status_code == status
    with open_socket(stack, token, "https://app.example.com"):
        assert connection_count() == 1
    # and a closed connection is forgotten ($disconnect)
    assert _eventually_zero()


def _eventually_zero() -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if connection_count() == 0:
            return True
        time.sleep(0.05)
    return False


def test_a_connection_gone_without_a_goodbye_is_forgotten(stack: Stack, tenant: Tenant) -> None:
    # given: a connection the database knows but the gateway does not (its $disconnect lost)
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            "INSERT INTO inbox_connections (connection_id, tenant_id, user_id)"
            " VALUES ('gone-connection=', %s, 'u_ada')",
            (tenant.id,),
        )

    # when: something happens in Ada's inbox
    send_in_app(stack, tenant, ["u_ada"])

    # then: the gateway answered GoneException and the connection is gone
    assert connection_count() == 0
