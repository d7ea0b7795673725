"""Push and web push logic without I/O: a fanned-out result's status, payload limits, the
VAPID key derivation and the FCM message firebase-admin is given."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from firebase_admin import _messaging_encoder, messaging
from herald.channels.base import FanOutResult, PushMessage, PushTarget, TargetOutcome
from herald.channels.fcm_push import fcm_message
from herald.services import push, vapid
from herald.services.delivering import RetryPolicy, _fanned_out
from herald.templating import RenderFailed

POLICY = RetryPolicy(max_attempts=5, base_seconds=0)


def outcomes(*statuses: str, retry_after: float | None = None) -> FanOutResult:
    return FanOutResult(
        tuple(
            TargetOutcome(f"dev_{i}", s, f"detail {i}", retry_after) for i, s in enumerate(statuses)
        )
    )


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (("accepted", "gone", "retry"), ("sent", None)),
        (("gone", "gone"), ("failed", "unregistered")),
        (("gone", "failed"), ("failed", "rejected")),
        ((), ("skipped", "no_device")),
        (("retry", "gone"), ("deferred", None)),
    ],
)
def test_a_delivery_to_several_devices_is_sent_when_one_accepted(
    statuses: tuple[str, ...], expected: tuple[str, str | None]
) -> None:
    status, fields, _ = _fanned_out(outcomes(*statuses), "fcm", POLICY, attempt=1)
    assert (status, fields.get("reason")) == expected


def test_a_retry_waits_at_least_the_providers_retry_after() -> None:
    status, fields, delay = _fanned_out(outcomes("retry", retry_after=42), "fcm", POLICY, attempt=1)
    assert status == "deferred" and delay == 42
    assert [t["status"] for t in fields["targets"]] == ["retry"]


def test_retries_end_after_the_last_attempt() -> None:
    status, fields, _ = _fanned_out(outcomes("retry"), "fcm", POLICY, attempt=5)
    assert (status, fields["reason"]) == ("failed", "max_attempts")


def test_push_content_over_fcms_4_kb_does_not_compose() -> None:
    content = {"title": "T", "body": "B", "data": {"blob": "x" * 4096}}
    with pytest.raises(RenderFailed, match="4,096 bytes"):
        push.compose_push(content, [])


def test_web_push_payload_size_counts_utf8_bytes() -> None:
    content = {"title": "é", "body": "B"}
    assert push.payload_bytes("web_push", content) == len(
        b'{"title":"\xc3\xa9","body":"B","url":null,"icon":null,"data":{}}'
    )
    assert push.payload_bytes("email", content) is None


def test_the_vapid_key_pair_is_derived_the_same_way_every_time() -> None:
    secret = "a" * 64
    assert vapid.public_key(secret) == vapid.public_key("a" * 64)
    assert vapid.public_key(secret) != vapid.public_key("b" * 64)
    with pytest.raises(ValueError, match="32 random characters"):
        vapid.private_key("short")


def test_a_pem_vapid_secret_is_used_as_it_is() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    assert vapid.private_key(pem).private_numbers() == key.private_numbers()


def test_the_fcm_message_has_android_and_apns_configs() -> None:
    message = PushMessage(
        targets=(PushTarget("dev_1", "ios", "tok"),),
        title="T",
        body="B",
        data={"k": "v"},
        badge=2,
        sound="default",
        ttl_seconds=60,
        collapse_key="c",
        priority="normal",
    )
    encoded = _messaging_encoder.MessageEncoder().default(fcm_message(message, message.targets[0]))
    assert encoded["android"] == {
        "collapse_key": "c",
        "priority": "normal",
        "ttl": "60s",
        "notification": {"sound": "default"},
    }
    assert encoded["apns"]["headers"]["apns-priority"] == "5"
    assert encoded["apns"]["headers"]["apns-collapse-id"] == "c"
    assert encoded["apns"]["payload"] == {
        "aps": {"alert": {"title": "T", "body": "B"}, "badge": 2, "sound": "default"}
    }
    assert isinstance(fcm_message(message, message.targets[0]), messaging.Message)
