"""Signed, expiring links for end users: unsubscribe, the preference center, and the
in-app inbox in a browser (the token a page gives the `<herald-inbox>` widget).

A token is `<payload>.<signature>`, both unpadded URL-safe base64. The payload is a compact
JSON array `[tenant_id, user_id, address, purpose, category, expires_at]` (expiry in Unix
seconds), naming either a user or, for a message sent to a raw address, that address; the
signature is HMAC-SHA256 over the encoded payload. Tokens are not encrypted: they name a
recipient and a category, which is what the link is about anyway, and nothing more.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, cast, get_args
from urllib.parse import urlencode, urlsplit

from herald.errors import Unauthenticated

Purpose = Literal["unsubscribe", "preferences", "inbox"]
# Purposes that name a user, never a raw address.
_USER_PURPOSES = frozenset({"preferences", "inbox"})

# HMAC-SHA256 keys shorter than the hash add no work for an attacker; refuse them.
MIN_SECRET_BYTES = 32
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

INVALID = "This link is not valid. Use the latest link from one of our messages."
EXPIRED = "This link has expired. Use the link in a more recent message."


@dataclass(frozen=True)
class EndUserToken:
    """What a verified token says: whose link it is, what for, and until when.

    Exactly one of `user_id` and `address` is set: a user's link, or one sent to a raw address.
    """

    tenant_id: str
    user_id: str | None
    purpose: Purpose
    category: str | None
    expires_at: datetime
    address: str | None = None


def issue_token(
    secret: bytes,
    *,
    tenant_id: str,
    user_id: str | None = None,
    address: str | None = None,
    purpose: Purpose,
    category: str | None,
    expires_at: datetime,
) -> str:
    """A URL-safe token for one recipient's link, valid until `expires_at` (aware).

    The recipient is a user (`user_id`) or, for a message sent to a raw address, that
    `address`: exactly one of the two. Only a user has a preference center.
    """
    _check_secret(secret)
    if expires_at.utcoffset() is None:
        raise ValueError("expires_at must be timezone-aware")
    if (user_id is None) == (address is None):
        raise ValueError("a token names either a user_id or an address")
    if purpose in _USER_PURPOSES and user_id is None:
        raise ValueError(f"a {purpose} token needs a user_id")
    claims = [tenant_id, user_id, address, purpose, category, int(expires_at.timestamp())]
    payload = _encode(json.dumps(claims, separators=(",", ":")).encode())
    return f"{payload}.{_encode(_sign(secret, payload))}"


def verify_token(secret: bytes, token: str, *, purpose: Purpose, now: datetime) -> EndUserToken:
    """The token's claims, or Unauthenticated when forged, malformed, expired or for another use.

    The signature is checked, in constant time, before anything in the payload is read.
    """
    _check_secret(secret)
    payload, _, signature = token.partition(".")
    if not (_BASE64URL.match(payload) and _BASE64URL.match(signature)):
        raise Unauthenticated(INVALID)
    if not hmac.compare_digest(_decode(signature), _sign(secret, payload)):
        raise Unauthenticated(INVALID)
    claims = _parse_claims(_decode(payload))
    if claims.purpose != purpose:
        raise Unauthenticated(INVALID)
    if now >= claims.expires_at:
        raise Unauthenticated(EXPIRED)
    return claims


def unsubscribe_link(base_url: str, token: str) -> str:
    """The unsubscribe page for a token: GET confirms, POST (RFC 8058 one-click) applies."""
    return f"{base_url.rstrip('/')}/v1/unsubscribe?{urlencode({'token': token})}"


def preferences_link(base_url: str, token: str) -> str:
    """The preference center for a token of purpose `preferences`."""
    return f"{base_url.rstrip('/')}/v1/preferences/page?{urlencode({'token': token})}"


def unsubscribe_headers(base_url: str, token: str) -> dict[str, str]:
    """The RFC 8058 one-click unsubscribe headers for an email.

    RFC 8058 requires an HTTPS URI; plain HTTP is accepted only for a loopback base URL,
    which is the local runtime.
    """
    parts = urlsplit(base_url)
    if parts.scheme != "https" and not (
        parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
    ):
        raise ValueError(f"unsubscribe links need an https base URL, got '{base_url}'")
    return {
        "List-Unsubscribe": f"<{unsubscribe_link(base_url, token)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _parse_claims(raw: bytes) -> EndUserToken:
    # The signature matched, so a malformed payload means a bug or a leaked secret; either
    # way the link is refused rather than half-read.
    try:
        claims = json.loads(raw)
    except ValueError as exc:
        raise Unauthenticated(INVALID) from exc
    match claims:
        case [
            str(tenant_id),
            str() | None as user_id,
            str() | None as address,
            str(purpose),
            str() | None as category,
            int(exp),
        ] if purpose in get_args(Purpose) and (user_id is None) != (address is None):
            return EndUserToken(
                tenant_id=tenant_id,
                user_id=user_id,
                purpose=cast(Purpose, purpose),  # one of Purpose, checked above
                category=category,
                expires_at=datetime.fromtimestamp(exp, UTC),
                address=address,
            )
    raise Unauthenticated(INVALID)


def _check_secret(secret: bytes) -> None:
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the link signing secret needs at least {MIN_SECRET_BYTES} bytes")


def _sign(secret: bytes, payload: str) -> bytes:
    return hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest()


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise Unauthenticated(INVALID) from exc
