"""Verifying the JSON Web Tokens providers receive: RS256 (a Google service account's OAuth
assertion) and ES256 (a VAPID signature), with `cryptography` only."""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

# P-256 signatures in a JWS are r || s, 32 bytes each (RFC 7518 §3.4).
_ES256_HALF = 32


class InvalidToken(Exception):
    """The token is malformed, forged or expired; the message says which."""


def b64url_decode(value: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken("not base64url") from None


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a token before its signature is checked: to find the key that signed it
    (a service account's, by its `iss`). Never trust them before `verify`."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("not a JWS compact serialization")
    try:
        claims = json.loads(b64url_decode(parts[1]))
    except ValueError:
        raise InvalidToken("claims are not JSON") from None
    if not isinstance(claims, dict):
        raise InvalidToken("claims are not an object")
    return claims


def verify(token: str, key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> dict[str, Any]:
    """The claims of a token signed by `key` (RS256 for RSA, ES256 for P-256) and not expired."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("not a JWS compact serialization")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
    except ValueError:
        raise InvalidToken("header or claims are not JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise InvalidToken("header or claims are not objects")
    signing_input = f"{parts[0]}.{parts[1]}".encode()
    signature = b64url_decode(parts[2])
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if header.get("alg") != "RS256":
                raise InvalidToken(f"alg {header.get('alg')!r}, expected RS256")
            key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            if header.get("alg") != "ES256" or len(signature) != 2 * _ES256_HALF:
                raise InvalidToken("expected an ES256 signature")
            r = int.from_bytes(signature[:_ES256_HALF], "big")
            s = int.from_bytes(signature[_ES256_HALF:], "big")
            key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise InvalidToken("bad signature") from None
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp < time.time():
        raise InvalidToken("expired, or no exp claim")
    return claims
