"""API keys: who may call the API, with which role, on which applications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from models.base import ApiModel, InputModel
from models.fields import EXAMPLE_APPLICATION_ID, ApplicationId, DateTimeText, Name

EXAMPLE_KEY_ID = "01JQ3V8C5E7G9J1M3P5S7V9X1Z"
_EXAMPLE_TIME = "2026-11-23T09:30:00.123456Z"
MAX_SCOPED_APPLICATIONS = 1000


_REVEAL_DESCRIPTION = (
    "Whether the key's reads show secret values in plain text, on the applications it "
    'reaches; otherwise each is the placeholder "********" (admin keys too)'
)


class Role(StrEnum):
    """admin: everything, including keys and creating or deleting applications; write: read
    and change configurations and application comments in scope (renaming an application
    needs write on every application: names are global); read: read in scope."""

    ADMIN = "admin"
    WRITE = "write"
    READ = "read"


class ApiKey(ApiModel):
    """A key as listed: never its secret."""

    id: str = Field(examples=[EXAMPLE_KEY_ID])
    name: str = Field(examples=["billing deploys"])
    prefix: str = Field(
        description="The visible start of the key (`cs_<prefix>_...`), to tell keys apart.",
        examples=["k7d2m4qx"],
    )
    role: Role
    applications: list[str] | None = Field(
        description="The application ids this key reaches; null: every application.",
        examples=[[EXAMPLE_APPLICATION_ID]],
    )
    created_at: datetime = Field(examples=[_EXAMPLE_TIME])
    expires_at: datetime | None = Field(examples=[None])
    revoked_at: datetime | None = Field(examples=[None])
    created_by: str | None = Field(
        description="Id of the key that created this one (null: the create-key command).",
        examples=[EXAMPLE_KEY_ID],
    )
    reveal_secrets: bool = Field(
        description=_REVEAL_DESCRIPTION + ".",
        examples=[False],
    )


class ApiKeyCreated(ApiKey):
    key: str = Field(
        description="The key itself. Shown only in this response: store it now.",
        examples=["cs_k7d2m4qx_3J9vXq0w8C1kT5m2Lr7Yb4Nd6Hs0Fa9Q"],
    )


class ApiKeyCreate(InputModel):
    name: Name = Field(description="For people: who or what uses it.", examples=["billing deploys"])
    # Not strict: JSON has no enums or datetimes, only their strings.
    role: Role = Field(strict=False, examples=["write"])
    applications: (
        Annotated[list[ApplicationId], Field(max_length=MAX_SCOPED_APPLICATIONS)] | None
    ) = Field(
        default=None,
        description="Application ids the key reaches; null or left out: every application. "
        "Must be null for admin keys.",
        examples=[[EXAMPLE_APPLICATION_ID]],
    )
    expires_at: DateTimeText | None = Field(
        default=None,
        strict=False,
        description="When the key stops working (RFC 3339; without an offset: UTC); null: never.",
        examples=["2027-01-01T00:00:00Z"],
    )
    reveal_secrets: bool = Field(
        default=False, description=_REVEAL_DESCRIPTION + "; default false.", examples=[False]
    )

    @model_validator(mode="after")
    def _admin_reaches_everything(self) -> ApiKeyCreate:
        if self.role is Role.ADMIN and self.applications is not None:
            raise ValueError("applications must be null for an admin key (admin reaches all)")
        return self


@dataclass(frozen=True)
class StoredKey:
    """A key's row, with the hash the service compares a presented key against."""

    key: ApiKey
    secret_hash: bytes
