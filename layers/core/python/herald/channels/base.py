"""What every channel adapter speaks: a message in, a provider message id out, or an error."""

from __future__ import annotations

from dataclasses import dataclass, field


class SendError(Exception):
    """A provider refused or failed a send."""


class RetryableSendError(SendError):
    """Worth another attempt later: timeouts, throttling, provider 5xx."""

    def __init__(self, message: str, retry_after_seconds: int | None = None) -> None:
        super().__init__(message)
        # The far end's own `Retry-After`: the next attempt waits at least this long.
        self.retry_after_seconds = retry_after_seconds


class PermanentSendError(SendError):
    """Will never succeed as is: invalid address, rejected content."""


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
