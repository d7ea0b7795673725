"""API keys as the API shows them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from herald.models.common import Scope


class CreateApiKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200)
    scopes: list[Scope] = Field(min_length=1)


class ApiKeyCreated(BaseModel):
    id: str
    name: str
    scopes: list[Scope]
    created_at: datetime
    key: str = Field(description="Shown once; only a hash is stored.")
