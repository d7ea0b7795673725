"""The SendGrid simulator, driven by the real SendGrid client, calling back signed webhooks."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from typing import Any

import pytest
from python_http_client.exceptions import (
    BadRequestsError,
    InternalServerError,
    TooManyRequestsError,
    UnauthorizedError,
)
from sendgrid import SendGridAPIClient
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.mail import CustomArg, Header, Mail

from local.gateway import Gateway
from local.http import DevRequest, DevResponse, LocalHttpServer
from local.lambda_context import LocalFunction
from local.simulator import ProviderSimulator

API_KEY = "SG.test-key"
SIGNATURE = "x-twilio-email-event-webhook-signature"
TIMESTAMP = "x-twilio-email-event-webhook-timestamp"


class Receiver:
    """Herald's side of the callbacks: records each request, answers from `statuses`."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.requests: queue.Queue[DevRequest] = queue.Queue()
        self._statuses = statuses or []
        self.server = LocalHttpServer("127.0.0.1", 0, self._handle)

    def _handle(self, request: DevRequest) -> DevResponse:
        self.requests.put(request)
        return DevResponse(self._statuses.pop(0) if self._statuses else 200, b"")

    def next(self) -> DevRequest:
        return self.requests.get(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.server.start()
    yield receiver
    receiver.server.stop()


@pytest.fixture
def simulator(receiver: Receiver) -> Iterator[ProviderSimulator]:
    simulator = ProviderSimulator(sendgrid_api_key=API_KEY, event_delay_seconds=0.01)
    simulator.set_callback_base_url(receiver.server.url)
    simulator.start()
    yield simulator
    simulator.stop()


def _mail(to: str, subject: str = "Your code") -> Mail:
    mail = Mail(
        from_email="noreply@herald.test",
        to_emails=to,
        subject=subject,
        plain_text_content="Code: 123",
        html_content="<p>Code: <b>123</b></p>",
    )
    mail.custom_arg = [CustomArg("delivery_id", "dlv_1"), CustomArg("tenant_id", "ten_1")]
    mail.header = Header("List-Unsubscribe", "<mailto:unsub@herald.test>")
    return mail


def _events(request: DevRequest, public_key: str) -> list[dict[str, Any]]:
    """The callback's events, after checking its signature as Herald will."""
    webhook = EventWebhook()
    assert webhook.verify_signature(
        request.body.decode(),
        request.headers[SIGNATURE],
        request.headers[TIMESTAMP],
        public_key=webhook.convert_public_key_to_ecdsa(public_key),
    )
    assert request.path == "/v1/callbacks/sendgrid"
    assert request.headers["content-type"] == "application/json"
    events: list[dict[str, Any]] = json.loads(request.body)
    return events


def test_real_client_send_is_accepted_and_recorded(simulator: ProviderSimulator) -> None:
    # given
    client = SendGridAPIClient(API_KEY, host=simulator.url)

    # when
    response = client.send(_mail("ada@example.com"))

    # then
    assert response.status_code == 202
    assert response.body == b""
    message_id = response.headers["X-Message-Id"]
    assert len(message_id) == 22
    (entry,) = simulator.outbox.list()
    assert entry["id"].startswith(f"{message_id}.")
    assert entry["received_at"].endswith("Z")
    assert {k: v for k, v in entry.items() if k not in ("id", "received_at")} == {
        "channel": "email",
        "provider": "sendgrid",
        "to": "ada@example.com",
        "from": "noreply@herald.test",
        "subject": "Your code",
        "text": "Code: 123",
        "html": "<p>Code: <b>123</b></p>",
        "headers": {"List-Unsubscribe": "<mailto:unsub@herald.test>"},
        "title": None,
        "body": None,
        "data": {"delivery_id": "dlv_1", "tenant_id": "ten_1"},
        "delivery_id": "dlv_1",
    }


def test_signed_events_carry_custom_args(simulator: ProviderSimulator, receiver: Receiver) -> None:
    # given
    client = SendGridAPIClient(API_KEY, host=simulator.url)

    # when
    message_id = client.send(_mail("ada@example.com")).headers["X-Message-Id"]
    events = _events(receiver.next(), simulator.sendgrid_public_key)

    # then
    assert [e["event"] for e in events] == ["processed", "delivered"]
    for event in events:
        assert event["email"] == "ada@example.com"
        assert event["delivery_id"] == "dlv_1"
        assert event["tenant_id"] == "ten_1"
        assert event["sg_message_id"].startswith(f"{message_id}.")
        assert isinstance(event["timestamp"], int)
        assert event["smtp-id"]
    assert len({e["sg_event_id"] for e in events}) == 2


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("bounce@example.com", ["processed", "bounce"]),
        ("dropped+7@example.com", ["dropped"]),
        ("defer@example.com", ["processed", "deferred", "delivered"]),
    ],
)
def test_failure_injection_by_recipient(
    simulator: ProviderSimulator, receiver: Receiver, address: str, expected: list[str]
) -> None:
    # given
    client = SendGridAPIClient(API_KEY, host=simulator.url)

    # when
    client.send(_mail(address))
    events = _events(receiver.next(), simulator.sendgrid_public_key)

    # then
    assert [e["event"] for e in events] == expected
    if "bounce" in expected:
        assert events[-1]["status"] == "5.1.1"
        assert events[-1]["type"] == "bounce"
        assert events[-1]["reason"]


