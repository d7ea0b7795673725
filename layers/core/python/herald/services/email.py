"""Composing an email for one delivery."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from herald.channels.base import EmailMessage


@dataclass(frozen=True)
class EmailIdentity:
    from_email: str
    from_name: str


def compose_email(delivery: dict[str, Any], identity: EmailIdentity) -> EmailMessage:
    """Build the email of a claimed delivery row (joined with its notification's content)."""
    content = delivery["content"]["email"]
    return EmailMessage(
        to=delivery["address"],
        from_email=identity.from_email,
        from_name=identity.from_name,
        subject=content["subject"],
        text=content.get("text"),
        html=content.get("html"),
        custom_args={"delivery_id": delivery["id"], "tenant_id": delivery["tenant_id"]},
        category=delivery.get("category"),
    )
