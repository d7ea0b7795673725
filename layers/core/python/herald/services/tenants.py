"""Tenants and their API keys."""

from __future__ import annotations

from collections.abc import Sequence

from herald.db import api_keys, tenants
from herald.db.connection import Connection, Database
from herald.errors import NotFound
from herald.ids import new_id
from herald.models.api_keys import ApiKeyCreated
from herald.models.common import SCOPES, Scope
from herald.services.auth import KEY_PREFIX, generate_key, hash_key


def _insert_key(
    conn: Connection, tenant_id: str, name: str, scopes: Sequence[Scope], raw_key: str
) -> ApiKeyCreated:
    row = api_keys.insert_api_key(
        conn,
        key_id=new_id("key"),
        tenant_id=tenant_id,
        name=name,
        key_hash=hash_key(raw_key),
        key_prefix=raw_key[: len(KEY_PREFIX) + 4],
        scopes=scopes,
    )
    return ApiKeyCreated(
        id=row["id"],
        name=row["name"],
        scopes=row["scopes"],
        created_at=row["created_at"],
        key=raw_key,
    )


def create_api_key(
    db: Database, tenant_id: str, name: str, scopes: Sequence[Scope]
) -> ApiKeyCreated:
    """Create a key for a tenant; the plaintext is returned here and never again."""
    return _insert_key(db.connection(), tenant_id, name, scopes, generate_key())


def revoke_api_key(db: Database, tenant_id: str, key_id: str) -> None:
    if not api_keys.revoke_api_key(db.connection(), tenant_id, key_id):
        raise NotFound(f"API key {key_id} not found")


def create_tenant(db: Database, name: str) -> tuple[str, ApiKeyCreated]:
    """Create a tenant together with its first admin key."""
    tenant_id = new_id("ten")
    with db.transaction() as conn:
        tenants.insert_tenant(conn, tenant_id, name)
        key = _insert_key(conn, tenant_id, "admin", SCOPES, generate_key())
    return tenant_id, key


def ensure_tenant_with_key(db: Database, tenant_id: str, name: str, raw_key: str) -> None:
    """Make sure `tenant_id` exists and `raw_key` is one of its admin keys (idempotent)."""
    with db.transaction() as conn:
        tenants.ensure_tenant(conn, tenant_id, name)
        if api_keys.find_active_key(conn, hash_key(raw_key)) is None:
            _insert_key(conn, tenant_id, "dev", SCOPES, raw_key)
