"""The Twilio simulator, driven by the real `twilio` client (through Herald's adapter), calling
back status and inbound webhooks signed as Twilio signs them."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qsl

import pytest
from herald.channels.base import PermanentSendError, RetryableSendError, TextMessage
from herald.channels.twilio_messages import TwilioMessageSender
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from local.http import DevRequest
from local.simulator import ProviderSimulator
from tests.unit.local.test_simulator import Receiver

ACCOUNT_SID = "AC" + "7" * 32
AUTH_TOKEN = "unit-test-auth-token"
FROM = "+15005550006"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.server.start()
    yield receiver
    receiver.server.stop()


@pytest.fixture
def simulator(receiver: Receiver) -> Iterator[ProviderSimulator]:
    simulator = ProviderSimulator(
        twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN, event_delay_seconds=0.01
    )
    simulator.set_callback_base_url(receiver.server.url)
    simulator.start()
    yield simulator
    simulator.stop()


def _sender(simulator: ProviderSimulator, token: str = AUTH_TOKEN) -> TwilioMessageSender:
    return TwilioMessageSender(ACCOUNT_SID, token, api_base_url=simulator.url)


def _sms(to: str, callback: str, text: str = "Your code is 123") -> TextMessage:
    return TextMessage(
        to=to, sender=FROM, messaging_service_sid=None, status_callback=callback, text=text
    )


def _verified(request: DevRequest, url: str) -> dict[str, str]:
    """The callback's parameters, after checking its signature as Herald does."""
    params = dict(parse_qsl(request.body.decode()))
    signature = request.headers["x-twilio-signature"]
    assert RequestValidator(AUTH_TOKEN).validate(url, params, signature)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    return params


def test_the_real_client_creates_a_message_as_twilio_answers(
    simulator: ProviderSimulator,
) -> None:
    # given
    sender = _sender(simulator)

    # when
    sid = sender.send(_sms("+14155550100", "http://127.0.0.1:1/cb", text="é" * 71))
    entry = simulator.outbox.list()[0]

    # then
    assert sid.startswith("SM") and len(sid) == 34
    assert entry["id"] == sid
    assert (entry["channel"], entry["provider"]) == ("sms", "twilio")
    assert (entry["to"], entry["from"], entry["text"]) == ("+14155550100", FROM, "é" * 71)
    assert entry["num_segments"] == 1, "é is in GSM-7"


def test_status_callbacks_are_sent_then_delivered_signed_with_the_auth_token(
    simulator: ProviderSimulator, receiver: Receiver
) -> None:
    # given
    callback = receiver.server.url + "/v1/callbacks/twilio/status?delivery_id=dlv_1"

    # when
    sid = _sender(simulator).send(_sms("+14155550100", callback))
    first, second = receiver.next(), receiver.next()

    # then
    statuses = [_verified(r, callback) for r in (first, second)]
    assert [s["MessageStatus"] for s in statuses] == ["sent", "delivered"]
    assert {s["MessageSid"] for s in statuses} == {sid}
    assert first.path == "/v1/callbacks/twilio/status"
    assert first.query == {"delivery_id": "dlv_1"}


def test_a_number_ending_0303_is_undelivered_with_30003(
    simulator: ProviderSimulator, receiver: Receiver
) -> None:
    # given
    callback = receiver.server.url + "/status"

    # when
    _sender(simulator).send(_sms("+14155550303", callback))
    statuses = [_verified(receiver.next(), callback) for _ in range(2)]

    # then
    assert [s["MessageStatus"] for s in statuses] == ["sent", "undelivered"]
    assert statuses[1]["ErrorCode"] == "30003"


@pytest.mark.parametrize(
    ("to", "status", "code"),
    [
        ("+15005550001", 400, 21211),
        ("+15005550004", 400, 21610),
        ("+15005550009", 400, 21614),
        ("+14155550429", 429, 20429),
        ("+14155550500", 500, 20500),
        ("not-a-number", 400, 21211),
    ],
)
def test_test_numbers_fail_with_twilios_error_body(
    simulator: ProviderSimulator, to: str, status: int, code: int
) -> None:
    # given
    client = Client(ACCOUNT_SID, AUTH_TOKEN)
    client.http_client = _sender(simulator)._client.http_client

    # when
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=to, from_=FROM, body="hi")

    # then
    assert (raised.value.status, raised.value.code) == (status, code)
    assert raised.value.msg
    assert simulator.outbox.list() == []


