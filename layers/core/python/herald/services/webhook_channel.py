"""The `webhook` channel's composer: a delivery's rendered body, for its recipient's URL."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from herald.channels.webhook_http import WebhookMessage


def compose_webhook(
    delivery: Mapping[str, Any], content: Mapping[str, Any], secret: str
) -> WebhookMessage:
    """The message of one claimed delivery: `content.webhook.body` (rendered per recipient
    when it comes from a template) to the recipient's `webhook_url`, signed with the
    tenant's channel secret, with the delivery id as its `webhook-id`."""
    return WebhookMessage(
        url=str(delivery["address"]),
        message_id=str(delivery["id"]),
        body=json.dumps(content["body"], separators=(",", ":"), ensure_ascii=False),
        secret=secret,
    )
