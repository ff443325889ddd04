"""The project's base models: every API shape derives from one of these."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ApiModel(BaseModel):
    """Shapes the service returns."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)


class InputModel(BaseModel):
    """Shapes the service accepts: unknown fields are refused, types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
