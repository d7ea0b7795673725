"""Messages users send to a tenant's own Twilio numbers: posted to the webhook URL that names the
tenant's integration, verified with that account's token, and applied to that tenant alone."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from tests.integration.conftest import (
    PUBLIC_BASE_URL,
    SMS_FROM,
    TWILIO_AUTH_TOKEN,
    LambdaContext,
    Stack,
    Tenant,
    http_event,
)
from tests.integration.pipeline import call_api, create_integration, run_pipeline
from tests.integration.test_sms import PHONE, inbound, only_delivery, send_sms

ACME = ("AC" + "5" * 32, "f" * 32)
GLOBEX = ("AC" + "6" * 32, "a" * 32)
ACME_NUMBER = "+14155550777"
ACME_HELP = "Acme alerts: reply STOP to stop, START to resume."


def _twilio_integration(
    stack: Stack, tenant: Tenant, account: tuple[str, str], **settings: str
) -> str:
    sid, token = account
    created = create_integration(
        stack,
        tenant.key,
        {
            "channel": "sms",
            "provider": "twilio",
            "name": "Our Twilio",
            "credentials": {"account_sid": sid, "auth_token": token},
            "settings": {"from_number": ACME_NUMBER, **settings},
        },
    )
    return str(created["id"])


def _inbound_to(
    stack: Stack,
    integration_id: str,
    body: str,
    *,
    token: str | None,
    account_sid: str = ACME[0],
    sender: str = PHONE,
    to: str = ACME_NUMBER,
) -> dict[str, Any]:
    """A user's message to a tenant's number, posted as Twilio posts it to the webhook URL the
    tenant set on it, signed with `token` (None: unsigned)."""
    path = f"/v1/callbacks/twilio/inbound/{integration_id}"
    params = {
        "MessageSid": "SM" + "3" * 32,
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "AccountSid": account_sid,
    }
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if token is not None:
        signature = RequestValidator(token).compute_signature(PUBLIC_BASE_URL + path, params)
        headers["x-twilio-signature"] = signature
    event = http_event("POST", path, raw_body=urlencode(params), headers=headers)
    response: dict[str, Any] = stack.handlers["webhooks.handler"].handler(event, LambdaContext())
    return response


def _suppressed(stack: Stack, tenant: Tenant) -> list[tuple[str, str]]:
    status, _, body = call_api(stack, "GET", "/v1/suppressions", key=tenant.key)
    assert status == 200, body
    return [(s["address"], s["reason"]) for s in body["items"]]


def _preference_events(stack: Stack, tenant: Tenant) -> list[dict[str, Any]]:
    with stack.db.transaction() as conn:
        return conn.execute(
            "SELECT address, source, change FROM preference_events WHERE tenant_id = %s"
            " ORDER BY id",
            (tenant.id,),
        ).fetchall()


def _both_message_the_user(stack: Stack, acme: Tenant, globex: Tenant) -> str:
    """Acme writes to PHONE from its own account, Globex through the deployment's."""
    integration_id = _twilio_integration(stack, acme, ACME, help_text=ACME_HELP)
    send_sms(stack, acme.key)
    send_sms(stack, globex.key)
    run_pipeline(stack)
    senders = {(e["from"], e["to"]) for e in stack.simulator.outbox.list()}
    assert senders == {(ACME_NUMBER, PHONE), (SMS_FROM, PHONE)}
    return integration_id


