"""What each channel sends: the content of a notification, or of a template per locale.

The same shapes serve inline content (sent as given) and templates (every string is a
Jinja2 template rendered per recipient).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

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


# Links an inbox item may carry: a browser follows them, so never `javascript:` or `data:`.
_LINK = re.compile(r"^(https?://|/(?!/))", re.IGNORECASE)
MAX_INBOX_ACTIONS = 3


def check_link(value: str) -> str:
    """An http(s) URL or a path on the embedding site; ValueError for anything else.

    Template strings (`{{ url }}`) are checked once rendered, by the in-app composer.
    """
    if not _LINK.match(value) and "{{" not in value:
        raise ValueError("must be an http(s) URL or a path starting with /")
    return value


Link = Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(check_link)]


class InAppAction(BaseModel):
    """A button on an inbox item."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=100)
    url: Link


class InAppContent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=MAX_SHORT_TEXT)
    body: str = Field(min_length=1, max_length=MAX_BODY_LENGTH)
    action_url: Link | None = Field(default=None, description="Opened when the item is clicked")
    actions: list[InAppAction] | None = Field(default=None, max_length=MAX_INBOX_ACTIONS)
    data: dict[str, Any] | None = None
    expires_at: AwareDatetime | None = Field(
        default=None, description="After this instant the item leaves the inbox"
    )

    @model_validator(mode="after")
    def _storable(self) -> InAppContent:
        # PostgreSQL text and jsonb cannot hold U+0000: refuse it here, naming the field.
        for name, value in self:
            if _holds_nul(value):
                raise ValueError(f"in_app.{name} must not contain NUL characters")
        return self


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    if isinstance(value, BaseModel):
        return any(_holds_nul(v) for _, v in value)
    return False


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
