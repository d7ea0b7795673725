"""Tenants' own FCM projects and VAPID keys through the real push workers (`firebase-admin`,
`pywebpush`) and the simulator, which knows which project a token belongs to and which key a
subscription was made with: a send through the wrong account is refused, as FCM and push
services refuse it."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from herald.models.messages import ChannelMessage
from herald.services import vapid

from tests.integration.conftest import VAPID_SECRET, Stack, Tenant
from tests.integration.pipeline import (
    call_api,
    create_integration,
    run_pipeline,
    run_push_worker,
    run_web_push_worker,
)
from tests.integration.test_events import _events, _subscribed_queue
from tests.integration.test_integrations import _secret
from tests.integration.test_push import PUSH, WEB_PUSH, deliveries

PROJECT = "acme-app"
BACKUP_PROJECT = "acme-backup"
SUBJECT = "mailto:push@acme.example"
# The breaker's window (Settings.circuit_min_calls): this many failures open it.
THRESHOLD = 20


def _fcm(stack: Stack, key: str, project_id: str, priority: int = 0) -> dict[str, Any]:
    return create_integration(
        stack,
        key,
        {
            "channel": "push",
            "provider": "fcm",
            "name": f"Firebase {project_id}",
            "priority": priority,
            "credentials": {"service_account": stack.simulator.fcm_service_account(project_id)},
        },
    )


def _vapid(stack: Stack, key: str, priority: int = 0) -> dict[str, Any]:
    return create_integration(
        stack,
        key,
        {
            "channel": "web_push",
            "provider": "web_push",
            "name": f"VAPID {priority}",
            "priority": priority,
            "credentials": {"generate": True},
            "settings": {"subject": SUBJECT},
        },
    )


def _public_key(stack: Stack, integration_id: str | None = None) -> tuple[int, Any]:
    """GET /v1/web-push/vapid-public-key, without an API key, as a browser calls it."""
    query = {"integration_id": integration_id} if integration_id else None
    status, _, body = call_api(stack, "GET", "/v1/web-push/vapid-public-key", query=query)
    return status, body


def _users(stack: Stack, key: str, devices: list[dict[str, Any]]) -> list[str]:
    """One user per device body (`platform` and `token` or `subscription`)."""
    user_ids = []
    for i, device in enumerate(devices):
        user_id = f"u_{i}"
        assert call_api(stack, "PUT", f"/v1/users/{user_id}", key=key, body={})[0] == 200
        status, _, created = call_api(
            stack, "POST", f"/v1/users/{user_id}/devices", key=key, body=device
        )
        assert status == 201, created
        user_ids.append(user_id)
    return user_ids


def _send(stack: Stack, key: str, user_ids: list[str], **content: Any) -> str:
    status, _, accepted = call_api(
        stack,
        "POST",
        "/v1/notifications",
        key=key,
        body={"recipients": [{"user_id": u} for u in user_ids], "content": content},
    )
    assert status == 202, accepted
    return str(accepted["id"])


def _all_deliveries(stack: Stack, key: str, notification_id: str) -> list[dict[str, Any]]:
    _, _, notification = call_api(stack, "GET", f"/v1/notifications/{notification_id}", key=key)
    found: list[dict[str, Any]] = notification["deliveries"]
    return found


def _circuit(stack: Stack, key: str, integration_id: str) -> dict[str, Any]:
    _, _, body = call_api(stack, "GET", f"/v1/integrations/{integration_id}", key=key)
    circuit: dict[str, Any] = body["circuit"]
    return circuit


def test_a_tenant_with_its_own_firebase_project_sends_through_it_and_another_through_ours(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given a tenant whose app registers with its own Firebase project, and one without
    integration = _fcm(stack, tenant.key, PROJECT)
    own_token = stack.simulator.fcm_registration_token(PROJECT)
    _users(stack, tenant.key, [{"platform": "android", "token": own_token}])
    _users(stack, other_tenant.key, [{"platform": "ios", "token": "ios-token-1"}])

    # when both send
    theirs = _send(stack, tenant.key, ["u_0"], push=PUSH)
    ours = _send(stack, other_tenant.key, ["u_0"], push=PUSH)
    run_pipeline(stack)

    # then each went out through its own project (the simulator refuses a token sent through
    # another project with SENDER_ID_MISMATCH), and the delivery names the integration
    sent = {entry["to"]: entry["from"] for entry in stack.simulator.outbox.list()}
    assert sent == {own_token: PROJECT, "ios-token-1": "herald-local"}
    push = deliveries(stack, tenant.key, theirs)["push"]
    assert (push["status"], push["provider"], push["integration_id"]) == (
        "sent",
        "fcm",
        integration["id"],
    )
    default = deliveries(stack, other_tenant.key, ours)["push"]
    assert (default["status"], default["integration_id"]) == ("sent", None)


def test_only_the_first_firebase_project_serves_a_tenants_devices(
    stack: Stack, tenant: Tenant
) -> None:
    # given two projects; the app's tokens belong to the first
    first = _fcm(stack, tenant.key, PROJECT, priority=0)
    _fcm(stack, tenant.key, BACKUP_PROJECT, priority=1)
    token = stack.simulator.fcm_registration_token(PROJECT)
    _users(stack, tenant.key, [{"platform": "android", "token": token}])

    # when
    notification_id = _send(stack, tenant.key, ["u_0"], push=PUSH)
    run_pipeline(stack)

    # then
    push = deliveries(stack, tenant.key, notification_id)["push"]
    assert (push["status"], push["integration_id"]) == ("sent", first["id"])
    assert [(e["to"], e["from"]) for e in stack.simulator.outbox.list()] == [(token, PROJECT)]


def test_once_the_first_project_is_deleted_the_next_serves_at_once(
    stack: Stack, tenant: Tenant
) -> None:
    # given a tenant moving from its first project to its second, whose integrations the
    # worker has just read (and keeps for a while)
    first = _fcm(stack, tenant.key, PROJECT, priority=0)
    second = _fcm(stack, tenant.key, BACKUP_PROJECT, priority=1)
    old, new = (stack.simulator.fcm_registration_token(p) for p in (PROJECT, BACKUP_PROJECT))
    _users(stack, tenant.key, [{"platform": "android", "token": old}])
    _send(stack, tenant.key, ["u_0"], push=PUSH)
    run_pipeline(stack)
    assert call_api(stack, "DELETE", f"/v1/integrations/{first['id']}", key=tenant.key)[0] == 204
    assert call_api(stack, "PUT", "/v1/users/u_1", key=tenant.key, body={})[0] == 200
    device = {"platform": "android", "token": new}
    assert call_api(stack, "POST", "/v1/users/u_1/devices", key=tenant.key, body=device)[0] == 201

    # when
    notification_id = _send(stack, tenant.key, ["u_1"], push=PUSH)
    run_pipeline(stack)

    # then the second project sent it, not the deleted one nor the deployment's
    push = deliveries(stack, tenant.key, notification_id)["push"]
    assert (push["status"], push["integration_id"]) == ("sent", second["id"])
    assert {(e["to"], e["from"]) for e in stack.simulator.outbox.list()} == {
        (old, PROJECT),
        (new, BACKUP_PROJECT),
    }


def test_a_tenant_with_its_own_vapid_key_signs_with_it_and_another_with_ours(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given a tenant whose pages subscribe with its own key (read without an API key), and
    # one whose pages use the deployment's
    integration = _vapid(stack, tenant.key)
    status, own_key = _public_key(stack, integration["id"])
    assert status == 200
    assert own_key == {"public_key": integration["settings"]["vapid_public_key"]}
    assert _public_key(stack) == (200, {"public_key": vapid.public_key(VAPID_SECRET)})
    own = stack.simulator.create_web_push_subscription("ok", own_key["public_key"])
    default = stack.simulator.create_web_push_subscription("ok")
    _users(stack, tenant.key, [{"platform": "web", "subscription": own}])
    _users(stack, other_tenant.key, [{"platform": "web", "subscription": default}])

    # when both send
    theirs = _send(stack, tenant.key, ["u_0"], web_push=WEB_PUSH)
    ours = _send(stack, other_tenant.key, ["u_0"], web_push=WEB_PUSH)
    run_pipeline(stack)

    # then each subscription got its push signed with the key it was made with (another key
    # is refused with 403), decrypted as the browser would
    sent = {entry["to"]: entry for entry in stack.simulator.outbox.list()}
    assert {to: entry["from"] for to, entry in sent.items()} == {
        own["endpoint"]: own_key["public_key"],
        default["endpoint"]: vapid.public_key(VAPID_SECRET),
    }
    assert sent[own["endpoint"]]["payload"]["title"] == WEB_PUSH["title"]
    web = deliveries(stack, tenant.key, theirs)["web_push"]
    assert (web["status"], web["integration_id"]) == ("sent", integration["id"])
    assert deliveries(stack, other_tenant.key, ours)["web_push"]["integration_id"] is None


def test_the_public_key_of_an_unknown_integration_is_404_and_a_malformed_id_400(
    stack: Stack, tenant: Tenant
) -> None:
    # given an integration that is not web push
    fcm = _fcm(stack, tenant.key, PROJECT)

    # when / then
    assert _public_key(stack, fcm["id"])[0] == 404
    assert _public_key(stack, "int_" + "0" * 26)[0] == 404
    status, body = _public_key(stack, "int_nope")
    assert status == 400
    assert body["error"]["code"] == "VALIDATION_ERROR"


@dataclass(frozen=True)
class OwnAccount:
    """How one channel's test sets up a tenant's two integrations and its users' devices."""

    channel: str
    provider: str
    # Creates the first and a second integration; returns the first, and its account as the
    # simulator names it (the project, the VAPID public key).
    setup: Callable[[Stack, Tenant], tuple[dict[str, Any], str]]
    # A device of the account's app (a token of the project, a subscription to the key).
    device: Callable[[Stack, str], dict[str, Any]]
    content: dict[str, Any]
    worker: Callable[[Stack], int]