def test_wrong_key_is_401(simulator: ProviderSimulator) -> None:
    # given
    client = SendGridAPIClient("SG.wrong", host=simulator.url)

    # when / then
    with pytest.raises(UnauthorizedError) as error:
        client.send(_mail("ada@example.com"))
    assert json.loads(error.value.body)["errors"][0]["message"]
    assert simulator.outbox.list() == []


@pytest.mark.parametrize(
    ("missing", "field"),
    [
        ("subject", "subject"),
        ("from", "from.email"),
        ("content", "content"),
        ("personalizations", "personalizations"),
    ],
)
def test_invalid_mail_is_400_naming_the_field(
    simulator: ProviderSimulator, missing: str, field: str
) -> None:
    # given
    client = SendGridAPIClient(API_KEY, host=simulator.url)
    body = _mail("ada@example.com").get()
    del body[missing]

    # when / then
    with pytest.raises(BadRequestsError) as error:
        client.send(body)
    fields = [e["field"] for e in json.loads(error.value.body)["errors"]]
    assert fields == [field]


def test_invalid_address_is_400_naming_the_recipient(simulator: ProviderSimulator) -> None:
    # given
    client = SendGridAPIClient(API_KEY, host=simulator.url)

    # when / then
    with pytest.raises(BadRequestsError) as error:
        client.send(_mail("invalid@example.com"))
    (reported,) = json.loads(error.value.body)["errors"]
    assert reported["field"] == "personalizations.0.to.0.email"
    assert simulator.outbox.list() == []


@pytest.mark.parametrize(
    ("address", "exception"),
    [("ratelimit@example.com", TooManyRequestsError), ("error@example.com", InternalServerError)],
)
def test_failing_recipients_fail_the_send(
    simulator: ProviderSimulator, address: str, exception: type[Exception]
) -> None:
    # given
    client = SendGridAPIClient(API_KEY, host=simulator.url)

    # when / then
    with pytest.raises(exception):
        client.send(_mail(address))
    assert simulator.outbox.list() == []


def test_callbacks_are_retried_after_a_5xx(simulator: ProviderSimulator) -> None:
    # given: Herald answers 503 once
    flaky = Receiver(statuses=[503])
    flaky.server.start()
    simulator.set_callback_base_url(flaky.server.url)
    client = SendGridAPIClient(API_KEY, host=simulator.url)

    # when
    client.send(_mail("ada@example.com"))
    first, second = flaky.next(), flaky.next()
    flaky.server.stop()

    # then
    assert first.body == second.body
    assert _events(second, simulator.sendgrid_public_key)[0]["event"] == "processed"


def test_callbacks_through_the_gateway_verify_in_the_handler(
    simulator: ProviderSimulator,
) -> None:
    # given: the webhooks function behind the API Gateway emulator, as in the local runtime
    verified: queue.Queue[bool] = queue.Queue()

    def webhooks(event: dict[str, Any], context: Any) -> dict[str, Any]:
        webhook = EventWebhook(simulator.sendgrid_public_key)
        headers = event["headers"]
        verified.put(
            webhook.verify_signature(event["body"], headers[SIGNATURE], headers[TIMESTAMP])
        )
        return {"statusCode": 200, "body": ""}

    gateway = Gateway("127.0.0.1", 0, [("/v1/callbacks/", LocalFunction("webhooks", webhooks))], {})
    gateway.start()
    simulator.set_callback_base_url(gateway.url)

    # when
    SendGridAPIClient(API_KEY, host=simulator.url).send(_mail("ada@example.com"))
    result = verified.get(timeout=5)
    gateway.stop()

    # then
    assert result is True
