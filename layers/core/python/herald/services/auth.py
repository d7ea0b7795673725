"""API key authentication and scope checks."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from herald.db import api_keys
from herald.db.connection import Database
from herald.errors import Forbidden, Unauthenticated

KEY_PREFIX = "hk_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: one tenant, with the scopes of the key used."""

    tenant_id: str
    key_id: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        """Raise Forbidden unless the key has `scope` (an `admin` key has every scope)."""
        if scope not in self.scopes and "admin" not in self.scopes:
            raise Forbidden(f"this API key lacks the '{scope}' scope")


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(raw_key: str) -> bytes:
    return hashlib.sha256(raw_key.encode()).digest()


def authenticate(db: Database, authorization: str | None) -> Principal:
    """Resolve `Authorization: Bearer <key>` to a Principal, or raise Unauthenticated."""
    if not authorization:
        raise Unauthenticated("missing Authorization header (expected 'Bearer <api key>')")
    scheme, _, raw_key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not raw_key.strip():
        raise Unauthenticated("malformed Authorization header (expected 'Bearer <api key>')")
    row = api_keys.find_active_key(db.connection(), hash_key(raw_key.strip()))
    if row is None:
        raise Unauthenticated("invalid or revoked API key")
    return Principal(tenant_id=row["tenant_id"], key_id=row["id"], scopes=frozenset(row["scopes"]))
