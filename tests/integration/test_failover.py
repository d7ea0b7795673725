"""Failover and circuit breakers through the real email worker: a tenant's SendGrid first,
its SES second, the simulator taking accounts down and up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from herald.models.messages import ChannelMessage
from twilio.request_validator import RequestValidator

from tests.integration.conftest import (
    PUBLIC_BASE_URL,
    TWILIO_AUTH_TOKEN,
    LambdaContext,
    Stack,
    Tenant,
    http_event,
)
from tests.integration.pipeline import (
    call_api,
    create_integration,
    run_email_worker,
    run_pipeline,
    run_until,
    send_email,
)
from tests.integration.test_events import _events, _subscribed_queue
from tests.integration.test_sms import only_delivery, send_sms

SENDGRID_KEY = "SG.failover01.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
# The breaker's window (Settings.circuit_min_calls): this many failures open it.
THRESHOLD = 20


def _integrations(stack: Stack, tenant: Tenant) -> tuple[str, str]:
    """SendGrid first, SES second; returns their ids."""
    ids = []
    for priority, body in enumerate(
        (
            {
                "provider": "sendgrid",
                "name": "SendGrid",
                "credentials": {"api_key": SENDGRID_KEY},
                "settings": {"from_email": "mail@acme.example"},
            },
            {
                "provider": "ses",
                "name": "SES",
                "settings": {"from_email": "mail@acme.example", "region": "us-east-1"},
            },
        )
    ):
        created = create_integration(
            stack, tenant.key, {"channel": "email", "priority": priority, **body}
        )
        ids.append(created["id"])
    return ids[0], ids[1]


def _deliveries(stack: Stack, tenant: Tenant, notification_id: str) -> list[dict[str, Any]]:
    _, _, body = call_api(stack, "GET", f"/v1/notifications/{notification_id}", key=tenant.key)
    deliveries: list[dict[str, Any]] = body["deliveries"]
    return deliveries


def _circuit(stack: Stack, tenant: Tenant, integration_id: str) -> dict[str, Any]:
    _, _, body = call_api(stack, "GET", f"/v1/integrations/{integration_id}", key=tenant.key)
    circuit: dict[str, Any] = body["circuit"]
    return circuit


def _senders(stack: Stack) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in stack.simulator.outbox.list():
        counts[entry["provider"]] = counts.get(entry["provider"], 0) + 1
    return counts


def _recipients(count: int, prefix: str = "user") -> list[str]:
    return [f"{prefix}{i}@example.com" for i in range(count)]


def test_a_retryable_failure_moves_the_delivery_to_the_next_integration(
    stack: Stack, tenant: Tenant
) -> None:
    # given SendGrid down
    sendgrid_id, ses_id = _integrations(stack, tenant)
    stack.simulator.modes.set("sendgrid", "down", SENDGRID_KEY)

    # when
    _, _, accepted = send_email(stack, tenant.key, ["ada@example.com"])
    run_pipeline(stack)

    # then it went out through SES, in the same attempt, with SendGrid's failure on record
    (delivery,) = _deliveries(stack, tenant, accepted["id"])
    assert delivery["status"] == "sent"
    assert (delivery["provider"], delivery["integration_id"]) == ("ses", ses_id)
    assert delivery["attempts"] == 1
    sent = next(e for e in delivery["events"] if e["status"] == "sent")
    assert [t["integration_id"] for t in sent["detail"]["tried"]] == [sendgrid_id]
    assert "503" in sent["detail"]["tried"][0]["error"]
    assert _senders(stack) == {"ses": 1}
    assert stack.simulator.outbox.list()[0]["from"] == "mail@acme.example"


def test_a_permanent_failure_about_the_address_does_not_fail_over(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    sendgrid_id, _ = _integrations(stack, tenant)

    # when SendGrid refuses the address itself
    _, _, accepted = send_email(stack, tenant.key, ["invalid@example.com"])
    run_pipeline(stack)

    # then
    (delivery,) = _deliveries(stack, tenant, accepted["id"])
    assert delivery["status"] == "failed"
    assert (delivery["provider"], delivery["integration_id"]) == ("sendgrid", sendgrid_id)
    assert _senders(stack) == {}


def test_the_breaker_opens_at_the_threshold_and_traffic_skips_the_integration(
    stack: Stack, tenant: Tenant
) -> None:
    # given SendGrid down for as many sends as the window holds
    events_queue = _subscribed_queue(stack)
    sendgrid_id, ses_id = _integrations(stack, tenant)
    stack.simulator.modes.set("sendgrid", "down", SENDGRID_KEY)
    send_email(stack, tenant.key, _recipients(THRESHOLD))
    run_pipeline(stack)

    # when the next email goes out
    _, _, accepted = send_email(stack, tenant.key, ["next@example.com"])
    run_pipeline(stack)

    # then the breaker is open, and SendGrid was not even tried
    circuit = _circuit(stack, tenant, sendgrid_id)
    assert circuit["state"] == "open"
    assert circuit["failure_rate"] == 1.0
    (delivery,) = _deliveries(stack, tenant, accepted["id"])
    assert (delivery["status"], delivery["integration_id"]) == ("sent", ses_id)
    sent = next(e for e in delivery["events"] if e["status"] == "sent")
    assert "tried" not in sent["detail"]
    assert _senders(stack) == {"ses": THRESHOLD + 1}
    opened = [e for e in _events(stack, events_queue) if e["type"].startswith("integration.")]
    assert [(e["type"], e["integration_id"]) for e in opened] == [
        ("integration.circuit_opened", sendgrid_id)
    ]
    assert _circuit(stack, tenant, ses_id)["state"] == "closed"


def test_with_every_breaker_open_deliveries_wait_then_go_out_once_a_probe_succeeds(
    stack: Stack, tenant: Tenant
) -> None:
    # given both accounts down until both breakers opened
    events_queue = _subscribed_queue(stack)
    sendgrid_id, ses_id = _integrations(stack, tenant)
    stack.simulator.modes.set("sendgrid", "down", SENDGRID_KEY)
    stack.simulator.modes.set("ses", "down")
    _, _, accepted = send_email(stack, tenant.key, _recipients(THRESHOLD))
    run_pipeline(stack)

    # then they wait, without burning attempts beyond the one that found both down
    waiting = _deliveries(stack, tenant, accepted["id"])
    assert {(d["status"], d["reason"], d["attempts"]) for d in waiting} == {
        ("deferred", "provider_unavailable", 1)
    }
    assert {_circuit(stack, tenant, i)["state"] for i in (sendgrid_id, ses_id)} == {"open"}

    # when SendGrid is back, the breaker's wait is over, and their queue message comes due
    stack.simulator.modes.set("sendgrid", "up", SENDGRID_KEY)
    stack.db.connection().execute(
        "UPDATE integration_circuits SET opened_at = %s",
        (datetime.now(UTC) - timedelta(seconds=31),),
    )
    stack.drain(stack.resources.email.url)
    stack.sqs().send_message(
        QueueUrl=stack.resources.email.url,
        MessageBody=ChannelMessage(
            tenant_id=tenant.id, channel="email", delivery_ids=[d["id"] for d in waiting]
        ).model_dump_json(),
    )
    run_email_worker(stack)
    run_pipeline(stack)
    # those that found every probe slot taken wait a second (the probes decide meanwhile)
    run_until(
        stack, lambda: {d["status"] for d in _deliveries(stack, tenant, accepted["id"])} == {"sent"}
    )

    # then every one went out through SendGrid, once, and its breaker closed
    sent = _deliveries(stack, tenant, accepted["id"])
    assert {(d["status"], d["integration_id"]) for d in sent} == {("sent", sendgrid_id)}
    assert _senders(stack) == {"sendgrid": THRESHOLD}
    assert sorted(e["to"] for e in stack.simulator.outbox.list()) == sorted(_recipients(THRESHOLD))
    assert _circuit(stack, tenant, sendgrid_id)["state"] == "closed"
    changes = [
        (e["type"], e["integration_id"])
        for e in _events(stack, events_queue)
        if e["type"].startswith("integration.")
    ]
    assert sorted(changes) == sorted(
        [
            ("integration.circuit_opened", sendgrid_id),
            ("integration.circuit_opened", ses_id),
            ("integration.circuit_closed", sendgrid_id),
        ]
    )


def test_a_tenant_without_integrations_sends_through_the_deployment_account(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given another tenant's integrations, all down
    _integrations(stack, other_tenant)
    stack.simulator.modes.set("sendgrid", "down", SENDGRID_KEY)

    # when
    _, _, accepted = send_email(stack, tenant.key, ["ada@example.com"])
    run_pipeline(stack)

    # then
    (delivery,) = _deliveries(stack, tenant, accepted["id"])
    assert (delivery["status"], delivery["provider"], delivery["integration_id"]) == (
        "sent",
        "sendgrid",
        None,
    )


TENANT_TWILIO = [("AC" + "b" * 32, "c" * 32), ("AC" + "d" * 32, "e" * 32)]


def _twilio_integrations(stack: Stack, tenant: Tenant) -> list[str]:
    ids = []
    for priority, (sid, token) in enumerate(TENANT_TWILIO):
        created = create_integration(
            stack,
            tenant.key,
            {
                "channel": "sms",
                "provider": "twilio",
                "name": f"Twilio {priority}",
                "priority": priority,
                "credentials": {"account_sid": sid, "auth_token": token},
                "settings": {"from_number": "+15005550006"},
            },
        )
        ids.append(created["id"])
    return ids


def test_sms_fails_over_between_a_tenants_twilio_accounts_and_their_callbacks_verify(
    stack: Stack, tenant: Tenant
) -> None:
    # given the first account down
    first_id, second_id = _twilio_integrations(stack, tenant)
    stack.simulator.modes.set("twilio", "down", TENANT_TWILIO[0][0])

    # when
    notification_id = send_sms(stack, tenant.key)
    run_pipeline(stack)

    # then the second account sent it
    delivery = only_delivery(stack, tenant.key, notification_id)
    assert (delivery["status"], delivery["integration_id"]) == ("sent", second_id)
    sent = next(e for e in delivery["events"] if e["status"] == "sent")
    assert [t["integration_id"] for t in sent["detail"]["tried"]] == [first_id]

    # when its status callback comes, signed with that account's own token
    query = urlencode(
        {"delivery_id": delivery["id"], "tenant_id": tenant.id, "integration_id": second_id}
    )
    url = f"{PUBLIC_BASE_URL}/v1/callbacks/twilio/status?{query}"
    params = {
        "MessageSid": delivery["provider_message_id"],
        "MessageStatus": "delivered",
        "AccountSid": TENANT_TWILIO[1][0],
    }
    forged = _post_status(stack, query, params, RequestValidator(TWILIO_AUTH_TOKEN), url)
    signed = _post_status(stack, query, params, RequestValidator(TENANT_TWILIO[1][1]), url)

    # then only the account's own signature counts
    assert forged["statusCode"] == 401
    assert signed["statusCode"] == 200, signed
    assert only_delivery(stack, tenant.key, notification_id)["status"] == "delivered"


def _post_status(
    stack: Stack, query: str, params: dict[str, str], signer: RequestValidator, url: str
) -> dict[str, Any]:
    event = http_event(
        "POST",
        "/v1/callbacks/twilio/status",
        raw_body=urlencode(params),
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": signer.compute_signature(url, params),
        },
    )
    event["rawQueryString"] = query
    event["queryStringParameters"] = dict(part.split("=", 1) for part in query.split("&"))
    response: dict[str, Any] = stack.handlers["webhooks.handler"].handler(event, LambdaContext())
    return response
