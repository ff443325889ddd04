"""Configurations: named JSON documents owned by an application."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from models.base import ApiModel, InputModel
from models.fields import (
    EXAMPLE_APPLICATION_ID,
    EXAMPLE_CONFIGURATION_ID,
    ApplicationId,
    Comments,
    Name,
)

_EXAMPLE_TIME = "2026-11-23T09:30:00.123456Z"
_EXAMPLE_CONFIG: dict[str, Any] = {
    "database": {"pool_size": 20, "timeout_seconds": 2.5},
    "features": {"new_checkout": True},
}

JsonObject = dict[str, Any]


class Configuration(ApiModel):
    id: str = Field(examples=[EXAMPLE_CONFIGURATION_ID])
    application_id: str = Field(examples=[EXAMPLE_APPLICATION_ID])
    name: str = Field(examples=["production"])
    comments: str | None = Field(examples=["Values for the EU region"])
    config: JsonObject = Field(examples=[_EXAMPLE_CONFIG])
    created_at: datetime = Field(examples=[_EXAMPLE_TIME])
    updated_at: datetime = Field(examples=[_EXAMPLE_TIME])


class ConfigurationCreate(InputModel):
    application_id: ApplicationId = Field(description="The application that owns it.")
    name: Name = Field(description="Unique within its application.", examples=["production"])
    comments: Comments | None = Field(default=None, examples=["Values for the EU region"])
    config: JsonObject = Field(description="Any JSON object.", examples=[_EXAMPLE_CONFIG])


class ConfigurationUpdate(InputModel):
    """Fields left out stay as they are; `comments: null` clears; name and config can't be null."""

    # The default None only marks "left out" (see model_fields_set); an explicit null fails
    # validation, and the JSON Schema says "string"/"object", not "or null".
    name: Name = Field(default=None, description="May be left out, not null.")  # type: ignore[assignment]
    comments: Comments | None = Field(default=None)
    config: JsonObject = Field(
        default=None,  # type: ignore[arg-type]
        description="Replaces the whole document. May be left out, not null.",
        examples=[_EXAMPLE_CONFIG],
    )
