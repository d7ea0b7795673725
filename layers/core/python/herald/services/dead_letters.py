"""Dead letters: what the queues gave up on, and sending it through again.

Redriving is safe whatever the message: a worker claims a delivery before sending it, so a
message whose deliveries were sent since sends nothing; dispatch is idempotent.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from herald.aws.dead_letters import DeadLetter, DeadLetterQueues
from herald.errors import Unprocessable
from herald.models.dead_letters import (
    DeadLetterQueueOut,
    DeadLetterSample,
    DeadLettersOut,
    RedriveIn,
    RedriveOut,
)


def list_dead_letters(
    queues: DeadLetterQueues, tenant_id: str, *, now: datetime | None = None
) -> DeadLettersOut:
    """Each queue's dead letters: depth, the oldest sampled message's age, and the samples
    that belong to `tenant_id` (the queues are shared; other tenants' messages are not shown)."""
    now = now or datetime.now(UTC)
    items = []
    for name in sorted(queues.queues):
        peeked = queues.peek(name)
        oldest = min((m.sent_at for m in peeked), default=None)
        items.append(
            DeadLetterQueueOut(
                queue=name,
                depth=queues.depth(name),
                oldest_age_seconds=int((now - oldest).total_seconds()) if oldest else None,
                samples=[s for m in peeked if (s := _sample(m, tenant_id)) is not None],
            )
        )
    return DeadLettersOut(items=items)


def redrive(queues: DeadLetterQueues, request: RedriveIn) -> RedriveOut:
    """Move a queue's dead letters back to it."""
    if request.queue not in queues.queues:
        raise Unprocessable(
            f"no queue named '{request.queue}'",
            [{"field": "queue", "message": f"one of {', '.join(sorted(queues.queues))}"}],
        )
    depth = queues.depth(request.queue)
    queues.redrive(request.queue)
    return RedriveOut(queue=request.queue, status="started", depth=depth)


def _sample(message: DeadLetter, tenant_id: str) -> DeadLetterSample | None:
    """What a message carries, if it is `tenant_id`'s (a channel or a dispatch message, or
    an SES event in its SNS envelope, tagged with its delivery)."""
    try:
        body = _carried(json.loads(message.body))
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("tenant_id") != tenant_id:
        return None
    return DeadLetterSample(
        message_id=message.message_id,
        delivery_ids=[str(i) for i in body.get("delivery_ids") or []],
        notification_id=body.get("notification_id"),
        sent_at=message.sent_at,
    )


def _carried(body: Any) -> Any:
    """An SES event's tags, as a channel message names its tenant and deliveries; any other
    body as it is."""
    if not isinstance(body, dict) or body.get("Type") != "Notification":
        return body
    event = json.loads(str(body.get("Message", "")))
    mail = event.get("mail") if isinstance(event, dict) else None
    tags = mail.get("tags") if isinstance(mail, dict) else None
    if not isinstance(tags, dict):
        return None
    tenant, delivery = (
        next(iter(v), None) if isinstance(v := tags.get(name), list) else None
        for name in ("tenant_id", "delivery_id")
    )
    return {"tenant_id": tenant, "delivery_ids": [delivery] if delivery else []}
