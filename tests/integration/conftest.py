"""Integration harness: the real handlers, configured as CDK configures them, on real parts.

The provider simulator stands in for SendGrid; the real `sendgrid` client talks to it.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import psycopg
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from herald.db.connection import Database
from herald.services import vapid
from herald.services.tenants import create_tenant
from twilio.request_validator import RequestValidator

from local.aws_resources import REGION, Resources, free_port, provision, sns_publisher
from local.functions import function_environment, import_handlers
from local.simulator import ProviderSimulator
from local.websocket import WebSocketGateway

SIMULATOR_KEY = "SG.integration-tests"
TWILIO_ACCOUNT_SID = "AC" + "1" * 32
TWILIO_AUTH_TOKEN = "integration-tests-twilio-auth-token"
SMS_FROM = "+15005550006"
WHATSAPP_FROM = "whatsapp:+14155238886"
# The public URL Herald's callbacks are signed for (Settings.public_base_url's default).
PUBLIC_BASE_URL = "http://127.0.0.1:8000"
# Signs end-user links, as the secret CDK generates does in AWS; tests issue tokens with it.
LINKS_SECRET = "integration-tests-link-signing-key-0123456789abcdef"
# What the VAPID key pair is derived from, as from the secret CDK generates in AWS.
VAPID_SECRET = "integration-tests-vapid-secret-0123456789abcdef0123456789"


@dataclass
class Stack:
    """What a test needs to drive Herald through its handlers."""

    resources: Resources
    simulator: ProviderSimulator
    db: Database
    handlers: dict[str, ModuleType]
    # Signs SendGrid Event Webhook payloads as SendGrid does; its public key is in the secret.
    callback_key: ec.EllipticCurvePrivateKey
    # The HMAC key of unsubscribe and preference links (the links secret's value).
    links_secret: bytes
    # The inbox's realtime WebSocket API, served by the real realtime handler.
    websocket: WebSocketGateway

    def sign_sendgrid(self, payload: str, timestamp: str | None = None) -> dict[str, str]:
        timestamp = timestamp or str(int(time.time()))
        signature = self.callback_key.sign(
            (timestamp + payload).encode(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "x-twilio-email-event-webhook-signature": base64.b64encode(signature).decode(),
            "x-twilio-email-event-webhook-timestamp": timestamp,
        }

    def sign_twilio(self, url: str, params: dict[str, str]) -> dict[str, str]:
        """The headers Twilio sends with a callback to `url` (X-Twilio-Signature)."""
        signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(url, params)
        return {
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": signature,
        }

    def sqs(self) -> Any:
        return boto3.client("sqs", region_name=REGION)

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        """Receive (and delete) every message now on a queue."""
        sqs = self.sqs()
        messages: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return messages
            messages.extend(batch)
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
                ],
            )


@pytest.fixture(scope="session")
def stack(database_url: str, moto_endpoint: str) -> Iterator[Stack]:
    # No callback URL: the simulator records sends but posts no events; tests post their own.
    simulator = ProviderSimulator(
        sendgrid_api_key=SIMULATOR_KEY,
        twilio_account_sid=TWILIO_ACCOUNT_SID,
        twilio_auth_token=TWILIO_AUTH_TOKEN,
    )
    simulator.start()
    callback_key = ec.generate_private_key(ec.SECP256R1())
    public_der = callback_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    resources = provision(
        {
            "sendgrid_api_key": SIMULATOR_KEY,
            "sendgrid_webhook_public_key": base64.b64encode(public_der).decode(),
            "twilio_account_sid": TWILIO_ACCOUNT_SID,
            "twilio_auth_token": TWILIO_AUTH_TOKEN,
            "twilio_from_number": SMS_FROM,
            "twilio_whatsapp_from": WHATSAPP_FROM,
            "fcm_service_account": simulator.fcm_service_account(),
        },
        links_secret=LINKS_SECRET,
        vapid_secret=VAPID_SECRET,
    )
    simulator.expect_vapid_key(vapid.public_key(VAPID_SECRET))
    simulator.ses.publish_events_with(sns_publisher(resources.ses_events_topic_arn))
    websocket_port, management_port = free_port(), free_port()
    os.environ.update(
        function_environment(
            resources,
            database_url,
            sendgrid_api_host=simulator.url,
            public_base_url=PUBLIC_BASE_URL,
            twilio_api_base_url=simulator.url,
            simulator_url=simulator.url,
            websocket_url=f"ws://127.0.0.1:{websocket_port}",
            websocket_management_url=f"http://127.0.0.1:{management_port}",
        )
    )
    # Retries without waiting, so a test can walk a delivery through all its attempts.
    os.environ["HERALD_RETRY_BASE_SECONDS"] = "0"
    os.environ["HERALD_WEBHOOK_RETRY_SCHEDULE"] = "[0, 0, 0]"
    handlers = {
        name.removeprefix("functions."): module for name, module in import_handlers().items()
    }
    websocket = WebSocketGateway.started(
        "127.0.0.1", websocket_port, management_port, handlers["realtime.handler"].handler
    )
    db = Database(database_url)
    yield Stack(
        resources=resources,
        simulator=simulator,
        db=db,
        handlers=handlers,
        callback_key=callback_key,
        links_secret=LINKS_SECRET.encode(),
        websocket=websocket,
    )
    websocket.stop()
    db.close()
    simulator.stop()


@pytest.fixture(autouse=True)
def clean_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """Empty tables, queues and outbox before each integration test."""
    if "stack" not in request.fixturenames:
        yield
        return
    stack: Stack = request.getfixturevalue("stack")
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            "TRUNCATE inbox_connections, inbox_items, delivery_events, deliveries,"
            " idempotency_keys, notifications, api_keys, users, preference_events, suppressions,"
            " whatsapp_sessions, delivery_stats_hourly, delivery_latency_hourly,"
            " delivery_stats_changes, default_circuits, tenants CASCADE"
        )
    sqs = stack.sqs()
    resources = stack.resources
    for queue in (
        resources.dispatch,
        resources.email,
        resources.sms,
        resources.whatsapp,
        resources.push,
        resources.web_push,
        resources.in_app,
        resources.webhook_events,
        resources.webhook,
        *resources.bulk.values(),
        resources.ses_events,
    ):
        for url in (queue.url, queue.dlq_url):
            sqs.purge_queue(QueueUrl=url)
    stack.simulator.outbox.clear()
    stack.simulator.twilio.throttle(0)
    stack.simulator.modes.reset()
    yield


@dataclass
class Tenant:
    id: str
    key: str


@pytest.fixture
def tenant(stack: Stack) -> Tenant:
    tenant_id, key = create_tenant(stack.db, "Acme")
    return Tenant(tenant_id, key.key)


@pytest.fixture
def other_tenant(stack: Stack) -> Tenant:
    tenant_id, key = create_tenant(stack.db, "Globex")
    return Tenant(tenant_id, key.key)


def http_event(
    method: str,
    path: str,
    *,
    key: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    raw_body: str | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as API Gateway sends it."""
    event: dict[str, Any] = json.loads(json.dumps(_EVENT_TEMPLATE))
    all_headers = {"content-type": "application/json", **(headers or {})}
    if key is not None:
        all_headers["authorization"] = f"Bearer {key}"
    event["headers"] = {k.lower(): v for k, v in all_headers.items()}
    event["rawPath"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    if query:
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    if raw_body is not None:
        event["body"] = raw_body
    elif body is not None:
        event["body"] = json.dumps(body)
    return event


_EVENT_TEMPLATE = json.loads(
    (Path(__file__).resolve().parent.parent / "fixtures" / "apigw_http_event.json").read_text()
)


class LambdaContext:
    function_name = "test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "test-request"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000
