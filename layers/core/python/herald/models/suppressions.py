"""API input and output for suppressed addresses."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from herald.models.common import Email
from herald.models.validators import e164

SuppressionReason = Literal["bounce", "dropped", "spamreport", "unsubscribe", "stop", "manual"]

_EMAIL = TypeAdapter(Email)


def canonical_address(value: str) -> str:
    """An email (lower-cased) or an E.164 phone number; ValueError for anything else."""
    value = value.strip()
    if "@" in value:
        return _EMAIL.validate_python(value).lower()
    return e164(value)


class SuppressionIn(BaseModel):
    """`POST /v1/suppressions`: stop sending to an address."""

    model_config = ConfigDict(extra="forbid")

    address: str = Field(
        max_length=320, description="An email address, or a phone number in E.164 form"
    )
    reason: SuppressionReason = "manual"
    note: str | None = Field(default=None, max_length=500, description="Why, for operators")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        return canonical_address(value)


class SuppressionOut(BaseModel):
    address: str
    reason: SuppressionReason
    source: str = Field(description="Who suppressed it: api, one_click, sendgrid, twilio")
    detail: dict[str, Any]
    created_at: datetime
