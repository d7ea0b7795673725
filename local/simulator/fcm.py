"""FCM HTTP v1 (`POST /v1/projects/{project}/messages:send`) and the Google OAuth 2.0 token
endpoint a service account's `token_uri` names, as far as `firebase-admin` uses them.

The simulator owns a throwaway service account (a fresh RSA key): `service_account()` is the
JSON to put in the provider secret. `POST /token` checks the JWT-bearer assertion's RS256
signature, issuer and audience and answers an access token; `messages:send` requires one of
those tokens, validates the message (one target, string data, the 4096-byte payload limit)
and records it in the outbox, `android` and `apns` blocks included.

Failure injection, by the device token's prefix, with FCM's error body
(`details[].errorCode`): `unregistered-` 404 UNREGISTERED, `invalid-` 400 INVALID_ARGUMENT,
`quota-` 429 QUOTA_EXCEEDED (with `Retry-After`), `unavailable-` 503 UNAVAILABLE,
`mismatch-` 403 SENDER_ID_MISMATCH, `apns-auth-` 401 THIRD_PARTY_AUTH_ERROR.
"""

from __future__ import annotations

import json
import secrets
import threading
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from local.http import DevRequest, DevResponse
from local.simulator.jwt import InvalidToken, verify
from local.simulator.outbox import Outbox

PROJECT_ID = "herald-local"
CLIENT_EMAIL = f"herald-push@{PROJECT_ID}.iam.gserviceaccount.com"
TOKEN_PATH = "/token"  # noqa: S105 - a path, not a password
SEND_PATH_PREFIX = "/v1/projects/"
SEND_PATH_SUFFIX = "/messages:send"
FCM_MAX_PAYLOAD_BYTES = 4096
QUOTA_RETRY_AFTER_SECONDS = 1
_FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
# google-auth signs its assertion for Google's token endpoint, wherever `token_uri` points.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"

