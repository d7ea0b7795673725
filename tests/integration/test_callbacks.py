"""SendGrid Event Webhook callbacks: verified with SendGrid's own helper, applied once."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import call_api, call_callback, email_body, run_pipeline, send_email

PATH = "/v1/callbacks/sendgrid"


def _sent_delivery(
    stack: Stack, tenant: Tenant, address: str = "ada@example.com"
) -> dict[str, Any]:
    _, _, accepted = send_email(stack, tenant.key, [address])
    run_pipeline(stack)
    _, _, notification = call_api(
        stack, "GET", f"/v1/notifications/{accepted['id']}", key=tenant.key
    )
    return {"notification_id": accepted["id"], **notification["deliveries"][0]}


def _event(
    delivery: dict[str, Any], tenant: Tenant, event: str, n: int = 0, **extra: Any
) -> dict[str, Any]:
    return {
        "email": delivery["recipient"]["email"],
        "timestamp": int(time.time()) + n,
        "event": event,
        "sg_event_id": f"evt-{delivery['id']}-{event}-{n}",
        "sg_message_id": f"{delivery['provider_message_id']}.filter0001",
        "delivery_id": delivery["id"],
        "tenant_id": tenant.id,
        **extra,
    }


def _delivery(stack: Stack, tenant: Tenant, notification_id: str) -> dict[str, Any]:
    _, _, notification = call_api(
        stack, "GET", f"/v1/notifications/{notification_id}", key=tenant.key
    )
    return dict(notification["deliveries"][0])


def test_signed_events_move_the_delivery_and_its_history(stack: Stack, tenant: Tenant) -> None:
    # given
    delivery = _sent_delivery(stack, tenant)
    payload = json.dumps(
        [
            _event(delivery, tenant, "processed", 0),
            _event(delivery, tenant, "delivered", 1),
            _event(delivery, tenant, "open", 2),
            _event(delivery, tenant, "click", 3, url="https://example.com"),
        ]
    )

    # when
    status, body = call_callback(stack, PATH, payload, stack.sign_sendgrid(payload))

    # then
    assert status == 200 and body["applied"] == 3
    after = _delivery(stack, tenant, delivery["notification_id"])
    assert after["status"] == "clicked"
    assert [e["status"] for e in after["events"]] == [
        "queued",
        "sending",
        "sent",
        "delivered",
        "opened",
        "clicked",
    ]


def test_events_out_of_order_never_move_a_status_back(stack: Stack, tenant: Tenant) -> None:
    # given an open that arrives before its delivered, and a late deferral
    delivery = _sent_delivery(stack, tenant)
    payload = json.dumps(
        [
            _event(delivery, tenant, "open", 2),
            _event(delivery, tenant, "delivered", 1),
            _event(delivery, tenant, "deferred", 0),
        ]
    )

    # when
    call_callback(stack, PATH, payload, stack.sign_sendgrid(payload))

    # then
    assert _delivery(stack, tenant, delivery["notification_id"])["status"] == "opened"


@pytest.mark.parametrize(("event", "status"), [("bounce", "bounced"), ("dropped", "failed")])
def test_a_bounce_or_drop_ends_the_delivery_with_its_reason(
    stack: Stack, tenant: Tenant, event: str, status: str
) -> None:
    # given
    delivery = _sent_delivery(stack, tenant)
    payload = json.dumps([_event(delivery, tenant, event, reason="550 5.1.1 mailbox unknown")])

    # when
    call_callback(stack, PATH, payload, stack.sign_sendgrid(payload))

    # then
    after = _delivery(stack, tenant, delivery["notification_id"])
    assert after["status"] == status and after["reason"] == "550 5.1.1 mailbox unknown"


def test_a_replayed_callback_changes_nothing(stack: Stack, tenant: Tenant) -> None:
    # given
    delivery = _sent_delivery(stack, tenant)
    payload = json.dumps([_event(delivery, tenant, "delivered")])
    call_callback(stack, PATH, payload, stack.sign_sendgrid(payload))

    # when the same events come again
    status, body = call_callback(stack, PATH, payload, stack.sign_sendgrid(payload))

    # then
    assert status == 200 and body == {"applied": 0, "duplicates": 1, "ignored": 0}
    events = _delivery(stack, tenant, delivery["notification_id"])["events"]
    assert [e["status"] for e in events].count("delivered") == 1


@pytest.mark.parametrize("forgery", ["unsigned", "tampered", "other-key", "garbage-signature"])
def test_an_unsigned_or_forged_callback_is_401_and_changes_nothing(
    stack: Stack, tenant: Tenant, forgery: str
) -> None:
    # given
    delivery = _sent_delivery(stack, tenant)
    payload = json.dumps([_event(delivery, tenant, "bounce")])
    headers = stack.sign_sendgrid(payload)
    if forgery == "unsigned":
        headers = {}
    elif forgery == "tampered":
        payload = payload.replace("bounce", "delivered")
    elif forgery == "other-key":
        from cryptography.hazmat.primitives.asymmetric import ec

        original = stack.callback_key
        stack.callback_key = ec.generate_private_key(ec.SECP256R1())
        headers = stack.sign_sendgrid(payload)
        stack.callback_key = original
    else:
        headers["x-twilio-email-event-webhook-signature"] = "not base64!"

    # when
    status, body = call_callback(stack, PATH, payload, headers)

    # then
    assert status == 401 and body["error"]["code"] == "UNAUTHENTICATED"
    after = _delivery(stack, tenant, delivery["notification_id"])
    assert after["status"] == "sent"
    assert [e["status"] for e in after["events"]] == ["queued", "sending", "sent"]


def test_an_event_naming_another_tenants_delivery_is_ignored(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given a correctly signed event that claims the delivery for another tenant
    delivery = _sent_delivery(stack, tenant)
    payload = json.dumps([_event(delivery, other_tenant, "bounce")])

    # when
    status, body = call_callback(stack, PATH, payload, stack.sign_sendgrid(payload))

    # then
    assert status == 200 and body["applied"] == 0
    assert _delivery(stack, tenant, delivery["notification_id"])["status"] == "sent"


def test_one_callback_moves_many_deliveries_each_to_its_own_status(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given three sent deliveries and one batch of events for all of them, as SendGrid posts
    body = email_body(["ada@example.com", "grace@example.com", "alan@example.com"])
    _, _, accepted = call_api(stack, "POST", "/v1/notifications", key=tenant.key, body=body)
    run_pipeline(stack)
    _, _, notification = call_api(
        stack, "GET", f"/v1/notifications/{accepted['id']}", key=tenant.key
    )
    by_email = {d["recipient"]["email"]: d for d in notification["deliveries"]}
    ada, grace, alan = (
        by_email[a] for a in ("ada@example.com", "grace@example.com", "alan@example.com")
    )
    first = json.dumps([_event(ada, tenant, "delivered", 1)])
    call_callback(stack, PATH, first, stack.sign_sendgrid(first))
    payload = json.dumps(
        [
            _event(ada, tenant, "delivered", 1),  # replayed from the first callback
            _event(grace, tenant, "delivered", 1),
            _event(alan, tenant, "bounce", 1, reason="550 no such user"),
            _event(ada, tenant, "open", 2),
            _event(grace, other_tenant, "click", 3),  # names the wrong tenant
            _event(grace, tenant, "open", 4),
            _event(grace, tenant, "click", 5),
        ]
    )

    # when
    status, result = call_callback(stack, PATH, payload, stack.sign_sendgrid(payload))

    # then
    assert status == 200
    assert result == {"applied": 5, "duplicates": 1, "ignored": 1}
    _, _, after = call_api(stack, "GET", f"/v1/notifications/{accepted['id']}", key=tenant.key)
    final = {d["recipient"]["email"]: (d["status"], d["reason"]) for d in after["deliveries"]}
    assert final == {
        "ada@example.com": ("opened", None),
        "grace@example.com": ("clicked", None),
        "alan@example.com": ("bounced", "550 no such user"),
    }
    histories = {
        d["recipient"]["email"]: [e["status"] for e in d["events"]] for d in after["deliveries"]
    }
    assert histories["ada@example.com"][-2:] == ["delivered", "opened"]
    assert histories["grace@example.com"][-3:] == ["delivered", "opened", "clicked"]


def test_hard_bounces_spam_reports_and_unsubscribes_suppress_the_address(
    stack: Stack, tenant: Tenant
) -> None:
    # given five sent emails, and the provider's verdict on each
    verdicts = {
        "hard@example.com": ("bounce", {"type": "bounce", "reason": "550 5.1.1 no such user"}),
        "soft@example.com": ("bounce", {"type": "blocked", "reason": "421 try later"}),
        "spam@example.com": ("spamreport", {}),
        "unsub@example.com": ("unsubscribe", {}),
        "content@example.com": ("dropped", {"reason": "Spam Content"}),
    }
    events = [
        _event(_sent_delivery(stack, tenant, address), tenant, event, **extra)
        for address, (event, extra) in verdicts.items()
    ]
    payload = json.dumps(events)

    # when the callback arrives (twice: a replay adds nothing)
    status, _ = call_callback(stack, PATH, payload, stack.sign_sendgrid(payload))
    call_callback(stack, PATH, payload, stack.sign_sendgrid(payload))

    # then the addresses the provider reported unsendable are suppressed, with the reason
    assert status == 200
    _, _, listed = call_api(stack, "GET", "/v1/suppressions", key=tenant.key)
    assert {(s["address"], s["reason"]) for s in listed["items"]} == {
        ("hard@example.com", "bounce"),
        ("spam@example.com", "spamreport"),
        ("unsub@example.com", "unsubscribe"),
    }
    # and the next send to a suppressed address is skipped; the others still go
    stack.simulator.outbox.clear()
    _, _, accepted = send_email(stack, tenant.key, ["hard@example.com", "soft@example.com"])
    run_pipeline(stack)
    _, _, notification = call_api(
        stack, "GET", f"/v1/notifications/{accepted['id']}", key=tenant.key
    )
    outcome = {
        d["recipient"]["email"]: (d["status"], d["reason"]) for d in notification["deliveries"]
    }
    assert outcome == {
        "hard@example.com": ("skipped", "suppressed"),
        "soft@example.com": ("sent", None),
    }
    assert [m["to"] for m in stack.simulator.outbox.list()] == ["soft@example.com"]
