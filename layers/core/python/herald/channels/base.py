"""What every channel adapter speaks: a message in, a provider message id out, or an error."""

from __future__ import annotations

from dataclasses import dataclass, field


class SendError(Exception):
    """A provider refused or failed a send."""


class RetryableSendError(SendError):
    """Worth another attempt later: timeouts, throttling, provider 5xx."""


class PermanentSendError(SendError):
    """Will never succeed as is: invalid address, rejected content.

    `reason` is the delivery's recorded reason (`rejected` when not given); `suppression`,
    when given, is the suppression reason the delivery's address gets from now on (the
    provider says the address must never be sent to again, e.g. it replied STOP).
    """

    def __init__(
        self, message: str, *, reason: str = "rejected", suppression: str | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.suppression = suppression


@dataclass(frozen=True)
class EmailMessage:
    to: str
    from_email: str
    from_name: str
    subject: str
    text: str | None
    html: str | None
    headers: dict[str, str] = field(default_factory=dict)
    # Echoed back by the provider in its events: how callbacks find the delivery.
    custom_args: dict[str, str] = field(default_factory=dict)
    category: str | None = None


@dataclass(frozen=True)
class TextMessage:
    """An SMS or WhatsApp message: free-form `text`, or a content template (WhatsApp)."""

    to: str
    """+E164 for SMS, whatsapp:+E164 for WhatsApp."""
    sender: str | None
    """The From number; None to let the messaging service pick one."""
    messaging_service_sid: str | None
    status_callback: str
    text: str | None = None
    content_sid: str | None = None
    content_variables: dict[str, str] = field(default_factory=dict)
