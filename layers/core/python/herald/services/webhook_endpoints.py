"""Webhook endpoints as the admin API manages them: create, change, rotate, test, replay."""

from __future__ import annotations

import base64
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from herald.aws.sqs import MessageQueue
from herald.channels.url_guard import UnsafeUrl, UrlPolicy, check_url
from herald.db import webhooks
from herald.db.connection import Database, Row
from herald.errors import Conflict, InvalidRequest, NotFound
from herald.ids import new_id
from herald.models.common import Page
from herald.models.webhooks import (
    TEST_EVENT,
    ReplayAccepted,
    ReplayRequest,
    TestMessageSent,
    WebhookAttemptOut,
    WebhookEndpointIn,
    WebhookEndpointOut,
    WebhookEndpointPatch,
    WebhookEndpointWithSecret,
)
from herald.services import idempotency
from herald.services.cursors import decode_cursor, page_rows
from herald.services.webhook_sending import enqueue_send, payload_body, rfc3339

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret
# After a rotation the old secret signs beside the new one this long.
ROTATION_OVERLAP = timedelta(hours=24)
# One replay resends at most this many messages; a wider range is refused (422).
MAX_REPLAY = 10_000
# Herald's identifiers (`whe_01JD…`): what cursors of these lists carry.
ID_PATTERN = re.compile(r"[a-z]{2,4}_[0-9A-Z]{26}")


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64, as Svix makes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def checked_url(url: str, policy: UrlPolicy) -> str:
    """The URL if the SSRF guard's static checks pass (400 naming `url` otherwise). Its host
    is resolved and checked again at every attempt."""
    try:
        check_url(url, policy)
    except UnsafeUrl as exc:
        raise InvalidRequest(
            f"url refused: {exc}", [{"field": "url", "message": str(exc)}]
        ) from exc
    return url


def create_endpoint(
    db: Database,
    tenant_id: str,
    body: WebhookEndpointIn,
    policy: UrlPolicy,
    *,
    idempotency_key: str | None,
) -> idempotency.StoredResponse:
    """Subscribe a URL to event types (201); the response alone shows the secret."""
    url = checked_url(body.url, policy)

    with db.transaction() as conn:

        def store() -> dict[str, Any]:
            row = webhooks.insert_endpoint(
                conn,
                endpoint_id=new_id("whe"),
                tenant_id=tenant_id,
                url=url,
                events=list(dict.fromkeys(body.events)),
                description=body.description,
                secret=new_secret(),
            )
            return WebhookEndpointWithSecret.model_validate(row).model_dump(mode="json")

        return idempotency.respond_once(
            conn,
            tenant_id,
            idempotency_key,
            body,
            operation="create_webhook_endpoint",
            status_code=201,
            create=store,
        )


