"""API input and output for templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from herald.locales import normalize_locale
from herald.models.common import Channel
from herald.models.content import Content
from herald.models.validators import Locale

TEMPLATE_KEY_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,127}$"
MAX_TRANSLATIONS = 100
TemplateStatus = Literal["active", "archived"]


class TemplateVersionIn(BaseModel):
    """The body of PUT: everything a new version holds."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    locale: Locale = Field(default="en", description="The default locale (BCP 47)")
    channels: Content = Field(description="Content in the default locale")
    translations: dict[str, Content] = Field(
        default_factory=dict,
        max_length=MAX_TRANSLATIONS,
        description="Content per other locale; a channel missing here falls back "
        "(fr-CA → fr → the default locale)",
    )

    @field_validator("translations")
    @classmethod
    def _translation_locales(cls, value: dict[str, Content]) -> dict[str, Content]:
        normalized = {normalize_locale(tag): content for tag, content in value.items()}
        if len(normalized) != len(value):
            raise ValueError("a locale is given twice (in different spellings)")
        return normalized

    @model_validator(mode="after")
    def _default_not_translated(self) -> TemplateVersionIn:
        if self.locale in self.translations:
            raise ValueError(f"'{self.locale}' is the default locale: put its content in channels")
        return self

    def contents(self) -> dict[str, dict[str, dict[str, Any]]]:
        """{locale: {channel: content}} as stored, the default locale first."""
        stored = {self.locale: self.channels.as_stored()}
        stored.update({tag: content.as_stored() for tag, content in self.translations.items()})
        return stored


class CreateTemplateRequest(TemplateVersionIn):
    key: str = Field(pattern=TEMPLATE_KEY_PATTERN, description="Unique per tenant; used to send")


class TemplateOut(BaseModel):
    id: str
    key: str
    status: TemplateStatus
    version: int = Field(description="The version shown")
    active_version: int
    latest_version: int
    name: str
    locale: str = Field(description="The default locale")
    channels: dict[Channel, dict[str, Any]] = Field(
        description="Content in the default locale, or in the locale asked for with ?locale="
    )
    content_locales: dict[Channel, str] | None = Field(
        default=None,
        description="With ?locale=: the locale each channel's content comes from",
    )
    translations: dict[str, dict[Channel, dict[str, Any]]]
    variables: list[str] = Field(description="Variables the template needs, from its content")
    created_at: datetime
    updated_at: datetime
    version_created_at: datetime


class TemplateSummary(BaseModel):
    id: str
    key: str
    status: TemplateStatus
    name: str
    active_version: int
    latest_version: int
    locale: str
    updated_at: datetime


class TemplateVersionSummary(BaseModel):
    version: int
    name: str
    locale: str
    locales: list[str]
    channels: list[Channel]
    variables: list[str]
    active: bool
    created_at: datetime


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel
    variables: dict[str, Any] = Field(default_factory=dict)
    locale: Locale | None = None
    version: int | None = Field(default=None, ge=1, description="Default: the active version")
    recipient: dict[str, Any] = Field(
        default_factory=dict, description="Sample recipient fields for `recipient.*`"
    )


class SmsInfo(BaseModel):
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    characters: int = Field(description="GSM-7 septets, or UTF-16 code units for UCS-2")


class PayloadInfo(BaseModel):
    bytes: int = Field(description="The payload as the provider measures it (UTF-8 JSON)")
    limit_bytes: int = Field(
        description="FCM's 4096 bytes; for web push, what fits 4096 encrypted bytes"
    )
    fits: bool


class PreviewOut(BaseModel):
    key: str
    version: int
    channel: Channel
    locale: str = Field(description="The locale whose content was rendered")
    content: dict[str, Any]
    sms: SmsInfo | None = Field(default=None, description="For sms and whatsapp")
    payload: PayloadInfo | None = Field(default=None, description="For push and web_push")