def _two_projects(stack: Stack, tenant: Tenant) -> tuple[dict[str, Any], str]:
    first = _fcm(stack, tenant.key, PROJECT, priority=0)
    _fcm(stack, tenant.key, BACKUP_PROJECT, priority=1)
    return first, PROJECT


def _two_keys(stack: Stack, tenant: Tenant) -> tuple[dict[str, Any], str]:
    first = _vapid(stack, tenant.key, priority=0)
    _vapid(stack, tenant.key, priority=1)
    return first, first["settings"]["vapid_public_key"]


FIREBASE = OwnAccount(
    "push",
    "fcm",
    _two_projects,
    lambda stack, project: {
        "platform": "android",
        "token": stack.simulator.fcm_registration_token(project),
    },
    {"push": PUSH},
    run_push_worker,
)
VAPID = OwnAccount(
    "web_push",
    "web_push",
    _two_keys,
    lambda stack, key: {
        "platform": "web",
        "subscription": stack.simulator.create_web_push_subscription("ok", key),
    },
    {"web_push": WEB_PUSH},
    run_web_push_worker,
)


@pytest.mark.parametrize("own", [FIREBASE, VAPID], ids=["fcm", "web_push"])
def test_with_its_account_down_deliveries_wait_then_go_out_once_none_lost_none_twice(
    stack: Stack,
    tenant: Tenant,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    own: OwnAccount,
) -> None:
    # given the tenant's first account down, as many users as the breaker's window
    # (Herald's own loggers at DEBUG; botocore's DEBUG wire trace, which holds whatever
    # Secrets Manager returns, is no log Herald writes)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="herald")
    events_queue = _subscribed_queue(stack)
    integration, account = own.setup(stack, tenant)
    integration_id = integration["id"]
    user_ids = _users(stack, tenant.key, [own.device(stack, account) for _ in range(THRESHOLD)])
    stack.simulator.modes.set(own.provider, "down", account)

    # when
    notification_id = _send(stack, tenant.key, user_ids, **own.content)
    run_pipeline(stack)

    # then the breaker opened, the deliveries wait without burning attempts, and nothing went
    # to the second account (the devices are not its own)
    waiting = _all_deliveries(stack, tenant.key, notification_id)
    assert {(d["status"], d["reason"], d["attempts"]) for d in waiting} == {
        ("deferred", "provider_unavailable", 1)
    }
    assert _circuit(stack, tenant.key, integration_id)["state"] == "open"
    assert stack.simulator.outbox.list() == []
    _, _, listed = call_api(stack, "GET", f"/v1/users/{user_ids[0]}/devices", key=tenant.key)
    assert [d["active"] for d in listed["items"]] == [True]

    # when the account is back, the breaker's wait is over and their queue message comes due
    stack.simulator.modes.set(own.provider, "up", account)
    stack.db.connection().execute(
        "UPDATE integration_circuits SET opened_at = %s",
        (datetime.now(UTC) - timedelta(seconds=31),),
    )
    queue = stack.resources.push if own.channel == "push" else stack.resources.web_push
    stack.drain(queue.url)
    stack.sqs().send_message(
        QueueUrl=queue.url,
        MessageBody=ChannelMessage(
            tenant_id=tenant.id, channel=own.channel, delivery_ids=[d["id"] for d in waiting]
        ).model_dump_json(),
    )
    own.worker(stack)
    # (those the half-open breaker held back while its probes ran come due a second later)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(
        d["status"] != "sent" for d in _all_deliveries(stack, tenant.key, notification_id)
    ):
        run_pipeline(stack)
        time.sleep(0.2)

    # then every one went out through the first account, once, and its breaker closed
    sent = _all_deliveries(stack, tenant.key, notification_id)
    assert {(d["status"], d["integration_id"]) for d in sent} == {("sent", integration_id)}
    outbox = stack.simulator.outbox.list()
    assert Counter(e["from"] for e in outbox) == {account: THRESHOLD}
    assert len({e["to"] for e in outbox}) == THRESHOLD
    assert _circuit(stack, tenant.key, integration_id)["state"] == "closed"
    changes = [
        e["type"] for e in _events(stack, events_queue) if e["type"].startswith("integration.")
    ]
    assert sorted(changes) == ["integration.circuit_closed", "integration.circuit_opened"]
    # and no response, nor any line logged, holds the account's private key
    _, _, integrations = call_api(stack, "GET", "/v1/integrations", key=tenant.key)
    secret = _private_key_of(stack, own.provider, account)
    logged = caplog.text + "".join(capfd.readouterr())
    assert "circuit open: integration" in caplog.text
    for text in (json.dumps(integrations), json.dumps(sent), logged):
        assert secret not in text
        assert "PRIVATE KEY" not in text


def _private_key_of(stack: Stack, provider: str, account: str) -> str:
    """The body of the account's private key (one line of its PEM)."""
    if provider == "fcm":
        pem = stack.simulator.fcm_service_account(account)["private_key"]
    else:
        row = (
            stack.db.connection()
            .execute(
                "SELECT secret_id FROM integrations WHERE settings->>'vapid_public_key' = %s",
                (account,),
            )
            .fetchone()
        )
        assert row is not None
        pem = _secret(row["secret_id"])["vapid_private_key"]
    return str(pem.splitlines()[1])
