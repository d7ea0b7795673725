"""SMS through Twilio: the real handlers, the real `twilio` client against the simulator, and
Twilio's signed status and inbound callbacks."""

from __future__ import annotations

import subprocess
import sys
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.integration.conftest import (
    PUBLIC_BASE_URL,
    SMS_FROM,
    LambdaContext,
    Stack,
    Tenant,
    http_event,
)
from tests.integration.pipeline import call_api, run_dispatch, run_pipeline, run_sms_worker

STATUS_PATH = "/v1/callbacks/twilio/status"
INBOUND_PATH = "/v1/callbacks/twilio/inbound"
PHONE = "+14155550123"


def send_sms(stack: Stack, key: str, phone: str = PHONE, text: str = "Your order shipped") -> str:
    status, _, body = call_api(
        stack,
        "POST",
        "/v1/notifications",
        key=key,
        body={"recipients": [{"phone": phone}], "content": {"sms": {"text": text}}},
    )
    assert status == 202, body
    return str(body["id"])


def only_delivery(stack: Stack, key: str, notification_id: str) -> dict[str, Any]:
    status, _, body = call_api(stack, "GET", f"/v1/notifications/{notification_id}", key=key)
    assert status == 200, body
    (delivery,) = body["deliveries"]
    return dict(delivery)


def post_twilio(
    stack: Stack, path: str, params: dict[str, str], *, query: str = "", sign: bool = True
) -> dict[str, Any]:
    """POST a form-encoded Twilio callback to the webhooks function, signed as Twilio signs."""
    url = PUBLIC_BASE_URL + path + (f"?{query}" if query else "")
    headers = (
        stack.sign_twilio(url, params)
        if sign
        else {"content-type": "application/x-www-form-urlencoded"}
    )
    event = http_event("POST", path, raw_body=urlencode(params), headers=headers)
    if query:
        event["rawQueryString"] = query
        event["queryStringParameters"] = dict(
            part.split("=", 1) for part in query.split("&") if "=" in part
        )
    response: dict[str, Any] = stack.handlers["webhooks.handler"].handler(event, LambdaContext())
    return response


def status_callback(
    stack: Stack, tenant: Tenant, delivery: dict[str, Any], status: str, **extra: str
) -> dict[str, Any]:
    params = {
        "MessageSid": delivery["provider_message_id"],
        "SmsSid": delivery["provider_message_id"],
        "MessageStatus": status,
        "SmsStatus": status,
        "To": PHONE,
        "From": SMS_FROM,
        "AccountSid": "AC" + "1" * 32,
        "ApiVersion": "2010-04-01",
        **extra,
    }
    query = urlencode({"delivery_id": delivery["id"], "tenant_id": tenant.id})
    return post_twilio(stack, STATUS_PATH, params, query=query)


def inbound(stack: Stack, body: str, sender: str = PHONE, to: str = SMS_FROM) -> dict[str, Any]:
    params = {
        "MessageSid": "SM" + "2" * 32,
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "AccountSid": "AC" + "1" * 32,
    }
    return post_twilio(stack, INBOUND_PATH, params)


