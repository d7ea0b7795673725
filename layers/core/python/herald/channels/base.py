"""What every channel adapter speaks: a message in, a provider message id out, or an error."""

from __future__ import annotations

from dataclasses import dataclass, field


class SendError(Exception):
    """A provider refused or failed a send."""


class RetryableSendError(SendError):
    """Worth another attempt later: timeouts, throttling, provider 5xx."""

    def __init__(self, message: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        # The far end's own `Retry-After`: the next attempt waits at least this long.
        self.retry_after_seconds = retry_after_seconds


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


@dataclass(frozen=True)
class TargetOutcome:
    """What the provider did with one target (a device) of a message sent to several.

    `accepted`; `failed` (this target refused this message); `gone` (the target is
    unreachable for good: an unregistered token, an expired subscription); `retry`
    (throttled or unavailable, worth another attempt after `retry_after_seconds`).
    """

    target_id: str
    status: str  # accepted | failed | gone | retry
    detail: str  # the provider message id when accepted, else the error
    retry_after_seconds: float | None = None


@dataclass(frozen=True)
class FanOutResult:
    """The result of one delivery sent to each of its recipient's devices."""

    outcomes: tuple[TargetOutcome, ...]


@dataclass(frozen=True)
class PushTarget:
    device_id: str
    platform: str  # ios | android
    token: str


@dataclass(frozen=True)
class PushMessage:
    """One push notification to every device of a recipient, in FCM's terms."""

    targets: tuple[PushTarget, ...]
    title: str
    body: str
    data: dict[str, str]
    image: str | None = None
    badge: int | None = None
    sound: str | None = None
    ttl_seconds: int | None = None
    collapse_key: str | None = None
    priority: str = "high"  # high | normal


@dataclass(frozen=True)
class WebPushTarget:
    device_id: str
    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True)
class WebPushMessage:
    """One web push payload to every subscription of a recipient."""

    targets: tuple[WebPushTarget, ...]
    payload: bytes  # JSON {title, body, url, icon, data}, encrypted per subscription
    ttl_seconds: int
    urgency: str
    topic: str | None = None
