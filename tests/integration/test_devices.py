"""Devices through the real API handler: registration (idempotent, moving, capped),
subscription validation, listing, deletion, export and erasure."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import call_api


def put_user(stack: Stack, key: str, user_id: str) -> None:
    status, _, _ = call_api(stack, "PUT", f"/v1/users/{user_id}", key=key, body={})
    assert status == 200


def register(stack: Stack, key: str, user_id: str, body: dict[str, Any]) -> tuple[int, Any]:
    status, _, out = call_api(stack, "POST", f"/v1/users/{user_id}/devices", key=key, body=body)
    return status, out


def test_registering_the_same_token_again_returns_the_same_device_refreshed(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    put_user(stack, tenant.key, "u_1")
    status, first = register(stack, tenant.key, "u_1", {"platform": "android", "token": "tok-a"})
    assert status == 201
    assert first["id"].startswith("dev_") and first["active"] is True

    # when
    again_status, again = register(
        stack, tenant.key, "u_1", {"platform": "android", "token": "tok-a"}
    )

    # then
    assert again_status == 200
    assert again["id"] == first["id"]
    assert again["last_seen_at"] > first["last_seen_at"]
    _, _, listed = call_api(stack, "GET", "/v1/users/u_1/devices", key=tenant.key)
    assert [d["id"] for d in listed["items"]] == [first["id"]]


def test_a_token_registered_by_another_user_moves_to_them(stack: Stack, tenant: Tenant) -> None:
    # given
    put_user(stack, tenant.key, "u_1")
    put_user(stack, tenant.key, "u_2")
    _, device = register(stack, tenant.key, "u_1", {"platform": "ios", "token": "tok-shared"})

    # when
    status, moved = register(stack, tenant.key, "u_2", {"platform": "ios", "token": "tok-shared"})

    # then
    assert status == 200 and moved["id"] == device["id"]
    _, _, of_first = call_api(stack, "GET", "/v1/users/u_1/devices", key=tenant.key)
    _, _, of_second = call_api(stack, "GET", "/v1/users/u_2/devices", key=tenant.key)
    assert of_first["items"] == []
    assert [d["id"] for d in of_second["items"]] == [device["id"]]


def test_over_the_cap_the_device_seen_least_recently_is_deactivated(
    stack: Stack, tenant: Tenant
) -> None:
    # given: the cap is 20 per platform
    put_user(stack, tenant.key, "u_1")
    ids = [
        register(stack, tenant.key, "u_1", {"platform": "android", "token": f"tok-{i}"})[1]["id"]
        for i in range(20)
    ]
    register(stack, tenant.key, "u_1", {"platform": "android", "token": "tok-0"})  # seen again
    register(stack, tenant.key, "u_1", {"platform": "ios", "token": "ios-tok"})  # another platform

    # when
    status, newest = register(stack, tenant.key, "u_1", {"platform": "android", "token": "tok-20"})

    # then: tok-1 (seen least recently) goes; tok-0, seen again, stays; iOS is not counted
    assert status == 201
    _, _, listed = call_api(stack, "GET", "/v1/users/u_1/devices", key=tenant.key)
    inactive = [d for d in listed["items"] if not d["active"]]
    assert [(d["id"], d["deactivated_reason"]) for d in inactive] == [(ids[1], "replaced")]
    assert len(listed["items"]) == 22 and newest["active"]


def test_web_subscriptions_are_validated(stack: Stack, tenant: Tenant) -> None:
    # given
    put_user(stack, tenant.key, "u_1")
    good = stack.simulator.create_web_push_subscription()
    keys = good["keys"]
    not_on_curve = "BA" + "A" * 85  # 65 bytes, 0x04 prefix, but (0, 0) is not a P-256 point
    bad_bodies = [
        {"platform": "web", "subscription": {**good, "endpoint": "ftp://push.example.com/x"}},
        {"platform": "web", "subscription": {**good, "endpoint": "http://push.example.com/x"}},
        {"platform": "web", "subscription": {**good, "keys": {**keys, "p256dh": not_on_curve}}},
        {"platform": "web", "subscription": {**good, "keys": {**keys, "p256dh": "abc"}}},
        {"platform": "web", "subscription": {**good, "keys": {**keys, "auth": "AAAA"}}},
        {"platform": "web", "subscription": {**good, "keys": {**keys, "auth": "!!!"}}},
        {"platform": "web", "token": "tok"},
        {"platform": "android", "subscription": good},
        {"platform": "android", "token": "tok\u0000nul"},
        {"platform": "android", "token": ""},
        {"platform": "windows", "token": "tok"},
    ]

    # when
    statuses = [register(stack, tenant.key, "u_1", body) for body in bad_bodies]

    # then
    for status, body in statuses:
        assert status == 400, body
        assert body["error"]["code"] == "VALIDATION_ERROR"
    _, _, listed = call_api(stack, "GET", "/v1/users/u_1/devices", key=tenant.key)
    assert listed["items"] == []
    # and the simulator's own (local-only, http) origin is allowed
    assert register(stack, tenant.key, "u_1", {"platform": "web", "subscription": good})[0] == 201


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/users/nobody/devices"),
        ("GET", "/v1/users/nobody/devices"),
        ("DELETE", "/v1/users/u_1/devices/dev_01JDQ2X7T5R3C9V0Y8N4KZP6QW"),
        ("DELETE", "/v1/users/u_1/devices/not-an-id"),
    ],
)
def test_unknown_users_and_devices_are_404(
    stack: Stack, tenant: Tenant, method: str, path: str
) -> None:
    put_user(stack, tenant.key, "u_1")
    body = {"platform": "android", "token": "tok"} if method == "POST" else None
    status, _, out = call_api(stack, method, path, key=tenant.key, body=body)
    assert status == 404
    assert out["error"]["code"] == "NOT_FOUND"


def test_a_nul_in_the_user_id_is_a_400(stack: Stack, tenant: Tenant) -> None:
    status, _, out = call_api(
        stack,
        "POST",
        "/v1/users/u%001/devices",
        key=tenant.key,
        body={"platform": "android", "token": "tok"},
    )
    assert status == 400 and out["error"]["code"] == "VALIDATION_ERROR"


def test_devices_need_the_users_scope_and_stay_in_their_tenant(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given
    put_user(stack, tenant.key, "u_1")
    _, device = register(stack, tenant.key, "u_1", {"platform": "android", "token": "tok"})

    # when another tenant looks or deletes
    listed = call_api(stack, "GET", "/v1/users/u_1/devices", key=other_tenant.key)
    deleted = call_api(
        stack, "DELETE", f"/v1/users/u_1/devices/{device['id']}", key=other_tenant.key
    )
    anonymous = call_api(stack, "GET", "/v1/users/u_1/devices")

    # then
    assert listed[0] == 404 and deleted[0] == 404 and anonymous[0] == 401
    _, _, still = call_api(stack, "GET", "/v1/users/u_1/devices", key=tenant.key)
    assert [d["id"] for d in still["items"]] == [device["id"]]


def test_a_deleted_device_is_gone(stack: Stack, tenant: Tenant) -> None:
    put_user(stack, tenant.key, "u_1")
    _, device = register(stack, tenant.key, "u_1", {"platform": "android", "token": "tok"})

    status, _, _ = call_api(
        stack, "DELETE", f"/v1/users/u_1/devices/{device['id']}", key=tenant.key
    )

    assert status == 204
    _, _, listed = call_api(stack, "GET", "/v1/users/u_1/devices", key=tenant.key)
    assert listed["items"] == []


def test_devices_are_in_the_export_and_erased_with_the_user(stack: Stack, tenant: Tenant) -> None:
    # given
    put_user(stack, tenant.key, "u_1")
    _, device = register(stack, tenant.key, "u_1", {"platform": "ios", "token": "tok-ios"})

    # when
    _, _, export = call_api(stack, "GET", "/v1/users/u_1/export", key=tenant.key)
    erased, _, _ = call_api(stack, "DELETE", "/v1/users/u_1", key=tenant.key)

    # then
    assert [(d["id"], d["token"]) for d in export["devices"]] == [(device["id"], "tok-ios")]
    assert erased == 204
    row = stack.db.connection().execute("SELECT count(*) AS n FROM devices").fetchone()
    assert row is not None and row["n"] == 0


def test_the_vapid_public_key_is_served_without_an_api_key(stack: Stack) -> None:
    status, _, body = call_api(stack, "GET", "/v1/web-push/vapid-public-key")
    assert status == 200
    assert len(body["public_key"]) == 87  # 65 bytes, base64url without padding