def test_a_stop_to_a_tenants_own_number_suppresses_for_that_tenant_alone(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given
    integration_id = _both_message_the_user(stack, tenant, other_tenant)

    # when the user answers STOP to Acme's number
    response = _inbound_to(stack, integration_id, "Stop", token=ACME[1])
    acme_next = send_sms(stack, tenant.key)
    globex_next = send_sms(stack, other_tenant.key)
    run_pipeline(stack)

    # then Acme no longer writes to them; Globex still does
    assert response["statusCode"] == 200, response
    assert response["headers"]["Content-Type"] == "application/xml"
    assert _suppressed(stack, tenant) == [(PHONE, "stop")]
    assert _suppressed(stack, other_tenant) == []
    skipped = only_delivery(stack, tenant.key, acme_next)
    assert (skipped["status"], skipped["reason"]) == ("skipped", "suppressed")
    assert only_delivery(stack, other_tenant.key, globex_next)["status"] == "sent"
    assert _preference_events(stack, other_tenant) == []


def test_a_stop_to_the_deployments_number_spares_a_tenant_writing_from_its_own(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given
    _both_message_the_user(stack, tenant, other_tenant)

    # when the user answers STOP to the deployment's number
    inbound(stack, "STOP")

    # then only Globex, which wrote from that number, stops
    assert _suppressed(stack, other_tenant) == [(PHONE, "stop")]
    assert _suppressed(stack, tenant) == []


def test_start_to_a_tenants_number_lifts_that_tenants_stop_only(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given the user stopped both tenants, each at its own number
    integration_id = _both_message_the_user(stack, tenant, other_tenant)
    _inbound_to(stack, integration_id, "STOP", token=ACME[1])
    inbound(stack, "STOP")

    # when they answer START to Acme's number
    response = _inbound_to(stack, integration_id, "unstop", token=ACME[1])
    run_pipeline(stack)
    resumed = send_sms(stack, tenant.key)
    run_pipeline(stack)

    # then Acme writes again, Globex stays stopped
    assert response["statusCode"] == 200
    assert _suppressed(stack, tenant) == []
    assert _suppressed(stack, other_tenant) == [(PHONE, "stop")]
    assert only_delivery(stack, tenant.key, resumed)["status"] == "sent"
    changes = [e["change"] for e in _preference_events(stack, tenant)]
    assert changes == [{"suppressed": "stop"}, {"suppressed": None}]


def test_help_to_a_tenants_number_is_answered_with_that_tenants_help_text(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given
    integration_id = _both_message_the_user(stack, tenant, other_tenant)

    # when
    response = _inbound_to(stack, integration_id, "help", token=ACME[1])

    # then Twilio sends the TwiML answer from the number written to: Acme's
    assert response["statusCode"] == 200
    assert f"<Message>{ACME_HELP}</Message>" in response["body"]
    assert _preference_events(stack, tenant) == [
        {"address": PHONE, "source": "provider", "change": {"help": "requested"}}
    ]
    assert _preference_events(stack, other_tenant) == []


def test_a_tenant_number_without_help_text_answers_with_the_deployments(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    integration_id = _twilio_integration(stack, tenant, ACME)

    # when
    response = _inbound_to(stack, integration_id, "HELP", token=ACME[1])

    # then
    assert "<Message>Herald notifications. Reply STOP" in response["body"]


@pytest.mark.parametrize(
    "forgery",
    [
        ("unsigned", None, ACME[0]),
        ("signed with the deployment's token", TWILIO_AUTH_TOKEN, ACME[0]),
        ("signed with another tenant's account token", GLOBEX[1], GLOBEX[0]),
        ("signed by the account but naming another", ACME[1], GLOBEX[0]),
        ("an integration that does not exist", ACME[1], ACME[0]),
    ],
)
def test_a_forged_inbound_to_a_tenant_number_is_401_and_changes_nothing(
    stack: Stack, tenant: Tenant, other_tenant: Tenant, forgery: tuple[str, str | None, str]
) -> None:
    # given both tenants with their own accounts, both writing to the user
    integration_id = _both_message_the_user(stack, tenant, other_tenant)
    _twilio_integration(stack, other_tenant, GLOBEX)
    case, signer, account_sid = forgery
    target = "int_doesnotexist" if case.startswith("an integration") else integration_id

    # when
    response = _inbound_to(stack, target, "STOP", token=signer, account_sid=account_sid)

    # then
    assert response["statusCode"] == 401, case
    for someone in (tenant, other_tenant):
        assert _suppressed(stack, someone) == []
        assert _preference_events(stack, someone) == []
