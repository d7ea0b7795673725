"""Integrations through the real API handler: credentials checked, kept in Secrets Manager
(moto), never shown; test calls against the provider simulator; one tenant's invisible to
another."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from local.aws_resources import REGION
from tests.integration.conftest import TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, Stack, Tenant
from tests.integration.pipeline import (
    call_api,
    call_callback,
    create_integration,
    run_pipeline,
    send_email,
)

SENDGRID_KEY = "SG.tenantkey01.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
NOT_A_KEY = "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"


def _sendgrid(priority: int = 0, api_key: str = SENDGRID_KEY) -> dict[str, Any]:
    return {
        "channel": "email",
        "provider": "sendgrid",
        "name": "Our SendGrid",
        "credentials": {"api_key": api_key},
        "settings": {"from_email": "news@acme.example", "from_name": "Acme"},
        "priority": priority,
    }


def _secret(secret_id: str) -> dict[str, Any]:
    client = boto3.client("secretsmanager", region_name=REGION)
    value: dict[str, Any] = json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"])
    return value


def _secret_id(stack: Stack, integration_id: str) -> str:
    row = (
        stack.db.connection()
        .execute("SELECT secret_id FROM integrations WHERE id = %s", (integration_id,))
        .fetchone()
    )
    assert row is not None
    return str(row["secret_id"])


def test_credentials_go_to_a_secret_of_their_own_and_are_never_returned(
    stack: Stack, tenant: Tenant
) -> None:
    # when
    created = create_integration(stack, tenant.key, _sendgrid())

    # then the response shows the last four characters only
    assert created["id"].startswith("int_")
    assert created["credentials_last4"] == SENDGRID_KEY[-4:]
    assert SENDGRID_KEY not in json.dumps(created)
    assert created["circuit"] == {"state": "closed", "opened_at": None, "failure_rate": None}
    assert created["settings"] == {"from_email": "news@acme.example", "from_name": "Acme"}
    # and the key is in Secrets Manager, under the tenant's prefix
    secret_id = _secret_id(stack, created["id"])
    assert f"herald/integrations/{tenant.id}/{created['id']}" in secret_id
    assert _secret(secret_id) == {"api_key": SENDGRID_KEY}
    # and nothing returns it
    _, _, listed = call_api(stack, "GET", "/v1/integrations", key=tenant.key)
    _, _, read = call_api(stack, "GET", f"/v1/integrations/{created['id']}", key=tenant.key)
    assert SENDGRID_KEY not in json.dumps(listed) + json.dumps(read)
    assert [i["id"] for i in listed["items"]] == [created["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_sendgrid(api_key="not-a-sendgrid-key"), "credentials.api_key"),
        (
            {
                "channel": "sms",
                "provider": "twilio",
                "name": "T",
                "credentials": {"account_sid": "AC123", "auth_token": "x" * 32},
                "settings": {"from_number": "+15005550006"},
            },
            "credentials.account_sid",
        ),
        (
            {
                "channel": "push",
                "provider": "fcm",
                "name": "F",
                "credentials": {
                    "service_account": {
                        "type": "service_account",
                        "project_id": "p",
                        "private_key": NOT_A_KEY,
                        "client_email": "a@p.iam.gserviceaccount.com",
                        "token_uri": "https://x",
                    }
                },
            },
            "credentials.service_account.private_key",
        ),
        (
            {
                "channel": "web_push",
                "provider": "web_push",
                "name": "W",
                "credentials": {"vapid_private_key": "AAAA"},
            },
            "credentials.vapid_private_key",
        ),
        (
            {"channel": "email", "provider": "ses", "name": "S", "settings": {"region": "moon"}},
            "settings.from_email",
        ),
    ],
)
def test_bad_credentials_are_refused_naming_the_field_and_nothing_is_stored(
    stack: Stack, tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    # when
    status, _, error = call_api(stack, "POST", "/v1/integrations", key=tenant.key, body=body)

    # then
    assert status == 400, error
    assert error["error"]["code"] == "VALIDATION_ERROR"
    assert field in [d["field"] for d in error["error"]["details"]]
    _, _, listed = call_api(stack, "GET", "/v1/integrations", key=tenant.key)
    assert listed["items"] == []


def test_a_provider_that_does_not_send_the_channel_is_unprocessable(
    stack: Stack, tenant: Tenant
) -> None:
    # when
    status, _, error = call_api(
        stack, "POST", "/v1/integrations", key=tenant.key, body={**_sendgrid(), "channel": "sms"}
    )

    # then
    assert status == 422
    assert error["error"]["details"][0]["field"] == "provider"


def test_another_tenants_integration_is_invisible(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given
    mine = create_integration(stack, tenant.key, _sendgrid())

    # when
    path = f"/v1/integrations/{mine['id']}"
    reads = [
        call_api(stack, "GET", path, key=other_tenant.key)[0],
        call_api(stack, "PATCH", path, key=other_tenant.key, body={"active": False})[0],
        call_api(stack, "POST", f"{path}/test", key=other_tenant.key)[0],
        call_api(stack, "DELETE", path, key=other_tenant.key)[0],
    ]
    _, _, listed = call_api(stack, "GET", "/v1/integrations", key=other_tenant.key)

    # then
    assert reads == [404, 404, 404, 404]
    assert listed["items"] == []
    assert call_api(stack, "GET", path, key=tenant.key)[2]["active"] is True


def test_patch_changes_priority_and_credentials_and_delete_removes_the_secret(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    created = create_integration(stack, tenant.key, _sendgrid())
    path = f"/v1/integrations/{created['id']}"
    secret_id = _secret_id(stack, created["id"])
    new_key = "SG.tenantkey02.ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwv"

    # when
    status, _, changed = call_api(
        stack,
        "PATCH",
        path,
        key=tenant.key,
        body={"priority": 5, "active": False, "credentials": {"api_key": new_key}},
    )

    # then
    assert status == 200, changed
    assert (changed["priority"], changed["active"]) == (5, False)
    assert changed["credentials_last4"] == new_key[-4:]
    assert _secret(secret_id) == {"api_key": new_key}

    # when
    assert call_api(stack, "DELETE", path, key=tenant.key)[0] == 204

    # then
    assert call_api(stack, "GET", path, key=tenant.key)[0] == 404
    client = boto3.client("secretsmanager", region_name=REGION)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_secret_value(SecretId=secret_id)


def test_a_sendgrid_test_call_is_a_sandbox_send_that_delivers_nothing(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    good = create_integration(stack, tenant.key, _sendgrid())
    revoked = create_integration(
        stack, tenant.key, _sendgrid(api_key="SG.revoked.abcdefghijklmnopqrstuvwxyz012345")
    )

    # when
    _, _, passed = call_api(stack, "POST", f"/v1/integrations/{good['id']}/test", key=tenant.key)
    _, _, failed = call_api(stack, "POST", f"/v1/integrations/{revoked['id']}/test", key=tenant.key)

    # then
    assert passed["ok"] is True, passed
    assert "200" in passed["detail"]
    assert failed["ok"] is False
    assert "401" in failed["detail"]
    assert stack.simulator.outbox.list() == []


def test_twilio_and_web_push_test_calls(stack: Stack, tenant: Tenant) -> None:
    # given the simulator's own Twilio account, and a generated VAPID key pair
    twilio = create_integration(
        stack,
        tenant.key,
        {
            "channel": "sms",
            "provider": "twilio",
            "name": "Twilio",
            "credentials": {"account_sid": TWILIO_ACCOUNT_SID, "auth_token": "a1" * 16},
            "settings": {"from_number": "+15005550006"},
        },
    )
    web_push = create_integration(
        stack,
        tenant.key,
        {
            "channel": "web_push",
            "provider": "web_push",
            "name": "VAPID",
            "credentials": {"generate": True},
        },
    )

    # when
    _, _, twilio_result = call_api(
        stack, "POST", f"/v1/integrations/{twilio['id']}/test", key=tenant.key
    )
    _, _, vapid_result = call_api(
        stack, "POST", f"/v1/integrations/{web_push['id']}/test", key=tenant.key
    )

    # then the wrong token is refused by Twilio (the simulator knows its own account only)
    assert twilio_result["ok"] is False
    assert "401" in twilio_result["detail"]
    # and the generated public key is shown, the private key is only in the secret
    public_key = web_push["settings"]["vapid_public_key"]
    assert vapid_result == {"ok": True, "provider": "web_push", "detail": vapid_result["detail"]}
    assert public_key in vapid_result["detail"]
    assert "PRIVATE" in _secret(_secret_id(stack, web_push["id"]))["vapid_private_key"]
    assert TWILIO_AUTH_TOKEN not in json.dumps(twilio_result)


def test_an_fcm_test_call_is_a_validate_only_send(stack: Stack, tenant: Tenant) -> None:
    # given the simulator's own Firebase project, and one whose key FCM does not know
    known = stack.simulator.fcm_service_account()
    stranger = {
        **known,
        "private_key": rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode(),
    }
    results = []
    for account in (known, stranger):
        created = create_integration(
            stack,
            tenant.key,
            {
                "channel": "push",
                "provider": "fcm",
                "name": "Firebase",
                "credentials": {"service_account": account},
            },
        )
        assert created["settings"] == {"project_id": known["project_id"]}

        # when
        _, _, result = call_api(
            stack, "POST", f"/v1/integrations/{created['id']}/test", key=tenant.key
        )
        results.append(result)

    # then FCM validated the first without delivering anything, and refused the second
    assert results[0]["ok"] is True, results[0]
    assert "validate_only" in results[0]["detail"]
    assert results[1]["ok"] is False
    assert stack.simulator.outbox.list() == []


def _sign(key: ec.EllipticCurvePrivateKey, payload: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = key.sign((timestamp + payload).encode(), ec.ECDSA(hashes.SHA256()))
    return {
        "x-twilio-email-event-webhook-signature": base64.b64encode(signature).decode(),
        "x-twilio-email-event-webhook-timestamp": timestamp,
    }


def test_a_tenants_own_sendgrid_reports_events_signed_with_its_own_key(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given a SendGrid integration with its account's Event Webhook key, and an email it sent
    account_key = ec.generate_private_key(ec.SECP256R1())
    public = account_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    body = _sendgrid()
    body["settings"]["webhook_public_key"] = base64.b64encode(public).decode()
    integration = create_integration(stack, tenant.key, body)
    _, _, accepted = send_email(stack, tenant.key, ["ada@example.com"])
    _, _, foreign = send_email(stack, other_tenant.key, ["bob@example.com"])
    run_pipeline(stack)
    mine = _only_delivery(stack, tenant.key, accepted["id"])
    theirs = _only_delivery(stack, other_tenant.key, foreign["id"])
    assert mine["integration_id"] == integration["id"]
    payload = json.dumps(
        [
            {
                "event": "delivered",
                "sg_event_id": "e1",
                "timestamp": int(time.time()),
                "delivery_id": mine["id"],
                "tenant_id": tenant.id,
            },
            {
                "event": "delivered",
                "sg_event_id": "e2",
                "timestamp": int(time.time()),
                "delivery_id": theirs["id"],
                "tenant_id": other_tenant.id,
            },
        ]
    )
    path = f"/v1/callbacks/sendgrid/{integration['id']}"

    # when signed with the deployment's key, then with the account's own
    refused, _ = call_callback(stack, path, payload, stack.sign_sendgrid(payload))
    status, result = call_callback(stack, path, payload, _sign(account_key, payload))

    # then only the account's signature counts, and only for its tenant's delivery
    assert refused == 401
    assert status == 200, result
    assert _only_delivery(stack, tenant.key, accepted["id"])["status"] == "delivered"
    assert _only_delivery(stack, other_tenant.key, foreign["id"])["status"] == "sent"
    unknown, _ = call_callback(
        stack, "/v1/callbacks/sendgrid/int_unknown", payload, _sign(account_key, payload)
    )
    assert unknown == 401


def _only_delivery(stack: Stack, key: str, notification_id: str) -> dict[str, Any]:
    _, _, body = call_api(stack, "GET", f"/v1/notifications/{notification_id}", key=key)
    (delivery,) = body["deliveries"]
    result: dict[str, Any] = delivery
    return result
