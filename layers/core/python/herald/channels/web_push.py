"""Web push (RFC 8030) with the official `pywebpush` library: aes128gcm payload encryption
(RFC 8291) and VAPID (RFC 8292) authentication."""

from __future__ import annotations

import logging

import requests
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from herald.channels.base import FanOutResult, TargetOutcome, WebPushMessage, WebPushTarget

PROVIDER = "web_push"
_TIMEOUT_SECONDS = 10
_GONE_STATUS = {404, 410}
_RETRY_STATUS = {408, 429}

logger = logging.getLogger(__name__)


class WebPushSender:
    """Sends web push messages signed with one VAPID key pair."""

    def __init__(self, vapid_key: ec.EllipticCurvePrivateKey, subject: str) -> None:
        self._vapid = Vapid02(private_key=vapid_key)
        self._subject = subject
        self._session = requests.Session()

    def send(self, message: WebPushMessage) -> FanOutResult:
        """Encrypt the payload for each subscription and post it to its push service."""
        return FanOutResult(tuple(self._send_one(message, target) for target in message.targets))

    def _send_one(self, message: WebPushMessage, target: WebPushTarget) -> TargetOutcome:
        headers: dict[str, str | int | float] = {"Urgency": message.urgency}
        if message.topic:
            headers["Topic"] = message.topic
        try:
            response = webpush(
                {
                    "endpoint": target.endpoint,
                    "keys": {"p256dh": target.p256dh, "auth": target.auth},
                },
                data=message.payload.decode(),
                vapid_private_key=self._vapid,
                # A new dict each time: pywebpush writes the audience and expiry into it.
                vapid_claims={"sub": self._subject},
                content_encoding="aes128gcm",
                # pywebpush defaults to 0 (drop unless the browser is online right now).
                ttl=message.ttl_seconds,
                headers=headers,
                timeout=_TIMEOUT_SECONDS,
                requests_session=self._session,
            )
        except WebPushException as exc:
            return _refused(target, exc)
        except requests.RequestException as exc:
            return TargetOutcome(
                target.device_id, "retry", f"push service unreachable: {exc}"[:300]
            )
        location = response.headers.get("Location") if hasattr(response, "headers") else None
        return TargetOutcome(target.device_id, "accepted", str(location or response.status_code))


def _refused(target: WebPushTarget, exc: WebPushException) -> TargetOutcome:
    response = exc.response
    if response is None:
        return TargetOutcome(target.device_id, "failed", f"web push: {exc}"[:300])
    status = response.status_code
    detail = f"push service {status}: {response.text[:200]}"
    if status in _GONE_STATUS:
        return TargetOutcome(target.device_id, "gone", detail)
    if status in _RETRY_STATUS or status >= 500:
        return TargetOutcome(target.device_id, "retry", detail, _retry_after(response))
    if status in (401, 403):
        logger.error("a push service refused Herald's VAPID signature: %s", detail)
    # 413 (payload too large), 400: this message will never go to this subscription.
    return TargetOutcome(target.device_id, "failed", detail)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
