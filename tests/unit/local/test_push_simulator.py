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


def _public_key(key: Vapid02) -> str:
    point = key.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(point).rstrip(b"=").decode()


def test_a_subscription_takes_pushes_signed_with_the_key_it_was_made_with_only(
    simulator: ProviderSimulator,
) -> None:
    # given: a browser that subscribed with a tenant's own application server key
    tenant_key = Vapid02(private_key=ec.generate_private_key(ec.SECP256R1()))
    subscription = simulator.create_web_push_subscription("ok", _public_key(tenant_key))

    # when: the deployment's key signs, then the tenant's
    with pytest.raises(WebPushException) as refused:
        webpush(subscription, data="{}", vapid_private_key=herald_key(), vapid_claims=dict(CLAIMS))
    accepted = webpush(
        subscription, data="{}", vapid_private_key=tenant_key, vapid_claims=dict(CLAIMS)
    )

    # then: only the key it was made with gets through, and the outbox names it
    assert refused.value.response is not None
    assert refused.value.response.status_code == 403
    assert accepted.status_code == 201
    [entry] = simulator.outbox.list()
    assert entry["from"] == _public_key(tenant_key)


def test_a_subscription_with_a_malformed_application_server_key_is_refused(
    simulator: ProviderSimulator,
) -> None:
    with pytest.raises(ValueError, match="P-256"):
        simulator.create_web_push_subscription("ok", "not-a-key")


def test_web_push_down_for_one_application_server_key(simulator: ProviderSimulator) -> None:
    # given: one key's pushes made to fail
    tenant_key = Vapid02(private_key=ec.generate_private_key(ec.SECP256R1()))
    theirs = simulator.create_web_push_subscription("ok", _public_key(tenant_key))
    ours = simulator.create_web_push_subscription("ok")
    simulator.modes.set("web_push", "down", _public_key(tenant_key))

    # when
    with pytest.raises(WebPushException) as down:
        webpush(theirs, data="{}", vapid_private_key=tenant_key, vapid_claims=dict(CLAIMS))
    up = webpush(ours, data="{}", vapid_private_key=herald_key(), vapid_claims=dict(CLAIMS))

    # then: the other key is unaffected
    assert down.value.response is not None
    assert down.value.response.status_code == 503
    assert up.status_code == 201


def test_each_project_sends_with_its_own_service_account_to_its_own_tokens(
    simulator: ProviderSimulator,
) -> None:
    # given: the real library with the service account of a second project
    account = simulator.fcm_service_account("acme-app")
    ours = simulator.fcm_registration_token("acme-app")
    theirs = simulator.fcm_registration_token()
    app = firebase_admin.initialize_app(credentials.Certificate(account), name="unit-acme")
    try:
        point_at_simulator(app, simulator.url)

        # when
        name = messaging.send(messaging.Message(token=ours, data={"k": "v"}), app=app)
        with pytest.raises(messaging.SenderIdMismatchError):
            messaging.send(messaging.Message(token=theirs), app=app)
        with pytest.raises(messaging.SenderIdMismatchError):
            messaging.send(messaging.Message(token="android-token-1"), app=app)
    finally:
        firebase_admin.delete_app(app)

    # then: one send, recorded as from its project; the account is the same when asked again
    assert name.startswith("projects/acme-app/messages/")
    [entry] = simulator.outbox.list()
    assert (entry["to"], entry["from"]) == (ours, "acme-app")
    assert simulator.fcm_service_account("acme-app") == account
    assert account["client_email"] != simulator.fcm_service_account()["client_email"]


def test_an_access_token_is_for_its_own_project_only(simulator: ProviderSimulator) -> None:
    # given: an access token of the deployment's project
    app = firebase_admin.initialize_app(
        credentials.Certificate(simulator.fcm_service_account()), name="unit-own-project"
    )
    try:
        access_token = app.credential.get_access_token().access_token
    finally:
        firebase_admin.delete_app(app)

    # when: it is used on another project
    simulator.fcm_service_account("acme-app")
    response = httpx.post(
        f"{simulator.url}/v1/projects/acme-app/messages:send",
        headers={"Authorization": f"Bearer {access_token}"},
        json={"message": {"token": simulator.fcm_registration_token("acme-app")}},
    )

    # then
    assert response.status_code == 403
    assert response.json()["error"]["status"] == "PERMISSION_DENIED"
    assert simulator.outbox.list() == []


def test_fcm_down_for_one_project(simulator: ProviderSimulator) -> None:
    # given
    simulator.modes.set("fcm", "down", "acme-app")
    app = firebase_admin.initialize_app(
        credentials.Certificate(simulator.fcm_service_account()), name="unit-up-project"
    )
    try:
        point_at_simulator(app, simulator.url)

        # when the other project sends
        name = messaging.send(messaging.Message(token="tok-1"), app=app)
    finally:
        firebase_admin.delete_app(app)

    # then it is unaffected
    assert name.startswith("projects/herald-local/messages/")


@pytest.mark.parametrize("project_id", ["Acme", "ab", "acme_app", "-acme-app"])
def test_a_malformed_project_id_is_refused(simulator: ProviderSimulator, project_id: str) -> None:
    with pytest.raises(ValueError, match="project id"):
        simulator.fcm_service_account(project_id)
