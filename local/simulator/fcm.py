"""FCM HTTP v1 (`POST /v1/projects/{project}/messages:send`) and the Google OAuth 2.0 token
endpoint a service account's `token_uri` names, as far as `firebase-admin` uses them.

The simulator plays several Firebase projects, each with a throwaway service account (a
fresh RSA key): `service_account(base_url, project_id)` is the JSON to put in a secret
(`herald-local` is the deployment's own). `POST /token` finds the account by the JWT-bearer
assertion's issuer, checks its RS256 signature and audience and answers an access token for
that account's project; `messages:send` requires one of those tokens, for the project in its
path (another project's is 403 PERMISSION_DENIED), validates the message (one target, string
data, the 4096-byte payload limit) and records it in the outbox (`from`: the project),
`android` and `apns` blocks included.

A registration token belongs to one project, as an app instance registers with one sender:
`registration_token(project_id)` mints one for a project (what the Firebase SDK in an app
built for that project gets); any other token belongs to `herald-local`. Sending a token
through another project is 403 SENDER_ID_MISMATCH, as FCM answers it.

Failure injection, by the device token's prefix, with FCM's error body
(`details[].errorCode`): `unregistered-` 404 UNREGISTERED, `invalid-` 400 INVALID_ARGUMENT,
`quota-` 429 QUOTA_EXCEEDED (with `Retry-After`), `unavailable-` 503 UNAVAILABLE,
`mismatch-` 403 SENDER_ID_MISMATCH, `apns-auth-` 401 THIRD_PARTY_AUTH_ERROR.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from local.http import DevRequest, DevResponse
from local.simulator.jwt import InvalidToken, unverified_claims, verify
from local.simulator.outbox import Outbox

PROJECT_ID = "herald-local"
# Google's rule for project ids: 6 to 30 lowercase letters, digits and hyphens.
_PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
# What marks a registration token minted for a project: `<instance>:sim.<project>.<random>`.
_MINTED = re.compile(r"[^:]*:sim\.([a-z][a-z0-9-]{4,28}[a-z0-9])\..+")
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


@dataclass(frozen=True)
class _ServiceAccount:
    project_id: str
    client_email: str
    key_id: str
    key: rsa.RSAPrivateKey


class FcmSimulator:
    """The FCM side of the provider simulator."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        # By client_email; one account per project, made when first asked for.
        self._accounts: dict[str, _ServiceAccount] = {}
        # Access token -> the project its service account belongs to.
        self._access_tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        self._account(PROJECT_ID)

    def service_account(self, base_url: str, project_id: str = PROJECT_ID) -> dict[str, str]:
        """A service-account JSON of `project_id` (the same each time), whose key this
        simulator knows and whose `token_uri` is it. ValueError for a malformed project id."""
        account = self._account(project_id)
        pem = account.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": account.key_id,
            "private_key": pem,
            "client_email": account.client_email,
            "client_id": "100000000000000000000",
            "auth_uri": f"{base_url}/o/oauth2/auth",
            "token_uri": f"{base_url}{TOKEN_PATH}",
        }

    def registration_token(self, project_id: str = PROJECT_ID) -> str:
        """A registration token of an app instance registered with `project_id`."""
        _check_project_id(project_id)
        return f"{secrets.token_urlsafe(16)}:sim.{project_id}.{secrets.token_urlsafe(48)}"

    def token(self, request: DevRequest) -> DevResponse:
        """`POST /token`: a JWT-bearer grant signed with a service account's key."""
        form = parse_qs(request.body.decode("utf-8", "replace"))
        if form.get("grant_type") != [_JWT_BEARER] or len(form.get("assertion", [])) != 1:
            return _oauth_error("unsupported_grant_type", "Invalid grant_type.")
        assertion = form["assertion"][0]
        try:
            issuer = unverified_claims(assertion).get("iss")
        except InvalidToken as exc:
            return _oauth_error("invalid_grant", f"Invalid JWT: {exc}")
        with self._lock:
            account = self._accounts.get(str(issuer))
        if account is None:
            return _oauth_error("invalid_grant", "Invalid JWT: no such service account.")
        try:
            claims = verify(assertion, account.key.public_key())
        except InvalidToken as exc:
            return _oauth_error("invalid_grant", f"Invalid JWT Signature: {exc}")
        if claims.get("aud") != GOOGLE_TOKEN_AUDIENCE:
            return _oauth_error("invalid_grant", "Invalid JWT: aud does not match.")
        access_token = "ya29.sim-" + secrets.token_urlsafe(32)
        with self._lock:
            self._access_tokens[access_token] = account.project_id
        return DevResponse(
            200, {"access_token": access_token, "expires_in": 3599, "token_type": "Bearer"}
        )

    def send(self, request: DevRequest) -> DevResponse:  # noqa: PLR0911 - one per refusal
        """`POST /v1/projects/{project}/messages:send`."""
        project = request.path.removeprefix(SEND_PATH_PREFIX).removesuffix(SEND_PATH_SUFFIX)
        authorization = request.headers.get("authorization", "")
        with self._lock:
            granted = self._access_tokens.get(authorization.removeprefix("Bearer "))
        if not authorization.startswith("Bearer ") or granted is None:
            return _google_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            )
        if project != granted:
            return _google_error(
                403,
                "PERMISSION_DENIED",
                f"Permission 'cloudmessaging.messages.create' denied on resource "
                f"'//cloudresourcemanager.googleapis.com/projects/{project}'.",
            )
        if (checked := _validate_only(request.body, project)) is not None:
            return checked
        message, problem = _parse(request.body)
        if problem is not None:
            return _fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", problem)
        token = message["token"]
        if token_project(token) != project:
            return _fcm_error(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch")
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
                "from": project,
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

    def _account(self, project_id: str) -> _ServiceAccount:
        _check_project_id(project_id)
        client_email = f"herald-push@{project_id}.iam.gserviceaccount.com"
        with self._lock:
            account = self._accounts.get(client_email)
            if account is None:
                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                account = _ServiceAccount(project_id, client_email, secrets.token_hex(20), key)
                self._accounts[client_email] = account
        return account


def token_project(token: str) -> str:
    """The project a registration token was minted for (`herald-local` for any other)."""
    minted = _MINTED.fullmatch(token)
    return minted.group(1) if minted else PROJECT_ID


def _check_project_id(project_id: str) -> None:
    if not _PROJECT_ID.fullmatch(project_id):
        raise ValueError(
            "a project id is 6 to 30 lowercase letters, digits and hyphens, starting with a letter"
        )


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
