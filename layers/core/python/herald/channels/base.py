"""What every channel adapter speaks: a message in, a provider message id out, or an error."""

from __future__ import annotations

from dataclasses import dataclass, field


class SendError(Exception):
    """A provider refused or failed a send."""


class RetryableSendError(SendError):
    """Worth another attempt later: timeouts, throttling, provider 5xx."""


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


class RetryAfterError(RetryableSendError):
    """Retryable, and the provider said when (`Retry-After`): no retry comes sooner."""

    def __init__(self, message: str, retry_after_seconds: float | None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


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
