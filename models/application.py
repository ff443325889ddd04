"""Applications: the owners of configurations."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from models.base import ApiModel, InputModel
from models.fields import EXAMPLE_APPLICATION_ID, EXAMPLE_CONFIGURATION_ID, Comments, Name

_EXAMPLE_TIME = "2026-11-23T09:30:00.123456Z"


class Application(ApiModel):
    """An application as stored and as listed."""

    id: str = Field(examples=[EXAMPLE_APPLICATION_ID])
    name: str = Field(examples=["billing-service"])
    comments: str | None = Field(examples=["Owned by the payments team"])
    revision: int = Field(description="Counts changes of name and comments, from 1.", examples=[1])
    created_at: datetime = Field(examples=[_EXAMPLE_TIME])
    updated_at: datetime = Field(examples=[_EXAMPLE_TIME])


class ApplicationDetail(Application):
    """One application with the ids of all its configurations, oldest first."""

    configuration_ids: list[str] = Field(examples=[[EXAMPLE_CONFIGURATION_ID]])


class ApplicationCreate(InputModel):
    name: Name = Field(description="Unique among applications.", examples=["billing-service"])
    comments: Comments | None = Field(default=None, examples=["Owned by the payments team"])


class ApplicationUpdate(InputModel):
    """Fields left out stay as they are; `comments: null` clears the comments."""

    # The default None only marks "left out" (see model_fields_set); an explicit null fails
    # validation as a non-string, and the JSON Schema says "string", not "string or null".
    name: Name = Field(  # type: ignore[assignment]
        default=None,
        description="May be left out, not null. Sending it needs a key that reaches every "
        "application (names are global).",
        examples=["billing-api"],
    )
    comments: Comments | None = Field(default=None, examples=[None])
