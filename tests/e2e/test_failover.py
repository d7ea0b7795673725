"""Through HTTP only, against a `herald dev` of its own: a tenant's SendGrid first and SES
second, a tenant's own VAPID key; the simulator's switch takes accounts down and up; breakers
open and close."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import HERALD, ROOT, LocalHerald, start_herald, wait_for

# Breakers wait 3 s instead of 30 before probing; retries start a second apart.
FAST = {
    "HERALD_CIRCUIT_OPEN_SECONDS": "3",
    "HERALD_RETRY_BASE_SECONDS": "1",
    # Herald's most verbose logs: nothing secret may appear even there.
    "POWERTOOLS_LOG_LEVEL": "DEBUG",
}
THRESHOLD = 20  # Settings.circuit_min_calls: this many failures open a breaker
# A tenant's VAPID private key: 32 bytes, base64url (what `web-push generate-vapid-keys` prints).
VAPID_PRIVATE_KEY = "BwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSY"
SECRETS = {
    "dev_sendgrid": "SG.e2etenant01.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "other_sendgrid": "SG.e2etenant02.ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwv",
    "other_twilio": "0123456789abcdef0123456789abcdef",
}


@pytest.fixture(scope="module")
def own_herald(herald_home: Path) -> Iterator[LocalHerald]:
    running = start_herald(herald_home / "failover", env=FAST)
    yield running
    if running.process.poll() is None:
        running.stop()


@pytest.fixture(scope="module")
def other_key(own_herald: LocalHerald) -> str:
    """The admin key of a second tenant, made with `herald create-tenant`."""
    result = subprocess.run(
        [str(HERALD), "create-tenant", "--name", "Globex"],
        cwd=ROOT,
        env={**os.environ, "HERALD_HOME": str(own_herald.home)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.split("(shown once): ")[1].strip()


def _integrate(client: httpx.Client, sendgrid_key: str) -> tuple[str, str]:
    ids = []
    for priority, body in enumerate(
        (
            {
                "provider": "sendgrid",
                "name": "SendGrid",
                "credentials": {"api_key": sendgrid_key},
                "settings": {"from_email": "mail@acme.example"},
            },
            {"provider": "ses", "name": "SES", "settings": {"from_email": "mail@acme.example"}},
        )
    ):
        response = client.post(
            "/v1/integrations", json={"channel": "email", "priority": priority, **body}
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids[0], ids[1]


def _switch(herald: LocalHerald, provider: str, mode: str, account: str | None = None) -> None:
    body = {"mode": mode, **({"account": account} if account else {})}
    response = httpx.post(f"{herald.url}/_dev/providers/{provider}", json=body)
    assert response.status_code == 200, response.text


def _send(client: httpx.Client, recipients: list[str]) -> str:
    response = client.post(
        "/v1/notifications",
        json={
            "recipients": [{"email": r} for r in recipients],
            "content": {"email": {"subject": "Your order", "text": "It shipped."}},
        },
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _deliveries(client: httpx.Client, notification_id: str) -> list[dict[str, Any]]:
    deliveries: list[dict[str, Any]] = client.get(f"/v1/notifications/{notification_id}").json()[
        "deliveries"
    ]
    return deliveries


def _all(client: httpx.Client, notification_id: str, statuses: set[str]) -> list[dict[str, Any]]:
    deliveries = _deliveries(client, notification_id)
    return deliveries if all(d["status"] in statuses for d in deliveries) else []


def _outbox(herald: LocalHerald, recipients: list[str]) -> list[dict[str, Any]]:
    wanted = set(recipients)
    return [m for m in httpx.get(f"{herald.url}/_dev/outbox").json() if m["to"] in wanted]


def _circuit(client: httpx.Client, integration_id: str) -> str:
    return str(client.get(f"/v1/integrations/{integration_id}").json()["circuit"]["state"])


def test_a_failing_sendgrid_opens_its_breaker_traffic_moves_to_ses_and_comes_back(
    own_herald: LocalHerald,
) -> None:
    client = own_herald.client()
    sendgrid_id, ses_id = _integrate(client, SECRETS["dev_sendgrid"])

    # given SendGrid down for this tenant's account
    _switch(own_herald, "sendgrid", "down", SECRETS["dev_sendgrid"])

    # when as many emails as the breaker's window go out
    first = [f"first{i}@example.com" for i in range(THRESHOLD)]
    first_id = _send(client, first)
    sent = wait_for(lambda: _all(client, first_id, {"sent", "delivered"}), timeout=30)

    # then each went out through SES, once, and SendGrid's breaker opened
    assert {d["integration_id"] for d in sent} == {ses_id}
    assert sorted(m["to"] for m in _outbox(own_herald, first)) == sorted(first)
    assert {m["provider"] for m in _outbox(own_herald, first)} == {"ses"}
    wait_for(lambda: _circuit(client, sendgrid_id) in ("open", "half_open"))

    # when SendGrid is back and the breaker's wait is over
    _switch(own_herald, "sendgrid", "up", SECRETS["dev_sendgrid"])
    time.sleep(3.5)
    later = ["later@example.com"]
    later_id = _send(client, later)
    (delivery,) = wait_for(lambda: _all(client, later_id, {"sent", "delivered"}), timeout=30)

    # then a probe went through SendGrid, which closed the breaker and has the traffic back
    assert delivery["integration_id"] == sendgrid_id
    assert [m["provider"] for m in _outbox(own_herald, later)] == ["sendgrid"]
    assert _circuit(client, sendgrid_id) == "closed"


def test_with_both_down_deliveries_wait_then_go_out_once_none_lost_none_twice(
    own_herald: LocalHerald, other_key: str
) -> None:
    # given a tenant whose SendGrid and SES are both down
    client = own_herald.client(other_key)
    sendgrid_id, _ = _integrate(client, SECRETS["other_sendgrid"])
    _switch(own_herald, "sendgrid", "down", SECRETS["other_sendgrid"])
    _switch(own_herald, "ses", "down")
    try:
        # when
        recipients = [f"wait{i}@example.com" for i in range(THRESHOLD)]
        notification_id = _send(client, recipients)

        # then they wait, deferred, without burning more than the attempt that found both down
        waiting = wait_for(
            lambda: (
                [
                    d
                    for d in _deliveries(client, notification_id)
                    if d["reason"] == "provider_unavailable"
                ]
                if all(
                    d["reason"] == "provider_unavailable"
                    for d in _deliveries(client, notification_id)
                )
                else []
            ),
            timeout=30,
        )
        assert {(d["status"], d["attempts"]) for d in waiting} == {("deferred", 1)}
        assert _outbox(own_herald, recipients) == []

        # when SendGrid comes back
        _switch(own_herald, "sendgrid", "up", SECRETS["other_sendgrid"])
        sent = wait_for(lambda: _all(client, notification_id, {"sent", "delivered"}), timeout=30)
    finally:
        _switch(own_herald, "ses", "up")

    # then every one went out through SendGrid, exactly once
    assert {d["integration_id"] for d in sent} == {sendgrid_id}
    assert sorted(m["to"] for m in _outbox(own_herald, recipients)) == sorted(recipients)


def test_a_tenants_own_vapid_key_down_defers_its_web_pushes_then_they_go_out_once(
    own_herald: LocalHerald, other_key: str
) -> None:
    # given a tenant signing with its own VAPID key, browsers subscribed with it, the key's
    # pushes failing (503)
    client = own_herald.client(other_key)
    created = client.post(
        "/v1/integrations",
        json={
            "channel": "web_push",
            "provider": "web_push",
            "name": "Our VAPID key",
            "credentials": {"vapid_private_key": VAPID_PRIVATE_KEY},
        },
    )
    assert created.status_code == 201, created.text
    integration_id = created.json()["id"]
    key = httpx.get(
        f"{own_herald.url}/v1/web-push/vapid-public-key",
        params={"integration_id": integration_id},
    ).json()["public_key"]
    endpoints = []
    for i in range(THRESHOLD):
        assert client.put(f"/v1/users/browser{i}", json={}).status_code == 200
        subscription = httpx.post(
            f"{own_herald.url}/_dev/web-push/subscriptions",
            json={"behaviour": "ok", "application_server_key": key},
        ).json()
        registered = client.post(
            f"/v1/users/browser{i}/devices", json={"platform": "web", "subscription": subscription}
        )
        assert registered.status_code == 201, registered.text
        endpoints.append(subscription["endpoint"])
    _switch(own_herald, "web_push", "down", key)

    # when
    response = client.post(
        "/v1/notifications",
        json={
            "recipients": [{"user_id": f"browser{i}"} for i in range(THRESHOLD)],
            "content": {"web_push": {"title": "Hi", "body": "Signed with our key"}},
        },
    )
    assert response.status_code == 202, response.text
    notification_id = response.json()["id"]

    # then they wait for the breaker, nothing sent
    wait_for(
        lambda: all(
            d["reason"] == "provider_unavailable" for d in _deliveries(client, notification_id)
        ),
        timeout=30,
    )
    assert _outbox(own_herald, endpoints) == []

    # when the key's pushes go through again
    _switch(own_herald, "web_push", "up", key)
    sent = wait_for(lambda: _all(client, notification_id, {"sent"}), timeout=30)

    # then each went out once, signed with the tenant's key
    assert {d["integration_id"] for d in sent} == {integration_id}
    outbox = _outbox(own_herald, endpoints)
    assert sorted(m["to"] for m in outbox) == sorted(endpoints)
    assert {m["from"] for m in outbox} == {key}
    assert VAPID_PRIVATE_KEY not in created.text + client.get("/v1/integrations").text
    assert "PRIVATE KEY" not in own_herald.log.read_text()


def test_a_hard_bounce_and_an_invalid_address_do_not_fail_over(own_herald: LocalHerald) -> None:
    client = own_herald.client()

    # when (the dev tenant's SendGrid first, SES second, both up)
    bounced_id = _send(client, ["bounce@example.com"])
    invalid_id = _send(client, ["invalid@example.com"])

    # then neither reached SES
    (bounced,) = wait_for(lambda: _all(client, bounced_id, {"bounced"}))
    (invalid,) = wait_for(lambda: _all(client, invalid_id, {"failed"}))
    assert bounced["provider"] == invalid["provider"] == "sendgrid"
    outbox = _outbox(own_herald, ["bounce@example.com", "invalid@example.com"])
    assert [(m["to"], m["provider"]) for m in outbox] == [("bounce@example.com", "sendgrid")]


def test_a_tenants_integrations_are_invisible_to_another_and_credentials_never_leak(
    own_herald: LocalHerald, other_key: str
) -> None:
    # given a Twilio integration of the other tenant (the test call does reach the simulator)
    other = own_herald.client(other_key)
    created = other.post(
        "/v1/integrations",
        json={
            "channel": "sms",
            "provider": "twilio",
            "name": "Twilio",
            "credentials": {"account_sid": "AC" + "a" * 32, "auth_token": SECRETS["other_twilio"]},
            "settings": {"from_number": "+15005550006"},
        },
    )
    assert created.status_code == 201, created.text
    other_id = created.json()["id"]
    tested = other.post(f"/v1/integrations/{other_id}/test")

    # when the dev tenant looks
    mine = own_herald.client()
    listed = mine.get("/v1/integrations").json()["items"]
    read = mine.get(f"/v1/integrations/{other_id}")

    # then it sees its own only
    assert other_id not in {i["id"] for i in listed}
    assert read.status_code == 404
    # and no response, nor any line Herald logged, holds a credential
    responses = json.dumps(listed) + created.text + tested.text + read.text
    responses += other.get("/v1/integrations").text
    log = own_herald.log.read_text()
    # (the log is the one the breakers above logged to)
    assert "circuit open: integration" in log
    for secret in [*SECRETS.values(), VAPID_PRIVATE_KEY]:
        assert secret not in responses
        assert secret not in log


def test_a_stop_to_a_tenants_own_twilio_number_reaches_that_tenant_alone(
    own_herald: LocalHerald, other_key: str
) -> None:
    # given the other tenant's own Twilio account (its test call authenticates to the
    # simulator, which so learns it), its number's webhook set as the README says
    other, mine = own_herald.client(other_key), own_herald.client()
    sid, number, phone = "AC" + "e" * 32, "+14155550777", "+14155550199"
    created = other.post(
        "/v1/integrations",
        json={
            "channel": "sms",
            "provider": "twilio",
            "name": "Globex Twilio",
            "credentials": {"account_sid": sid, "auth_token": "f" * 32},
            "settings": {"from_number": number, "help_text": "Globex alerts. Reply STOP."},
        },
    )
    assert created.status_code == 201, created.text
    assert other.post(f"/v1/integrations/{created.json()['id']}/test").json()["ok"] is True
    webhook = f"/v1/callbacks/twilio/inbound/{created.json()['id']}"

    def inbound(body: str, account: str = sid) -> httpx.Response:
        message = {"from": phone, "to": number, "body": body, "account_sid": account}
        return httpx.post(
            f"{own_herald.url}/_dev/twilio/inbound", json={**message, "webhook_url": webhook}
        )

    # when the user writes STOP, then HELP, to that number
    stop, help_ = inbound("STOP"), inbound("HELP")
    unknown = inbound("STOP", account="AC" + "0" * 32)

    # then Herald took both, signed with that account's token, for that tenant alone
    assert (stop.status_code, stop.json()["herald_status"]) == (200, 200), stop.text
    assert "Globex alerts. Reply STOP." in help_.json()["twiml"]
    theirs = other.get("/v1/suppressions").json()["items"]
    assert [(s["address"], s["reason"]) for s in theirs] == [(phone, "stop")]
    assert phone not in {s["address"] for s in mine.get("/v1/suppressions").json()["items"]}
    # and the simulator refuses an account it never saw
    assert unknown.status_code == 400