def list_endpoints(
    db: Database, tenant_id: str, *, cursor: str | None, limit: int
) -> Page[WebhookEndpointOut]:
    after = _cursor_id(cursor)
    rows = webhooks.list_endpoints(db.connection(), tenant_id, after_id=after, limit=limit + 1)
    rows, next_cursor = page_rows(rows, limit, "id")
    return Page[WebhookEndpointOut](
        items=[WebhookEndpointOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )


def get_endpoint(db: Database, tenant_id: str, endpoint_id: str) -> WebhookEndpointOut:
    return WebhookEndpointOut.model_validate(_endpoint(db, tenant_id, endpoint_id))


def update_endpoint(
    db: Database, tenant_id: str, endpoint_id: str, body: WebhookEndpointPatch, policy: UrlPolicy
) -> WebhookEndpointOut:
    """Change url, events, description or enabled; enabling again clears the failures."""
    changes = body.model_dump(exclude_unset=True)
    if changes.get("url") is not None:
        checked_url(changes["url"], policy)
    changes = {k: v for k, v in changes.items() if v is not None}
    if "events" in changes:
        changes["events"] = list(dict.fromkeys(changes["events"]))
    row = webhooks.update_endpoint(db.connection(), tenant_id, endpoint_id, changes)
    if row is None:
        raise _not_found(endpoint_id)
    return WebhookEndpointOut.model_validate(row)


def delete_endpoint(db: Database, tenant_id: str, endpoint_id: str) -> None:
    """Delete an endpoint with its messages and attempt log."""
    if not webhooks.delete_endpoint(db.connection(), tenant_id, endpoint_id):
        raise _not_found(endpoint_id)


def rotate_secret(db: Database, tenant_id: str, endpoint_id: str) -> WebhookEndpointWithSecret:
    """A new secret, shown once; the old one keeps signing beside it for 24 hours."""
    keep_until = datetime.now(UTC) + ROTATION_OVERLAP
    row = webhooks.rotate_secret(db.connection(), tenant_id, endpoint_id, new_secret(), keep_until)
    if row is None:
        raise _not_found(endpoint_id)
    return WebhookEndpointWithSecret.model_validate(row)


def send_test(
    db: Database, tenant_id: str, endpoint_id: str, queue: MessageQueue
) -> TestMessageSent:
    """Queue a `webhook.test` message to the endpoint (sent however it is subscribed)."""
    endpoint = _enabled(db, tenant_id, endpoint_id)
    message_id = new_id("msg")
    now = datetime.now(UTC)
    payload = {
        "type": TEST_EVENT,
        "timestamp": rfc3339(now),
        "data": {"endpoint_id": endpoint["id"], "at": rfc3339(now)},
    }
    webhooks.insert_messages(
        db.connection(),
        [
            webhooks.NewMessage(
                id=message_id,
                tenant_id=tenant_id,
                endpoint_id=endpoint_id,
                source_id=f"test:{message_id}",
                event_type=TEST_EVENT,
                body=payload_body(payload),
                next_attempt_at=now,
            )
        ],
    )
    enqueue_send(queue, tenant_id, [message_id], now)
    return TestMessageSent(message_id=message_id)


def replay(
    db: Database, tenant_id: str, endpoint_id: str, body: ReplayRequest, queue: MessageQueue
) -> ReplayAccepted:
    """Send again, with their own `webhook-id`s, the endpoint's messages made in the range."""
    _enabled(db, tenant_id, endpoint_id)
    now = datetime.now(UTC)
    until = body.until or now
    with db.transaction() as conn:
        ids = webhooks.replay_messages(
            conn, tenant_id, endpoint_id, since=body.since, until=until, due_at=now
        )
        if len(ids) > MAX_REPLAY:
            # Rolls the transaction back: nothing is replayed.
            raise _too_many(len(ids))
    if ids:
        enqueue_send(queue, tenant_id, ids, now)
    return ReplayAccepted(replayed=len(ids))


def list_attempts(
    db: Database, tenant_id: str, endpoint_id: str, *, cursor: str | None, limit: int
) -> Page[WebhookAttemptOut]:
    """The endpoint's attempt log, newest first."""
    _endpoint(db, tenant_id, endpoint_id)
    before = _cursor_id(cursor)
    rows = webhooks.list_attempts(
        db.connection(), tenant_id, endpoint_id, before_id=before, limit=limit + 1
    )
    rows, next_cursor = page_rows(rows, limit, "id")
    return Page[WebhookAttemptOut](
        items=[WebhookAttemptOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )


def channel_secret(db: Database, tenant_id: str) -> str:
    """The secret that signs the tenant's `webhook` channel messages (made on first use)."""
    return webhooks.channel_secret(db.connection(), tenant_id, new_secret())


def _cursor_id(cursor: str | None) -> str | None:
    """The id a cursor carries; a cursor that decodes to anything else is a 400."""
    if cursor is None:
        return None
    value = decode_cursor(cursor)
    if not ID_PATTERN.fullmatch(value):
        raise InvalidRequest("invalid cursor", [{"field": "cursor", "message": "invalid"}])
    return value


def _endpoint(db: Database, tenant_id: str, endpoint_id: str) -> Row:
    row = webhooks.get_endpoint(db.connection(), tenant_id, endpoint_id)
    if row is None:
        raise _not_found(endpoint_id)
    return row


def _enabled(db: Database, tenant_id: str, endpoint_id: str) -> Row:
    row = _endpoint(db, tenant_id, endpoint_id)
    if row["status"] != "enabled":
        raise Conflict(f"webhook endpoint {endpoint_id} is disabled; enable it first")
    return row


def _not_found(endpoint_id: str) -> NotFound:
    return NotFound(f"webhook endpoint {endpoint_id} not found")


def _too_many(count: int) -> Conflict:
    return Conflict(f"the range holds {count} messages; replay at most {MAX_REPLAY} at once")
