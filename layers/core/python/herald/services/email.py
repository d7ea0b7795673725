"""Composing an email for one delivery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from herald.channels.base import EmailMessage
from herald.services import links
from herald.templating import html_to_text

# Mail clients keep offering the unsubscribe button of old messages: links stay valid long.
UNSUBSCRIBE_LINK_VALIDITY = timedelta(days=180)


@dataclass(frozen=True)
class EmailIdentity:
    from_email: str
    from_name: str


def complete_email(content: dict[str, Any]) -> dict[str, Any]:
    """Every email has a text part: when it is absent or blank, it is derived from the html."""
    html = content.get("html")
    if html is None or (content.get("text") or "").strip():
        return content
    return {**content, "text": html_to_text(html)}


@dataclass(frozen=True)
class UnsubscribeLinks:
    """What the List-Unsubscribe headers are made of: the signing key and the API's URL."""

    secret: bytes
    base_url: str

    def headers_for(self, delivery: dict[str, Any], now: datetime) -> dict[str, str]:
        """RFC 8058 one-click unsubscribe headers; none for a critical notification.

        The token names the user (or, for an address given directly, the address) and the
        notification's category, so one click opts out of that category only.
        """
        if delivery.get("critical"):
            return {}
        user_id = delivery["recipient"].get("user_id")
        token = links.issue_token(
            self.secret,
            tenant_id=delivery["tenant_id"],
            user_id=user_id,
            address=None if user_id else delivery["address"],
            purpose="unsubscribe",
            category=delivery.get("category"),
            expires_at=now + UNSUBSCRIBE_LINK_VALIDITY,
        )
        return links.unsubscribe_headers(self.base_url, token)


def compose_email(
    delivery: dict[str, Any],
    content: dict[str, Any],
    identity: EmailIdentity,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """The email of a claimed delivery row, given its (rendered) email content."""
    content = complete_email(content)
    return EmailMessage(
        to=delivery["address"],
        from_email=identity.from_email,
        from_name=identity.from_name,
        subject=content["subject"],
        text=content["text"],
        html=content.get("html"),
        headers=headers or {},
        custom_args={"delivery_id": delivery["id"], "tenant_id": delivery["tenant_id"]},
        category=delivery.get("category"),
    )
