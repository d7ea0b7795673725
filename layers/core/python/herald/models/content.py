"""What each channel sends: the content of a notification, or of a template per locale.

The same shapes serve inline content (sent as given) and templates (every string is a
Jinja2 template rendered per recipient).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from herald.models.common import CHANNELS, Channel

# RFC 5322 caps a header line at 998 characters; a longer subject cannot be sent.
MAX_SUBJECT_LENGTH = 998
MAX_BODY_LENGTH = 500_000
MAX_SHORT_TEXT = 4_000


class EmailContent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=MAX_SUBJECT_LENGTH)
    text: str | None = Field(default=None, max_length=MAX_BODY_LENGTH)
    html: str | None = Field(
        default=None,
        max_length=MAX_BODY_LENGTH,
        description="When text is absent, the text part is derived from the html.",
    )

    @model_validator(mode="after")
    def _has_body(self) -> EmailContent:
        if not self.text and not self.html:
            raise ValueError("email content needs text or html")
        return self


class TextContent(BaseModel):
    """SMS and WhatsApp."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_SHORT_TEXT)


class WhatsAppContent(BaseModel):
    """Free-form text, allowed within 24 hours of the user's last message; outside that
    window WhatsApp takes only a pre-approved Content template (`content_sid`). With both,
    the text goes inside the window and the template outside it."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, min_length=1, max_length=MAX_SHORT_TEXT)
    content_sid: str | None = Field(
        default=None,
        pattern=r"^HX[0-9a-fA-F]{32}$",
        description="A Twilio Content template (HX…)",
        examples=["HXb5b62575e6e4ff6129ad7c8efe1f983e"],
    )
    content_variables: dict[str, str] | None = Field(
        default=None, description='The template\'s variables, e.g. {"1": "12/1", "2": "3pm"}'
    )

    @model_validator(mode="after")
    def _has_body(self) -> WhatsAppContent:
        if not self.text and not self.content_sid:
            raise ValueError("whatsapp content needs text or content_sid")
        if self.content_variables and not self.content_sid:
            raise ValueError("content_variables need a content_sid")
        return self


# FCM keeps an undelivered message at most 28 days; so do browsers' push services.
MAX_PUSH_TTL_SECONDS = 28 * 24 * 3600
DEFAULT_WEB_PUSH_TTL_SECONDS = 24 * 3600


def _without_nul(value: Any) -> Any:
    """PostgreSQL cannot store NUL in text or jsonb: refuse it here, as a field error."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if isinstance(value, dict):
        for key, item in value.items():
            _without_nul(key)
            _without_nul(item)
    elif isinstance(value, list):
        for item in value:
            _without_nul(item)
    return value


class PushContent(BaseModel):
    """Mobile push through FCM (Android directly, iOS through FCM's APNs config)."""

    model_config = ConfigDict(extra="forbid")

    _no_nul = model_validator(mode="before")(_without_nul)

    title: str = Field(min_length=1, max_length=MAX_SHORT_TEXT)
    body: str = Field(min_length=1, max_length=MAX_SHORT_TEXT)
    data: dict[str, str] | None = Field(default=None, description="FCM data: string values")
    image: str | None = Field(default=None, max_length=2048, description="https image URL")
    badge: int | None = Field(default=None, ge=0, le=99_999, description="iOS badge count")
    sound: str | None = Field(default=None, max_length=256, description="e.g. default")
    ttl_seconds: int | None = Field(
        default=None, ge=0, le=MAX_PUSH_TTL_SECONDS, description="Default: FCM's 4 weeks"
    )
    collapse_key: str | None = Field(
        default=None, max_length=64, description="A newer message with it replaces an older one"
    )
    priority: Literal["high", "normal"] = "high"


class WebPushContent(BaseModel):
    """Browser push: the JSON payload `{title, body, url, icon, data}` a service worker shows."""

    model_config = ConfigDict(extra="forbid")

    _no_nul = model_validator(mode="before")(_without_nul)

    title: str = Field(min_length=1, max_length=MAX_SHORT_TEXT)
    body: str = Field(min_length=1, max_length=MAX_SHORT_TEXT)
    url: str | None = Field(default=None, max_length=2048)
    icon: str | None = Field(default=None, max_length=2048)
    data: dict[str, Any] | None = None
    ttl_seconds: int = Field(
        default=DEFAULT_WEB_PUSH_TTL_SECONDS,
        ge=0,
        le=MAX_PUSH_TTL_SECONDS,
        description="How long the push service keeps it for an offline browser (TTL)",
    )
    urgency: Literal["very-low", "low", "normal", "high"] = "normal"
    topic: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="A newer message with the same topic replaces an undelivered older one",
    )


class InAppContent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=MAX_SHORT_TEXT)
    body: str = Field(min_length=1, max_length=MAX_BODY_LENGTH)
    action_url: str | None = Field(default=None, max_length=2048)
    data: dict[str, Any] | None = None


class WebhookContent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: dict[str, Any] = Field(description="The JSON body; in a template every string is one")


class Content(BaseModel):
    """Content for one or more channels."""

    model_config = ConfigDict(extra="forbid")

    email: EmailContent | None = None
    sms: TextContent | None = None
    whatsapp: WhatsAppContent | None = None
    push: PushContent | None = None
    web_push: WebPushContent | None = None
    in_app: InAppContent | None = None
    webhook: WebhookContent | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Content:
        if not self.channels():
            raise ValueError("content needs at least one channel")
        return self

    def channels(self) -> list[Channel]:
        return [name for name in CHANNELS if getattr(self, name) is not None]

    def as_stored(self) -> dict[str, dict[str, Any]]:
        """{channel: content} as kept in the database, without absent fields."""
        return self.model_dump(mode="json", exclude_none=True)
