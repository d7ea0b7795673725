"""A Web Push service (RFC 8030) that behaves like a browser's: it checks the VAPID JWT
(RFC 8292) and decrypts each payload (aes128gcm, RFC 8291) with the subscription's private
key, so the outbox shows what the browser would show.

`create_subscription(behaviour, application_server_key)` makes a subscription as
`pushManager.subscribe({applicationServerKey})` would: a fresh P-256 key pair and 16-byte
auth secret, the private half kept here, bound to the application server key it was made
with (without one: the deployment's, `expect_vapid_key`). Its endpoint is
`{base}/web-push/{behaviour}/{id}`; the behaviour injects failures: `gone` 410, `expired`
404, `toobig` 413, `ratelimit` 429 with `Retry-After`; `ok` accepts (201 with `Location`).

A push without a valid VAPID signature is 401, one signed with another key than the
subscription was made with 403, as push services answer. The outbox records the key that
signed (`from`).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from local.http import DevRequest, DevResponse
from local.simulator.jwt import InvalidToken, b64url_decode, verify
from local.simulator.outbox import Outbox

PATH_PREFIX = "/web-push/"
BEHAVIOURS = ("ok", "gone", "expired", "toobig", "ratelimit")
MAX_ENCRYPTED_BYTES = 4096
RATELIMIT_RETRY_AFTER_SECONDS = 1
# RFC 8292 §2: a JWT valid for more than 24 hours is refused.
MAX_VAPID_LIFETIME_SECONDS = 24 * 3600
_URGENCIES = ("very-low", "low", "normal", "high")


@dataclass(frozen=True)
class _Subscriber:
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    # The applicationServerKey it was made with; None: the deployment's.
    server_key: str | None = None


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class WebPushSimulator:
    """The Web Push side of the provider simulator."""

    def __init__(self, outbox: Outbox, subscriptions: Path | None = None) -> None:
        """`subscriptions`: a file keeping the subscriptions' private keys, so that those
        made before a restart still decrypt what is pushed to them after it."""
        self._outbox = outbox
        self._subscribers: dict[str, _Subscriber] = {}
        self._expected_vapid_key: str | None = None
        self._lock = threading.Lock()
        self._store = subscriptions
        if subscriptions is not None and subscriptions.exists():
            for line in subscriptions.read_text().splitlines():
                try:
                    kept = json.loads(line)
                    subscriber = _Subscriber(
                        ec.derive_private_key(int(kept["key"], 16), ec.SECP256R1()),
                        b64url_decode(kept["auth"]),
                        kept.get("server_key"),
                    )
                except (ValueError, KeyError, TypeError):
                    continue  # a line a crash cut short
                self._subscribers[str(kept["id"])] = subscriber

    def expect_vapid_key(self, public_key: str | None) -> None:
        """The deployment's application server key: subscriptions made without naming one
        are bound to it, and pushes to them signed with another key are refused (403), as a
        push service refuses pushes to a subscription made with another key."""
        self._expected_vapid_key = public_key

    def create_subscription(
        self, base_url: str, behaviour: str = "ok", application_server_key: str | None = None
    ) -> dict[str, Any]:
        """A new subscription, as `PushSubscription.toJSON()` gives it, bound to
        `application_server_key` (base64url P-256 point; default: the deployment's).
        ValueError for an unknown behaviour or a key that is not a P-256 point."""
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"behaviour must be one of {', '.join(BEHAVIOURS)}")
        if application_server_key is not None:
            application_server_key = _server_key(application_server_key)
        key = ec.generate_private_key(ec.SECP256R1())
        auth = secrets.token_bytes(16)
        subscription_id = secrets.token_urlsafe(16)
        with self._lock:
            self._subscribers[subscription_id] = _Subscriber(key, auth, application_server_key)
            if self._store is not None:
                kept = {
                    "id": subscription_id,
                    "key": f"{key.private_numbers().private_value:x}",
                    "auth": _b64url(auth),
                    "server_key": application_server_key,
                }
                with self._store.open("a") as store:
                    store.write(json.dumps(kept) + "\n")
                self._store.chmod(0o600)
        point = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": f"{base_url}{PATH_PREFIX}{behaviour}/{subscription_id}",
            "expirationTime": None,
            "keys": {"p256dh": _b64url(point), "auth": _b64url(auth)},
        }

    def push(self, request: DevRequest) -> DevResponse:  # noqa: PLR0911 - one per refusal
        """`POST /web-push/{behaviour}/{id}`: one push message."""
        behaviour, _, subscription_id = request.path.removeprefix(PATH_PREFIX).partition("/")
        with self._lock:
            subscriber = self._subscribers.get(subscription_id)
        if (refusal := self._check_vapid(request, subscriber)) is not None:
            return refusal
        if "ttl" not in request.headers or not request.headers["ttl"].isdigit():
            return _error(400, "TTL header is required")
        urgency = request.headers.get("urgency", "normal")
        if urgency not in _URGENCIES:
            return _error(400, f"invalid Urgency {urgency!r}")
        if behaviour == "gone":
            return _error(410, "push subscription has unsubscribed or expired")
        if behaviour == "expired":
            return _error(404, "push subscription not found")
        if behaviour == "ratelimit":
            return _error(
                429, "too many requests", {"Retry-After": str(RATELIMIT_RETRY_AFTER_SECONDS)}
            )
        if behaviour == "toobig" or len(request.body) > MAX_ENCRYPTED_BYTES:
            return _error(413, "payload too large")
        if subscriber is None or behaviour not in BEHAVIOURS:
            return _error(404, "push subscription not found")
        if request.headers.get("content-encoding") != "aes128gcm":
            return _error(400, "Content-Encoding must be aes128gcm")
        try:
            plaintext = http_ece.decrypt(
                request.body,
                private_key=subscriber.private_key,
                auth_secret=subscriber.auth,
                version="aes128gcm",
            )
        except Exception as exc:  # http_ece raises ECEException, ValueError, InvalidTag
            return _error(400, f"payload does not decrypt: {type(exc).__name__}")
        return self._record(request, plaintext)

    def _check_vapid(  # noqa: PLR0911 - one per refusal
        self, request: DevRequest, subscriber: _Subscriber | None
    ) -> DevResponse | None:
        """RFC 8292: `Authorization: vapid t=<JWT>, k=<public key>`, JWT signed with k, and
        k the key the subscription was made with."""
        scheme, _, params = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "vapid":
            return _error(401, "missing VAPID authorization")
        fields = _vapid_fields(params)
        token, public_key = fields.get("t", ""), fields.get("k", "")
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(
                ec.SECP256R1(), b64url_decode(public_key)
            )
            claims = verify(token, key)
        except (InvalidToken, ValueError) as exc:
            return _error(401, f"invalid VAPID signature: {exc}")
        audience = f"http://{request.headers.get('host', '')}"
        if claims.get("aud") != audience:
            return _error(401, f"VAPID aud must be {audience}")
        if claims["exp"] > time.time() + MAX_VAPID_LIFETIME_SECONDS:
            return _error(401, "VAPID exp is more than 24 hours ahead")
        sub = str(claims.get("sub", ""))
        if not (sub.startswith("mailto:") or urlsplit(sub).scheme == "https"):
            return _error(401, "VAPID sub must be a mailto: or https: URI")
        bound = subscriber.server_key if subscriber is not None else None
        bound = bound or self._expected_vapid_key
        if bound is not None and public_key.rstrip("=") != bound:
            return _error(403, "VAPID key does not match the subscription's applicationServerKey")
        return None

    def _record(self, request: DevRequest, plaintext: bytes) -> DevResponse:
        try:
            payload: Any = json.loads(plaintext)
        except ValueError:
            payload = plaintext.decode("utf-8", "replace")
        fields = payload if isinstance(payload, dict) else {}
        message_id = secrets.token_urlsafe(12)
        endpoint = f"http://{request.headers.get('host', '')}{request.path}"
        self._outbox.record(
            {
                "id": message_id,
                "channel": "web_push",
                "provider": "web_push",
                "to": endpoint,
                "from": vapid_key_of(request),
                "subject": None,
                "text": None,
                "html": None,
                "headers": {
                    name: request.headers[name]
                    for name in ("ttl", "urgency", "topic")
                    if name in request.headers
                },
                "title": fields.get("title"),
                "body": fields.get("body"),
                "data": fields.get("data"),
                "payload": payload,
                "received_at": datetime.now(UTC)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"),
            }
        )
        location = f"http://{request.headers.get('host', '')}/web-push/messages/{message_id}"
        return DevResponse(201, b"", {"Location": location})


def vapid_key_of(request: DevRequest) -> str:
    """The application server key a push names (`k=` of its VAPID authorization): the
    account a provider mode is set for."""
    scheme, _, params = request.headers.get("authorization", "").partition(" ")
    return _vapid_fields(params).get("k", "").rstrip("=") if scheme.lower() == "vapid" else ""


def _vapid_fields(params: str) -> dict[str, str]:
    return dict(part.strip().split("=", 1) for part in params.split(",") if "=" in part)


def _server_key(value: str) -> str:
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(value))
    except (InvalidToken, ValueError):
        raise ValueError(
            "application_server_key must be a P-256 public key (uncompressed point, base64url)"
        ) from None
    return value.rstrip("=")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> DevResponse:
    return DevResponse(status, {"code": status, "errno": status, "message": message}, headers or {})