def test_an_sms_reaches_twilio_and_ends_delivered_through_signed_callbacks(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    call_api(stack, "PUT", "/v1/users/u_1", key=tenant.key, body={"phone": PHONE, "name": "Ada"})
    status, _, body = call_api(
        stack,
        "POST",
        "/v1/notifications",
        key=tenant.key,
        body={"recipients": [{"user_id": "u_1"}], "content": {"sms": {"text": "Hi, it shipped"}}},
    )
    assert status == 202, body

    # when
    run_pipeline(stack)
    sent = only_delivery(stack, tenant.key, body["id"])
    for twilio_status in ("sent", "delivered"):
        response = status_callback(stack, tenant, sent, twilio_status)
        assert response["statusCode"] == 200, response

    # then
    (entry,) = stack.simulator.outbox.list()
    assert entry["channel"] == "sms"
    assert entry["provider"] == "twilio"
    assert (entry["to"], entry["from"], entry["text"]) == (PHONE, SMS_FROM, "Hi, it shipped")
    assert sent["status"] == "sent"
    assert sent["provider"] == "twilio"
    assert sent["provider_message_id"] == entry["id"]
    assert sent["provider_message_id"].startswith("SM")
    assert sent["attributes"] == {"encoding": "GSM-7", "segments": 1}
    delivery = only_delivery(stack, tenant.key, body["id"])
    assert delivery["status"] == "delivered"
    assert [e["status"] for e in delivery["events"]] == [
        "queued",
        "sending",
        "sent",
        "delivered",
    ], "Twilio's `sent` confirms the worker's: no second `sent`"


def test_a_late_or_replayed_status_never_moves_a_delivery_back(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    notification_id = send_sms(stack, tenant.key)
    run_pipeline(stack)
    delivery = only_delivery(stack, tenant.key, notification_id)
    status_callback(stack, tenant, delivery, "delivered")
    events_before = len(only_delivery(stack, tenant.key, notification_id)["events"])

    # when
    status_callback(stack, tenant, delivery, "sent")  # arrives late
    status_callback(stack, tenant, delivery, "delivered")  # Twilio retries the callback

    # then
    after = only_delivery(stack, tenant.key, notification_id)
    assert after["status"] == "delivered"
    statuses = [e["status"] for e in after["events"]]
    assert len(statuses) == events_before + 1, "the late `sent` is history; the replay is not"
    assert statuses.count("delivered") == 1


def test_undelivered_fails_the_delivery_with_twilios_error_code(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    notification_id = send_sms(stack, tenant.key, phone="+14155550303")
    run_pipeline(stack)
    delivery = only_delivery(stack, tenant.key, notification_id)

    # when
    status_callback(stack, tenant, delivery, "sent")
    status_callback(stack, tenant, delivery, "undelivered", ErrorCode="30003")

    # then
    after = only_delivery(stack, tenant.key, notification_id)
    assert (after["status"], after["reason"]) == ("failed", "undelivered")
    assert "30003" in after["error"]


@pytest.mark.parametrize("signature", [None, "forged"])
def test_an_unsigned_or_forged_status_callback_is_401_and_changes_nothing(
    stack: Stack, tenant: Tenant, signature: str | None
) -> None:
    # given
    notification_id = send_sms(stack, tenant.key)
    run_pipeline(stack)
    delivery = only_delivery(stack, tenant.key, notification_id)
    params = {"MessageSid": delivery["provider_message_id"], "MessageStatus": "delivered"}
    query = urlencode({"delivery_id": delivery["id"], "tenant_id": tenant.id})
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if signature:
        # Signed for another delivery: the signature covers the URL, query included.
        other = PUBLIC_BASE_URL + STATUS_PATH + "?delivery_id=dlv_other&tenant_id=" + tenant.id
        headers = stack.sign_twilio(other, params)
    event = http_event("POST", STATUS_PATH, raw_body=urlencode(params), headers=headers)
    event["rawQueryString"] = query
    event["queryStringParameters"] = {"delivery_id": delivery["id"], "tenant_id": tenant.id}

    # when
    response = stack.handlers["webhooks.handler"].handler(event, LambdaContext())

    # then
    assert response["statusCode"] == 401
    assert '"UNAUTHENTICATED"' in response["body"]
    assert only_delivery(stack, tenant.key, notification_id) == delivery


@pytest.mark.parametrize(
    ("phone", "reason", "code"),
    [
        ("+15005550001", "invalid_number", "21211"),
        ("+15005550004", "opted_out", "21610"),
        ("+15005550009", "not_mobile", "21614"),
    ],
)
def test_twilios_test_numbers_fail_at_once_with_their_reason(
    stack: Stack, tenant: Tenant, phone: str, reason: str, code: str
) -> None:
    # given
    notification_id = send_sms(stack, tenant.key, phone=phone)

    # when
    run_pipeline(stack)

    # then
    delivery = only_delivery(stack, tenant.key, notification_id)
    assert (delivery["status"], delivery["reason"], delivery["attempts"]) == (
        "failed",
        reason,
        1,
    )
    assert code in delivery["error"]
    assert stack.simulator.outbox.list() == []


def test_an_opted_out_number_is_suppressed_and_the_next_send_skipped(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    send_sms(stack, tenant.key, phone="+15005550004")
    run_pipeline(stack)

    # when
    notification_id = send_sms(stack, tenant.key, phone="+15005550004")
    run_pipeline(stack)

    # then
    delivery = only_delivery(stack, tenant.key, notification_id)
    assert (delivery["status"], delivery["reason"]) == ("skipped", "suppressed")
    status, _, body = call_api(stack, "GET", "/v1/suppressions", key=tenant.key)
    assert status == 200, body
    assert [(s["address"], s["reason"], s["source"]) for s in body["items"]] == [
        ("+15005550004", "stop", "twilio")
    ]


@pytest.mark.parametrize("suffix", ["0429", "0500"])
def test_throttling_and_provider_errors_are_retried_then_fail_after_the_attempts(
    stack: Stack, tenant: Tenant, suffix: str
) -> None:
    # given
    notification_id = send_sms(stack, tenant.key, phone=f"+1415555{suffix}")
    run_dispatch(stack)

    # when
    run_sms_worker(stack)  # HERALD_RETRY_BASE_SECONDS=0: every retry is due at once

    # then
    delivery = only_delivery(stack, tenant.key, notification_id)
    assert (delivery["status"], delivery["reason"]) == ("failed", "max_attempts")
    assert delivery["attempts"] == 5
    statuses = [e["status"] for e in delivery["events"]]
    assert statuses.count("deferred") == 4


def test_inline_text_over_the_segment_limit_is_422(stack: Stack, tenant: Tenant) -> None:
    # given: 11 GSM-7 segments of 153 characters
    text = "x" * (153 * 10 + 1)

    # when
    status, _, body = call_api(
        stack,
        "POST",
        "/v1/notifications",
        key=tenant.key,
        body={"recipients": [{"phone": PHONE}], "content": {"sms": {"text": text}}},
    )

    # then
    assert status == 422, body
    assert body["error"]["details"][0]["field"] == "content.sms.text"
    assert "11 GSM-7 segments" in body["error"]["message"]


def test_a_template_rendering_over_the_segment_limit_fails_with_render_failed(
    stack: Stack, tenant: Tenant
) -> None:
    # given: a UCS-2 text (the emoji), 67 units a segment
    status, _, body = call_api(
        stack,
        "POST",
        "/v1/templates",
        key=tenant.key,
        body={"key": "long", "name": "Long", "channels": {"sms": {"text": "🚚 {{ note }}"}}},
    )
    assert status == 201, body
    status, _, body = call_api(
        stack,
        "POST",
        "/v1/notifications",
        key=tenant.key,
        body={
            "recipients": [{"phone": PHONE}],
            "template": "long",
            "variables": {"note": "é" * 700},
        },
    )
    assert status == 202, body

    # when
    run_pipeline(stack)

    # then
    delivery = only_delivery(stack, tenant.key, body["id"])
    assert (delivery["status"], delivery["reason"]) == ("failed", "render_failed")
    assert "segments" in delivery["error"]
    assert stack.simulator.outbox.list() == []


@pytest.mark.parametrize("word", ["STOP", " stop ", "Unsubscribe", "optout", "REVOKE"])
def test_an_inbound_stop_suppresses_the_number_and_the_next_send_is_skipped(
    stack: Stack, tenant: Tenant, word: str
) -> None:
    # given
    send_sms(stack, tenant.key)
    run_pipeline(stack)

    # when
    response = inbound(stack, word)
    notification_id = send_sms(stack, tenant.key)
    run_pipeline(stack)

    # then
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/xml"
    assert "<Response />" in response["body"] or "<Response/>" in response["body"]
    delivery = only_delivery(stack, tenant.key, notification_id)
    assert (delivery["status"], delivery["reason"]) == ("skipped", "suppressed")
    with stack.db.transaction() as conn:
        events = conn.execute(
            "SELECT source, change FROM preference_events WHERE tenant_id = %s AND address = %s",
            (tenant.id, PHONE),
        ).fetchall()
    assert events == [{"source": "provider", "change": {"suppressed": "stop"}}]


def test_start_lifts_a_stop_and_sending_resumes(stack: Stack, tenant: Tenant) -> None:
    # given
    send_sms(stack, tenant.key)
    run_pipeline(stack)
    inbound(stack, "STOP")

    # when
    inbound(stack, "start")
    notification_id = send_sms(stack, tenant.key)
    run_pipeline(stack)

    # then
    assert only_delivery(stack, tenant.key, notification_id)["status"] == "sent"
    with stack.db.transaction() as conn:
        changes = conn.execute(
            "SELECT change FROM preference_events WHERE tenant_id = %s AND address = %s"
            " AND source = 'provider' ORDER BY id",
            (tenant.id, PHONE),
        ).fetchall()
    assert [c["change"] for c in changes] == [{"suppressed": "stop"}, {"suppressed": None}]


def test_start_never_lifts_a_suppression_made_for_another_reason(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    send_sms(stack, tenant.key)
    run_pipeline(stack)
    status, _, body = call_api(
        stack,
        "POST",
        "/v1/suppressions",
        key=tenant.key,
        body={"address": PHONE, "reason": "manual"},
    )
    assert status == 201, body

    # when
    inbound(stack, "START")

    # then
    status, _, body = call_api(stack, "GET", "/v1/suppressions", key=tenant.key)
    assert status == 200, body
    assert [(s["address"], s["reason"]) for s in body["items"]] == [(PHONE, "manual")]


def test_help_is_answered_with_the_help_text_in_twiml(stack: Stack, tenant: Tenant) -> None:
    # given
    send_sms(stack, tenant.key)
    run_pipeline(stack)

    # when
    response = inbound(stack, "help")

    # then
    assert response["statusCode"] == 200
    assert "<Message>Herald notifications. Reply STOP to unsubscribe" in response["body"]
    with stack.db.transaction() as conn:
        events = conn.execute(
            "SELECT source, change FROM preference_events WHERE tenant_id = %s", (tenant.id,)
        ).fetchall()
    assert events == [{"source": "provider", "change": {"help": "requested"}}]


def test_a_forged_inbound_stop_is_401_and_suppresses_nothing(stack: Stack, tenant: Tenant) -> None:
    # given
    send_sms(stack, tenant.key)
    run_pipeline(stack)
    params = {"From": PHONE, "To": SMS_FROM, "Body": "STOP"}

    # when
    response = post_twilio(stack, INBOUND_PATH, params, sign=False)

    # then
    assert response["statusCode"] == 401
    status, _, body = call_api(stack, "GET", "/v1/suppressions", key=tenant.key)
    assert (status, body["items"]) == (200, [])


def test_a_callback_body_that_is_not_text_is_401(stack: Stack) -> None:
    # given: base64 of bytes that are not UTF-8, as API Gateway passes a binary body
    event = http_event(
        "POST",
        INBOUND_PATH,
        raw_body="//79",
        headers={"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": "x"},
    )
    event["isBase64Encoded"] = True

    # when
    response = stack.handlers["webhooks.handler"].handler(event, LambdaContext())

    # then
    assert response["statusCode"] == 401


def test_a_throttled_send_is_retried_and_then_sent(stack: Stack, tenant: Tenant) -> None:
    # given: Twilio answers the next two requests with 429
    stack.simulator.twilio.throttle(2)
    notification_id = send_sms(stack, tenant.key)

    # when
    run_pipeline(stack)

    # then
    delivery = only_delivery(stack, tenant.key, notification_id)
    assert (delivery["status"], delivery["attempts"]) == ("sent", 3)
    assert [e["status"] for e in delivery["events"]].count("deferred") == 2
    assert len(stack.simulator.outbox.list()) == 1


def test_only_the_text_workers_and_the_webhooks_import_twilio(stack: Stack) -> None:
    # given: a fresh interpreter per handler, configured as the stack is (os.environ)
    code = (
        "import importlib, sys; importlib.import_module(sys.argv[1]); "
        "print('twilio' in sys.modules)"
    )

    # when
    imports = {
        module: subprocess.run(
            [sys.executable, "-c", code, module], capture_output=True, text=True, check=True
        ).stdout.strip()
        for module in (
            "functions.api.handler",
            "functions.dispatch.handler",
            "functions.workers.sms_worker",
            "functions.webhooks.handler",
        )
    }

    # then
    assert imports == {
        "functions.api.handler": "False",
        "functions.dispatch.handler": "False",
        "functions.workers.sms_worker": "True",
        "functions.webhooks.handler": "True",
    }