def test_errors_are_classified_permanent_or_retryable(simulator: ProviderSimulator) -> None:
    # given
    sender = _sender(simulator)

    # when / then
    with pytest.raises(PermanentSendError) as opted_out:
        sender.send(_sms("+15005550004", "http://127.0.0.1:1/cb"))
    assert (opted_out.value.reason, opted_out.value.suppression) == ("opted_out", "stop")
    with pytest.raises(PermanentSendError) as invalid:
        sender.send(_sms("+15005550001", "http://127.0.0.1:1/cb"))
    assert (invalid.value.reason, invalid.value.suppression) == ("invalid_number", None)
    with pytest.raises(RetryableSendError):
        sender.send(_sms("+14155550429", "http://127.0.0.1:1/cb"))
    with pytest.raises(RetryableSendError):
        _sender(simulator, token="wrong").send(_sms("+14155550100", "http://127.0.0.1:1/cb"))


def test_an_unreachable_twilio_is_retryable() -> None:
    # given: nothing listens on port 1
    sender = TwilioMessageSender(ACCOUNT_SID, AUTH_TOKEN, api_base_url="http://127.0.0.1:1")

    # when / then
    with pytest.raises(RetryableSendError):
        sender.send(_sms("+14155550100", "http://127.0.0.1:1/cb"))


def test_a_content_template_is_recorded_with_its_variables(simulator: ProviderSimulator) -> None:
    # given
    message = TextMessage(
        to="whatsapp:+14155550100",
        sender="whatsapp:+14155238886",
        messaging_service_sid=None,
        status_callback="http://127.0.0.1:1/cb",
        content_sid="HX" + "a" * 32,
        content_variables={"1": "Ada"},
    )

    # when
    _sender(simulator).send(message)

    # then
    (entry,) = simulator.outbox.list()
    assert entry["channel"] == "whatsapp"
    assert (entry["content_sid"], entry["content_variables"]) == ("HX" + "a" * 32, {"1": "Ada"})


def test_a_stop_sent_inbound_makes_twilio_refuse_the_number_until_start(
    simulator: ProviderSimulator, receiver: Receiver
) -> None:
    # given
    sender = _sender(simulator)

    # when
    simulator.twilio.inbound("+14155550100", FROM, "stop")
    inbound = receiver.next()
    with pytest.raises(PermanentSendError) as refused:
        sender.send(_sms("+14155550100", "http://127.0.0.1:1/cb"))
    simulator.twilio.inbound("+14155550100", FROM, "START")
    receiver.next()
    sender.send(_sms("+14155550100", "http://127.0.0.1:1/cb"))

    # then
    params = _verified(inbound, receiver.server.url + "/v1/callbacks/twilio/inbound")
    assert (params["From"], params["To"], params["Body"]) == ("+14155550100", FROM, "stop")
    assert refused.value.reason == "opted_out"


TENANT_SID, TENANT_TOKEN = "AC" + "9" * 32, "t" * 32
TENANT_NUMBER = "+14155550777"


def test_an_inbound_to_a_tenant_accounts_number_goes_to_its_webhook_signed_with_its_token(
    simulator: ProviderSimulator, receiver: Receiver
) -> None:
    # given a tenant's own account, known once it has authenticated
    tenant = TwilioMessageSender(TENANT_SID, TENANT_TOKEN, api_base_url=simulator.url)
    tenant.send(_sms("+14155550100", "http://127.0.0.1:1/cb"))
    webhook = "/v1/callbacks/twilio/inbound/int_acme"

    # when the user answers STOP to the tenant's number
    simulator.twilio.inbound(
        "+14155550100", TENANT_NUMBER, "STOP", account_sid=TENANT_SID, webhook_url=webhook
    )
    request = receiver.next()

    # then it is posted to the tenant's webhook, from its account, signed with its token
    url = receiver.server.url + webhook
    params = dict(parse_qsl(request.body.decode()))
    assert request.path == webhook
    assert RequestValidator(TENANT_TOKEN).validate(
        url, params, request.headers["x-twilio-signature"]
    )
    assert not RequestValidator(AUTH_TOKEN).validate(
        url, params, request.headers["x-twilio-signature"]
    )
    assert (params["AccountSid"], params["To"], params["Body"]) == (
        TENANT_SID,
        TENANT_NUMBER,
        "STOP",
    )
    # and that account refuses the number, the deployment's account does not
    with pytest.raises(PermanentSendError):
        tenant.send(_sms("+14155550100", "http://127.0.0.1:1/cb"))
    _sender(simulator).send(_sms("+14155550100", "http://127.0.0.1:1/cb"))


def test_an_inbound_for_an_account_never_seen_is_refused(simulator: ProviderSimulator) -> None:
    # when / then
    with pytest.raises(ValueError, match="has authenticated"):
        simulator.twilio.inbound("+14155550100", TENANT_NUMBER, "STOP", account_sid=TENANT_SID)
