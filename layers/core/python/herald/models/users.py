"""API input and output for users, their preferences and their data export."""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from herald.models.common import Channel, Email
from herald.models.devices import DeviceOut
from herald.models.inbox import InboxItemOut
from herald.models.suppressions import SuppressionOut
from herald.models.validators import CATEGORY_PATTERN, Locale, Phone, TimeZone, WebhookUrl

MAX_NAME_LENGTH = 200

Category = Annotated[str, StringConstraints(pattern=CATEGORY_PATTERN)]
# 24-hour wall-clock time, as `<input type="time">` submits it.
_CLOCK_TIME = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")


class UserIn(BaseModel):
    """`PUT /v1/users/{user_id}`: the whole user; absent fields are cleared."""

    model_config = ConfigDict(extra="forbid")

    email: Email | None = None
    phone: Phone | None = None
    name: str | None = Field(default=None, max_length=MAX_NAME_LENGTH)
    locale: Locale | None = None
    timezone: TimeZone | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    webhook_url: WebhookUrl | None = Field(
        default=None, description="Where the `webhook` channel reaches this user"
    )


class UserOut(BaseModel):
    user_id: str
    email: str | None
    phone: str | None
    name: str | None
    locale: str | None
    timezone: str | None
    data: dict[str, Any]
    webhook_url: str | None = None
    created_at: datetime
    updated_at: datetime


class QuietHours(BaseModel):
    """A daily window, in the user's time zone, when only critical notifications go out.

    `start` is inside the window and `end` is not; a window may cross midnight (22:00-08:00).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str = Field(description="HH:MM, 24-hour", examples=["22:00"])
    end: str = Field(description="HH:MM, 24-hour", examples=["08:00"])

    @field_validator("start", "end")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        if not _CLOCK_TIME.match(value):
            raise ValueError("must be a 24-hour time as HH:MM, e.g. 22:00")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours must start and end at different times")
        return self

    @property
    def start_time(self) -> time:
        return time.fromisoformat(self.start)

    @property
    def end_time(self) -> time:
        return time.fromisoformat(self.end)


class Preferences(BaseModel):
    """`GET|PUT /v1/users/{user_id}/preferences`. A channel or category not named is on."""

    model_config = ConfigDict(extra="forbid")

    channels: dict[Channel, bool] = Field(default_factory=dict)
    categories: dict[Category, bool] = Field(default_factory=dict)
    quiet_hours: QuietHours | None = None


class PreferenceEventOut(BaseModel):
    """One recorded change of a user's preferences: the consent trail."""

    source: Literal["api", "page", "one_click", "provider"] = Field(
        description="api: PUT preferences; page: the preference center; one_click: an "
        "unsubscribe link; provider: a bounce or complaint report"
    )
    change: dict[str, Any] = Field(
        description='What changed, e.g. {"categories": {"marketing": false}}'
    )
    address: str | None
    at: datetime


class UserExport(BaseModel):
    """`GET /v1/users/{user_id}/export`: everything Herald holds about one user."""

    user: UserOut
    preferences: Preferences
    devices: list[DeviceOut] = Field(description="Push tokens and web push subscriptions")
    suppressions: list[SuppressionOut] = Field(
        description="Suppressions of the user's email address and phone number"
    )
    preference_events: list[PreferenceEventOut] = Field(description="Oldest first")
    inbox_items: list[InboxItemOut] = Field(
        description="The user's in-app inbox, newest first, archived and expired items included"
    )


class PreferenceLink(BaseModel):
    """`POST /v1/users/{user_id}/preference-link`: a signed link to the user's preference
    center, to put in your own app or messages."""

    url: str
    expires_at: datetime
