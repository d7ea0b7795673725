"""The deployment's VAPID key pair (RFC 8292), from the secret CDK generates.

Secrets Manager generates random strings, not EC keys, so the secret holds 64 random
characters and the P-256 private key is derived from them (SHA-256, reduced into the curve's
scalar range): the API and the web push worker derive the same pair, nothing is stored twice,
and rotating the secret rotates the keys (browsers then need to subscribe again). A secret
holding a PEM private key instead (a key pair made elsewhere) is used as it is.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Imported where a key is first made, not with the API (~10 ms of its cold start).
    from cryptography.hazmat.primitives.asymmetric import ec

# The order of the P-256 group: private scalars live in [1, n - 1].
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_DERIVATION_LABEL = b"herald vapid p-256\x00"


@cache
def private_key(secret: str) -> ec.EllipticCurvePrivateKey:
    """The VAPID private key held (PEM) or derived from (random string) the secret."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    if secret.lstrip().startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(secret.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("the VAPID secret's PEM key is not a P-256 key")
        return key
    if len(secret) < 32:
        raise ValueError("the VAPID secret must hold at least 32 random characters")
    digest = hashlib.sha256(_DERIVATION_LABEL + secret.encode()).digest()
    scalar = int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def public_key(secret: str) -> str:
    """The public key as browsers take it (`applicationServerKey`): base64url, no padding,
    of the uncompressed point."""
    from cryptography.hazmat.primitives import serialization

    point = (
        private_key(secret)
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return base64.urlsafe_b64encode(point).rstrip(b"=").decode("ascii")
