"""The FCM and Web Push simulators, driven by the real `firebase-admin` and `pywebpush`:
they check what the real services check (OAuth assertion, VAPID signature) and decrypt what
a browser would."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import firebase_admin
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from firebase_admin import credentials, messaging
from herald.channels.fcm_push import point_at_simulator
from herald.services import vapid
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from local.simulator import ProviderSimulator

VAPID_SECRET = "unit-tests-vapid-secret-0123456789abcdef0123456789abcdef"
CLAIMS = {"sub": "mailto:ops@example.com"}


@pytest.fixture
def simulator() -> Iterator[ProviderSimulator]:
    simulator = ProviderSimulator()
    simulator.start()
    simulator.expect_vapid_key(vapid.public_key(VAPID_SECRET))
    yield simulator
    simulator.stop()


def herald_key() -> Vapid02:
    return Vapid02(private_key=vapid.private_key(VAPID_SECRET))


def test_a_web_push_is_decrypted_with_the_subscriptions_key(simulator: ProviderSimulator) -> None:
    # given
    subscription = simulator.create_web_push_subscription("ok")

    # when
    response = webpush(
        subscription,
        data=json.dumps({"title": "Hi", "body": "There"}),
        vapid_private_key=herald_key(),
        vapid_claims=dict(CLAIMS),
        ttl=60,
    )

    # then
    assert response.status_code == 201
    [entry] = simulator.outbox.list()
    assert entry["payload"] == {"title": "Hi", "body": "There"}
    assert entry["to"] == subscription["endpoint"]


def test_a_forged_vapid_signature_is_refused(simulator: ProviderSimulator) -> None:
    # given: a valid VAPID header whose JWT claims are then changed (the signature no longer
    # matches them)
    subscription = simulator.create_web_push_subscription("ok")
    claims = {**CLAIMS, "aud": subscription["endpoint"].split("/web-push/")[0], "exp": 2**31}
    header = herald_key().sign(dict(claims))["Authorization"]
    token = header.split("t=")[1].split(",")[0]
    head, _, signature = token.split(".")
    forged_claims = json.dumps({**claims, "sub": "mailto:attacker@example.com"}).encode()
    forged_payload = base64.urlsafe_b64encode(forged_claims).rstrip(b"=").decode()
    forged = header.replace(token, f"{head}.{forged_payload}.{signature}")

    # when
    response = httpx.post(
        subscription["endpoint"],
        headers={"Authorization": forged, "TTL": "60", "Content-Encoding": "aes128gcm"},
        content=b"x" * 100,
    )

    # then
    assert response.status_code == 401
    assert "signature" in response.json()["message"]
    assert simulator.outbox.list() == []


def test_a_push_signed_with_another_application_key_is_refused(
    simulator: ProviderSimulator,
) -> None:
    subscription = simulator.create_web_push_subscription("ok")
    other = Vapid02(private_key=ec.generate_private_key(ec.SECP256R1()))

    with pytest.raises(WebPushException) as refused:
        webpush(subscription, data="{}", vapid_private_key=other, vapid_claims=dict(CLAIMS))

    assert refused.value.response is not None
    assert refused.value.response.status_code == 403


def test_a_push_without_vapid_is_refused(simulator: ProviderSimulator) -> None:
    subscription = simulator.create_web_push_subscription("ok")

    response = httpx.post(subscription["endpoint"], headers={"TTL": "60"}, content=b"")

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("behaviour", "status"), [("gone", 410), ("expired", 404), ("toobig", 413), ("ratelimit", 429)]
)
def test_web_push_failures_by_endpoint(
    simulator: ProviderSimulator, behaviour: str, status: int
) -> None:
    subscription = simulator.create_web_push_subscription(behaviour)

    with pytest.raises(WebPushException) as refused:
        webpush(subscription, data="{}", vapid_private_key=herald_key(), vapid_claims=dict(CLAIMS))

    assert refused.value.response is not None
    assert refused.value.response.status_code == status


def test_firebase_admin_gets_a_token_and_sends_through_the_simulator(
    simulator: ProviderSimulator,
) -> None:
    # given: the real library, with the simulator's service account
    app = firebase_admin.initialize_app(
        credentials.Certificate(simulator.fcm_service_account()), name="unit-simulator"
    )
    try:
        point_at_simulator(app, simulator.url)

        # when
        name = messaging.send(messaging.Message(token="tok-1", data={"k": "v"}), app=app)
        with pytest.raises(messaging.UnregisteredError):
            messaging.send(messaging.Message(token="unregistered-1"), app=app)
        with pytest.raises(messaging.QuotaExceededError) as throttled:
            messaging.send(messaging.Message(token="quota-1"), app=app)
    finally:
        firebase_admin.delete_app(app)

    # then
    assert name.startswith("projects/herald-local/messages/")
    assert throttled.value.http_response.headers["Retry-After"] == "1"
    [entry] = simulator.outbox.list()
    assert (entry["to"], entry["data"]) == ("tok-1", {"k": "v"})


def test_the_token_endpoint_refuses_a_key_it_did_not_issue(simulator: ProviderSimulator) -> None:
    # given: a service account JSON with another private key
    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    app = firebase_admin.initialize_app(
        credentials.Certificate({**simulator.fcm_service_account(), "private_key": pem}),
        name="unit-forged",
    )
    try:
        point_at_simulator(app, simulator.url)

        # when / then
        with pytest.raises(Exception, match="invalid_grant"):
            messaging.send(messaging.Message(token="tok-1"), app=app)
    finally:
        firebase_admin.delete_app(app)
    assert simulator.outbox.list() == []


def test_messages_send_needs_an_issued_access_token(simulator: ProviderSimulator) -> None:
    response = httpx.post(
        f"{simulator.url}/v1/projects/herald-local/messages:send",
        headers={"Authorization": "Bearer ya29.made-up"},
        json={"message": {"token": "tok"}},
    )

    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"
