"""Mobile push through FCM's HTTP v1 API with the official `firebase-admin` library.

Android devices get the `android` config, iOS devices (through FCM's APNs bridge) the `apns`
config; one message is built per device token and sent with `send_each`, in chunks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import firebase_admin
from firebase_admin import credentials, exceptions, messaging
from google.auth import exceptions as auth_errors

from herald.channels.base import (
    FanOutResult,
    PushMessage,
    PushTarget,
    RetryableSendError,
    TargetOutcome,
)

PROVIDER = "fcm"
# `send_each` runs one thread per message of a call; chunks keep a worker's threads bounded
# (send concurrency x chunk) however many devices a user has. FCM allows 500 per call.
CHUNK_SIZE = 20
_TIMEOUT_SECONDS = 10
FCM_DEFAULT_TTL_SECONDS = 28 * 24 * 3600
# The version whose private attribute `point_at_simulator` sets.
_SIMULATOR_ADAPTER_VERSION = "7.7.0"

logger = logging.getLogger(__name__)
# 7.x deprecates `Message.token` for `Message.fid` (Firebase installation ids). Herald's
# devices hold FCM registration tokens, which FCM still takes as `token`.
warnings.filterwarnings("ignore", "Message.token is deprecated", DeprecationWarning)

_GONE = (messaging.UnregisteredError, messaging.SenderIdMismatchError)
_RETRY = (messaging.QuotaExceededError, exceptions.UnavailableError, exceptions.InternalError)


class FcmPushSender:
    """Sends push messages for one Firebase project (one service-account credential)."""

    def __init__(self, service_account: Mapping[str, Any], *, simulator_url: str | None = None):
        info = dict(service_account)
        # One app per credential: a rotated key gets its own app (and OAuth token).
        name = (
            "herald-" + hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()[:16]
        )
        try:
            self._app = firebase_admin.get_app(name)
        except ValueError:
            self._app = firebase_admin.initialize_app(
                credentials.Certificate(info), {"httpTimeout": _TIMEOUT_SECONDS}, name=name
            )
        if simulator_url is not None:
            point_at_simulator(self._app, simulator_url)

    def check(self) -> str:
        """A validate-only send (`validate_only`, firebase-admin's `dry_run`) to a topic:
        FCM checks the credentials, the project and the message, and delivers nothing."""
        message = messaging.Message(
            topic="herald-integration-test",
            notification=messaging.Notification(title="Herald", body="Integration test"),
        )
        try:
            name = messaging.send(message, dry_run=True, app=self._app)
        except (exceptions.FirebaseError, auth_errors.GoogleAuthError, ValueError, OSError) as exc:
            raise RetryableSendError(f"FCM {type(exc).__name__}: {exc}"[:500]) from exc
        return f"FCM validated a message (validate_only): {name}"

    def send(self, message: PushMessage) -> FanOutResult:
        """Send to every device of the message; each device's outcome."""
        outcomes: list[TargetOutcome] = []
        for chunk in _chunks(message.targets, CHUNK_SIZE):
            try:
                batch = messaging.send_each([fcm_message(message, t) for t in chunk], app=self._app)
            except (
                exceptions.FirebaseError,
                auth_errors.GoogleAuthError,
                ValueError,
                OSError,
            ) as exc:
                if outcomes:  # an earlier chunk went out: report what is known
                    detail = f"FCM unreachable: {exc}"[:300]
                    outcomes.extend(TargetOutcome(t.device_id, "retry", detail) for t in chunk)
                    continue
                raise RetryableSendError(f"FCM unreachable: {exc}") from exc
            outcomes.extend(
                _outcome(target, response)
                for target, response in zip(chunk, batch.responses, strict=True)
            )
        return FanOutResult(tuple(outcomes))


def fcm_message(message: PushMessage, target: PushTarget) -> messaging.Message:
    """The FCM v1 message for one device: notification, string data, android and apns."""
    high = message.priority == "high"
    # Without a TTL, FCM keeps a message 4 weeks; APNs is told the same.
    ttl = message.ttl_seconds if message.ttl_seconds is not None else FCM_DEFAULT_TTL_SECONDS
    apns_headers = {
        "apns-priority": "10" if high else "5",
        "apns-push-type": "alert",
        "apns-expiration": str(int(time.time()) + ttl),
    }
    if message.collapse_key:
        apns_headers["apns-collapse-id"] = message.collapse_key
    return messaging.Message(
        token=target.token,
        notification=messaging.Notification(
            title=message.title, body=message.body, image=message.image
        ),
        data=message.data or None,
        android=messaging.AndroidConfig(
            priority="high" if high else "normal",
            ttl=message.ttl_seconds,
            collapse_key=message.collapse_key,
            notification=messaging.AndroidNotification(sound=message.sound)
            if message.sound
            else None,
        ),
        apns=messaging.APNSConfig(
            headers=apns_headers,
            payload=messaging.APNSPayload(
                aps=messaging.Aps(
                    alert=messaging.ApsAlert(title=message.title, body=message.body),
                    badge=message.badge,
                    sound=message.sound,
                )
            ),
        ),
    )


def _outcome(target: PushTarget, response: messaging.SendResponse) -> TargetOutcome:
    if response.success:
        return TargetOutcome(target.device_id, "accepted", str(response.message_id))
    error = response.exception
    detail = f"FCM {type(error).__name__}: {error}"[:300]
    if isinstance(error, _GONE):
        return TargetOutcome(target.device_id, "gone", detail)
    if isinstance(error, _RETRY):
        return TargetOutcome(target.device_id, "retry", detail, _retry_after(error))
    if isinstance(error, messaging.ThirdPartyAuthError):
        # Herald's APNs credentials in Firebase are wrong: no iOS device can get anything
        # until an operator fixes them, and retrying will not help.
        logger.error("FCM rejected the APNs credentials of the Firebase project: %s", error)
        return TargetOutcome(target.device_id, "failed", detail)
    if isinstance(error, exceptions.InvalidArgumentError):
        return TargetOutcome(target.device_id, "failed", detail)
    # Anything else (our own OAuth credential refused, a timeout): worth another attempt.
    return TargetOutcome(target.device_id, "retry", detail, _retry_after(error))


def _retry_after(error: Any) -> float | None:
    response = getattr(error, "http_response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _chunks(targets: tuple[PushTarget, ...], size: int) -> Iterator[tuple[PushTarget, ...]]:
    for start in range(0, len(targets), size):
        yield targets[start : start + size]


def point_at_simulator(app: firebase_admin.App, base_url: str) -> None:
    """Local runtime only: send this app's FCM requests to the provider simulator.

    firebase-admin 7.7.0 has no supported option for the FCM endpoint (unlike its Auth and
    Database emulators), so this sets the URL its messaging service posts to. The OAuth
    token comes from the service account's `token_uri`, which the local runtime points at
    the simulator too. Pinned: another library version must re-check this adapter.
    """
    if firebase_admin.__version__ != _SIMULATOR_ADAPTER_VERSION:
        raise RuntimeError(
            f"the FCM simulator adapter is written for firebase-admin "
            f"{_SIMULATOR_ADAPTER_VERSION}, not {firebase_admin.__version__}"
        )
    service = messaging._get_messaging_service(app)
    service._fcm_url = f"{base_url.rstrip('/')}/v1/projects/{app.project_id}/messages:send"
