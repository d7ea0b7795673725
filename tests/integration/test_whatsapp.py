"""WhatsApp through Twilio: free-form text only inside the 24-hour window opened by the user's
last message, Content templates outside it."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import WHATSAPP_FROM, Stack, Tenant
from tests.integration.pipeline import call_api, create_integration, run_pipeline
from tests.integration.test_sms import inbound, only_delivery, status_callback
from tests.integration.test_tenant_inbound import ACME, ACME_NUMBER, _inbound_to

PHONE = "+14155550123"
CONTENT_SID = "HX" + "b5" * 16


def send_whatsapp(stack: Stack, key: str, content: dict[str, Any]) -> str:
    status, _, body = call_api(
        stack,
        "POST",
        "/v1/notifications",
        key=key,
        body={"recipients": [{"phone": PHONE}], "content": {"whatsapp": content}},
    )
    assert status == 202, body
    return str(body["id"])


def test_free_form_text_outside_the_window_fails_at_once_without_calling_twilio(
    stack: Stack, tenant: Tenant
) -> None:
    # given: the user never wrote to the business number
    notification_id = send_whatsapp(stack, tenant.key, {"text": "Your order shipped"})

    # when
    run_pipeline(stack)

    # then
    delivery = only_delivery(stack, tenant.key, notification_id)
    assert (delivery["status"], delivery["reason"]) == ("failed", "outside_session_window")
    assert delivery["provider_message_id"] is None
    assert stack.simulator.outbox.list() == []


def test_a_content_template_is_sent_outside_the_window(stack: Stack, tenant: Tenant) -> None:
    # given
    content = {"content_sid": CONTENT_SID, "content_variables": {"1": "12/1", "2": "3pm"}}
    notification_id = send_whatsapp(stack, tenant.key, content)

    # when
    run_pipeline(stack)

    # then
    (entry,) = stack.simulator.outbox.list()
    assert (entry["channel"], entry["provider"]) == ("whatsapp", "twilio")
    assert (entry["to"], entry["from"]) == (f"whatsapp:{PHONE}", WHATSAPP_FROM)
    assert entry["content_sid"] == CONTENT_SID
    assert entry["content_variables"] == {"1": "12/1", "2": "3pm"}
    assert entry["text"] is None
    delivery = only_delivery(stack, tenant.key, notification_id)
    assert delivery["status"] == "sent"
    assert delivery["attributes"] == {"content_sid": CONTENT_SID}


def test_an_inbound_message_opens_the_window_for_free_form_text(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    inbound(stack, "Where is my order?", sender=f"whatsapp:{PHONE}", to=WHATSAPP_FROM)

    # when
    notification_id = send_whatsapp(
        stack, tenant.key, {"text": "On its way!", "content_sid": CONTENT_SID}
    )
    run_pipeline(stack)

    # then: inside the window the text goes, not the template
    (entry,) = stack.simulator.outbox.list()
    assert (entry["text"], entry["content_sid"]) == ("On its way!", None)
    delivery = only_delivery(stack, tenant.key, notification_id)
    assert delivery["status"] == "sent"
    assert delivery["attributes"] == {"encoding": "GSM-7", "segments": 1}


def _own_whatsapp_number(stack: Stack, tenant: Tenant) -> str:
    """The tenant sends WhatsApp from its own Twilio account's number; the integration's id."""
    created = create_integration(
        stack,
        tenant.key,
        {
            "channel": "whatsapp",
            "provider": "twilio",
            "name": "Our WhatsApp",
            "credentials": {"account_sid": ACME[0], "auth_token": ACME[1]},
            "settings": {"whatsapp_from": ACME_NUMBER},
        },
    )
    return str(created["id"])


def test_a_message_to_a_tenants_own_number_opens_the_window_with_that_number(
    stack: Stack, tenant: Tenant
) -> None:
    # given a tenant with its own WhatsApp number, which the user wrote to
    integration_id = _own_whatsapp_number(stack, tenant)
    answer = _inbound_to(
        stack,
        integration_id,
        "Where is my order?",
        token=ACME[1],
        sender=f"whatsapp:{PHONE}",
        to=f"whatsapp:{ACME_NUMBER}",
    )
    assert answer["statusCode"] == 200, answer

    # when free-form text is sent
    notification_id = send_whatsapp(stack, tenant.key, {"text": "On its way!"})
    run_pipeline(stack)

    # then it goes as text, from the tenant's number, through the tenant's integration
    (entry,) = stack.simulator.outbox.list()
    assert (entry["from"], entry["text"]) == (f"whatsapp:{ACME_NUMBER}", "On its way!")
    delivery = only_delivery(stack, tenant.key, notification_id)
    assert (delivery["status"], delivery["integration_id"]) == ("sent", integration_id)


def test_a_window_with_the_deployments_number_does_not_open_a_tenants_own(
    stack: Stack, tenant: Tenant
) -> None:
    # given a tenant with its own WhatsApp number; the user wrote to the deployment's only
    _own_whatsapp_number(stack, tenant)
    inbound(stack, "Where is my order?", sender=f"whatsapp:{PHONE}", to=WHATSAPP_FROM)

    # when free-form text is sent
    notification_id = send_whatsapp(stack, tenant.key, {"text": "On its way!"})
    run_pipeline(stack)

    # then it is refused as outside the window of the tenant's number, nothing sent
    delivery = only_delivery(stack, tenant.key, notification_id)
    assert (delivery["status"], delivery["reason"]) == ("failed", "outside_session_window")
    assert stack.simulator.outbox.list() == []


def test_text_and_template_together_send_the_template_outside_the_window(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    notification_id = send_whatsapp(
        stack, tenant.key, {"text": "On its way!", "content_sid": CONTENT_SID}
    )

    # when
    run_pipeline(stack)

    # then
    (entry,) = stack.simulator.outbox.list()
    assert (entry["text"], entry["content_sid"]) == (None, CONTENT_SID)
    assert only_delivery(stack, tenant.key, notification_id)["status"] == "sent"


def test_templates_support_the_content_sid_form(stack: Stack, tenant: Tenant) -> None:
    # given
    status, _, body = call_api(
        stack,
        "POST",
        "/v1/templates",
        key=tenant.key,
        body={
            "key": "shipped",
            "name": "Shipped",
            "channels": {
                "whatsapp": {
                    "content_sid": CONTENT_SID,
                    "content_variables": {"1": "{{ order_id }}"},
                }
            },
        },
    )
    assert status == 201, body

    # when
    status, _, body = call_api(
        stack,
        "POST",
        "/v1/notifications",
        key=tenant.key,
        body={
            "recipients": [{"phone": PHONE}],
            "template": "shipped",
            "variables": {"order_id": "A-42"},
        },
    )
    assert status == 202, body
    run_pipeline(stack)

    # then
    (entry,) = stack.simulator.outbox.list()
    assert (entry["content_sid"], entry["content_variables"]) == (CONTENT_SID, {"1": "A-42"})


def test_whatsapp_content_needs_text_or_a_content_sid(stack: Stack, tenant: Tenant) -> None:
    # when
    status, _, body = call_api(
        stack,
        "POST",
        "/v1/notifications",
        key=tenant.key,
        body={
            "recipients": [{"phone": PHONE}],
            "content": {"whatsapp": {"content_variables": {"1": "x"}}},
        },
    )

    # then
    assert status == 400, body
    assert body["error"]["code"] == "VALIDATION_ERROR"


def test_read_receipts_are_recorded(stack: Stack, tenant: Tenant) -> None:
    # given
    notification_id = send_whatsapp(stack, tenant.key, {"content_sid": CONTENT_SID})
    run_pipeline(stack)
    delivery = only_delivery(stack, tenant.key, notification_id)

    # when
    for twilio_status in ("sent", "delivered", "read"):
        status_callback(stack, tenant, delivery, twilio_status)

    # then
    after = only_delivery(stack, tenant.key, notification_id)
    assert after["status"] == "read"
    assert [e["status"] for e in after["events"]][-3:] == ["sent", "delivered", "read"]


def test_a_whatsapp_stop_suppresses_the_number(stack: Stack, tenant: Tenant) -> None:
    # given
    send_whatsapp(stack, tenant.key, {"content_sid": CONTENT_SID})
    run_pipeline(stack)

    # when
    inbound(stack, "STOP", sender=f"whatsapp:{PHONE}", to=WHATSAPP_FROM)
    notification_id = send_whatsapp(stack, tenant.key, {"content_sid": CONTENT_SID})
    run_pipeline(stack)

    # then
    delivery = only_delivery(stack, tenant.key, notification_id)
    assert (delivery["status"], delivery["reason"]) == ("skipped", "suppressed")