# token prefix -> (HTTP status, status, errorCode, message)
_FAILURES: dict[str, tuple[int, str, str, str]] = {
    "unregistered-": (404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."),
    "invalid-": (
        400,
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        "The registration token is not a valid FCM registration token",
    ),
    "quota-": (
        429,
        "RESOURCE_EXHAUSTED",
        "QUOTA_EXCEEDED",
        "Quota exceeded for quota metric 'Messages sent'.",
    ),
    "unavailable-": (503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable."),
    "mismatch-": (403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch"),
    "apns-auth-": (
        401,
        "UNAUTHENTICATED",
        "THIRD_PARTY_AUTH_ERROR",
        "Auth error from APNS or Web Push Service",
    ),
}


class FcmSimulator:
    """The FCM side of the provider simulator."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._key_id = secrets.token_hex(20)
        self._access_tokens: set[str] = set()
        self._lock = threading.Lock()

    def service_account(self, base_url: str) -> dict[str, str]:
        """A service-account JSON whose key this simulator knows and whose `token_uri` is it."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": PROJECT_ID,
            "private_key_id": self._key_id,
            "private_key": pem,
            "client_email": CLIENT_EMAIL,
            "client_id": "100000000000000000000",
            "auth_uri": f"{base_url}/o/oauth2/auth",
            "token_uri": f"{base_url}{TOKEN_PATH}",
        }

    def token(self, request: DevRequest) -> DevResponse:
        """`POST /token`: a JWT-bearer grant signed with the service account's key."""
        form = parse_qs(request.body.decode("utf-8", "replace"))
        if form.get("grant_type") != [_JWT_BEARER] or len(form.get("assertion", [])) != 1:
            return _oauth_error("unsupported_grant_type", "Invalid grant_type.")
        try:
            claims = verify(form["assertion"][0], self._key.public_key())
        except InvalidToken as exc:
            return _oauth_error("invalid_grant", f"Invalid JWT Signature: {exc}")
        if claims.get("iss") != CLIENT_EMAIL or claims.get("aud") != GOOGLE_TOKEN_AUDIENCE:
            return _oauth_error("invalid_grant", "Invalid JWT: iss or aud do not match.")
        access_token = "ya29.sim-" + secrets.token_urlsafe(32)
        with self._lock:
            self._access_tokens.add(access_token)
        return DevResponse(
            200, {"access_token": access_token, "expires_in": 3599, "token_type": "Bearer"}
        )

    def send(self, request: DevRequest) -> DevResponse:
        """`POST /v1/projects/{project}/messages:send`."""
        project = request.path.removeprefix(SEND_PATH_PREFIX).removesuffix(SEND_PATH_SUFFIX)
        authorization = request.headers.get("authorization", "")
        with self._lock:
            known = authorization.removeprefix("Bearer ") in self._access_tokens
        if not authorization.startswith("Bearer ") or not known:
            return _google_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            )
        if project != PROJECT_ID:
            return _google_error(403, "PERMISSION_DENIED", f"Permission denied on {project}.")
        if (checked := _validate_only(request.body, project)) is not None:
            return checked
        message, problem = _parse(request.body)
        if problem is not None:
            return _fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", problem)
        token = message["token"]
        for prefix, (status, code, error_code, text) in _FAILURES.items():
            if token.startswith(prefix):
                headers = (
                    {"Retry-After": str(QUOTA_RETRY_AFTER_SECONDS)}
                    if error_code == "QUOTA_EXCEEDED"
                    else {}
                )
                return _fcm_error(status, code, error_code, text, headers)
        name = f"projects/{project}/messages/{secrets.randbelow(10**19):019d}"
        notification = message.get("notification", {})
        self._outbox.record(
            {
                "id": name,
                "channel": "push",
                "provider": "fcm",
                "to": token,
                "from": None,
                "subject": None,
                "text": None,
                "html": None,
                "headers": message.get("apns", {}).get("headers", {}),
                "title": notification.get("title"),
                "body": notification.get("body"),
                "data": message.get("data", {}),
                "payload": message,
                "received_at": datetime.now(UTC)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"),
            }
        )
        return DevResponse(200, {"name": name})


def _validate_only(body: bytes, project: str) -> DevResponse | None:
    """A `validate_only` request (firebase-admin's `dry_run`): checked, never delivered nor
    recorded, answered with FCM's placeholder name; any one target (a topic too). None for
    a request that is not validate-only."""
    try:
        request = json.loads(body)
    except ValueError:
        return None
    if not isinstance(request, dict) or request.get("validate_only") is not True:
        return None
    message = request.get("message")
    targets = [
        k for k in ("token", "topic", "condition") if isinstance(message, dict) and message.get(k)
    ]
    if len(targets) != 1:
        return _fcm_error(
            400,
            "INVALID_ARGUMENT",
            "INVALID_ARGUMENT",
            "Exactly one of token, topic or condition must be specified.",
        )
    return DevResponse(200, {"name": f"projects/{project}/messages/fake_message_id"})


def _parse(body: bytes) -> tuple[dict[str, Any], str | None]:
    """The message and what FCM would refuse in it."""
    try:
        request = json.loads(body)
    except ValueError:
        return {}, "Invalid JSON payload received."
    message = request.get("message") if isinstance(request, dict) else None
    if not isinstance(message, dict):
        return {}, "Invalid JSON payload received. Unknown name: message is required."
    targets = [k for k in ("token", "topic", "condition") if message.get(k)]
    if targets != ["token"] or not isinstance(message["token"], str):
        return message, "Exactly one of token, topic or condition must be specified."
    data = message.get("data", {})
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return message, "Invalid value at 'message.data': values must be strings."
    notification = message.get("notification", {})
    size = len(
        json.dumps(
            {"notification": notification, "data": data}, separators=(",", ":"), ensure_ascii=False
        ).encode()
    )
    if size > FCM_MAX_PAYLOAD_BYTES:
        return message, f"Message is too big: {size} bytes, the limit is 4096."
    return message, None


def _google_error(
    status: int,
    code: str,
    message: str,
    details: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> DevResponse:
    body = {"error": {"code": status, "message": message, "status": code, "details": details or []}}
    return DevResponse(status, body, headers or {})


def _fcm_error(
    status: int, code: str, error_code: str, message: str, headers: dict[str, str] | None = None
) -> DevResponse:
    details = [{"@type": _FCM_ERROR_TYPE, "errorCode": error_code}]
    return _google_error(status, code, message, details, headers)


def _oauth_error(error: str, description: str) -> DevResponse:
    return DevResponse(400, {"error": error, "error_description": description})
