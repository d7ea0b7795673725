"""Idempotency-Key for POSTs that create: the same key and body replay the first response."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from herald.db import idempotency
from herald.db.connection import Connection
from herald.errors import Conflict

TTL_HOURS = 24


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]
    replayed: bool


def request_hash(request: BaseModel) -> str:
    """Hash of the request's meaning, so re-serialised JSON still counts as the same body."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def respond_once(
    conn: Connection,
    tenant_id: str,
    key: str | None,
    request: BaseModel,
    *,
    operation: str,
    status_code: int,
    create: Callable[[], dict[str, Any]],
) -> StoredResponse:
    """Run `create` (it returns the response body) unless this key already has a response.

    Call inside the transaction that does the work: the key is claimed first, so a
    concurrent request with the same key waits on it, then replays the stored response.
    Without a key, `create` simply runs. A key reused with another body (or for another
    operation) is a 409.
    """
    if key is None:
        return StoredResponse(status_code, create(), False)
    fingerprint = f"{operation}:{request_hash(request)}"
    if not idempotency.claim_key(
        conn, tenant_id=tenant_id, key=key, request_hash=fingerprint, ttl_hours=TTL_HOURS
    ):
        previous = idempotency.get_key(conn, tenant_id, key)
        assert previous is not None  # claim_key saw it under the same transaction
        if previous["request_hash"] != fingerprint:
            raise Conflict("Idempotency-Key was already used with a different request body")
        return StoredResponse(previous["response_status"], previous["response_body"], True)
    body = create()
    idempotency.store_response(conn, tenant_id, key, status_code, body)
    return StoredResponse(status_code, body, False)
