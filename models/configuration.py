"""Configurations: named JSON documents owned by an application, with their history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, WithJsonSchema

from models.base import ApiModel, InputModel
from models.fields import (
    EXAMPLE_APPLICATION_ID,
    EXAMPLE_CONFIGURATION_ID,
    ApplicationId,
    ChangeMessage,
    Comments,
    Name,
)
from models.json_document_schema import JsonDocument

_EXAMPLE_TIME = "2026-11-23T09:30:00.123456Z"
_EXAMPLE_CONFIG: dict[str, Any] = {
    "database": {"pool_size": 20, "timeout_seconds": 2.5},
    "features": {"new_checkout": True},
}
_EXAMPLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"database": {"type": "object", "required": ["pool_size"]}},
}

JsonObject = dict[str, Any]

MAX_SECRET_LOCATIONS = 256
PLACEHOLDER = "********"
_EXAMPLE_SECRETS = ["/database/password"]
_SECRETS_DESCRIPTION = (
    "JSON Pointers (RFC 6901) to the values of `config` that are secret: encrypted at rest, "
    f'and shown as the placeholder "{PLACEHOLDER}" to a caller whose key may not reveal '
    "secrets. Each must exist in `config`; at most 256, none inside another."
)
# A JSON Pointer below the root; that it names a value of `config` is checked with the config.
SecretLocation = Annotated[str, Field(json_schema_extra={"pattern": "^/[^\\u0000]*$"})]
SecretLocationList = Annotated[list[SecretLocation], Field(max_length=MAX_SECRET_LOCATIONS)]

# `schema` shadows a BaseModel attribute, so the Python name is `json_schema`.
_SCHEMA_DESCRIPTION = (
    "A JSON Schema (2020-12) that `config` must satisfy, or null for none. Only local `$ref`s "
    "(starting with #) are allowed."
)


class Configuration(ApiModel):
    id: str = Field(examples=[EXAMPLE_CONFIGURATION_ID])
    application_id: str = Field(examples=[EXAMPLE_APPLICATION_ID])
    name: str = Field(examples=["production"])
    comments: str | None = Field(examples=["Values for the EU region"])
    config: JsonObject = Field(examples=[_EXAMPLE_CONFIG])
    json_schema: JsonObject | None = Field(
        alias="schema", description=_SCHEMA_DESCRIPTION, examples=[_EXAMPLE_SCHEMA]
    )
    secrets: list[str] = Field(description=_SECRETS_DESCRIPTION, examples=[_EXAMPLE_SECRETS])
    revision: int = Field(
        description="Counts changes of name, comments, config, schema and secrets, from 1.",
        examples=[3],
    )
    created_at: datetime = Field(examples=[_EXAMPLE_TIME])
    updated_at: datetime = Field(examples=[_EXAMPLE_TIME])


class ConfigurationRevision(ApiModel):
    """One kept state of a configuration. Revisions are never changed or removed, except
    together with their configuration."""

    configuration_id: str = Field(examples=[EXAMPLE_CONFIGURATION_ID])
    revision: int = Field(examples=[3])
    name: str = Field(examples=["production"])
    comments: str | None = Field(examples=["Values for the EU region"])
    config: JsonObject = Field(examples=[_EXAMPLE_CONFIG])
    json_schema: JsonObject | None = Field(alias="schema", examples=[None])
    secrets: list[str] = Field(description=_SECRETS_DESCRIPTION, examples=[_EXAMPLE_SECRETS])
    message: str | None = Field(examples=["Raise the pool size for the sale"])
    restored_from: int | None = Field(
        description="The revision this one restored, if it was made by a restore.", examples=[None]
    )
    created_at: datetime = Field(examples=[_EXAMPLE_TIME])


class ConfigurationCreate(InputModel):
    application_id: ApplicationId = Field(description="The application that owns it.")
    name: Name = Field(description="Unique within its application.", examples=["production"])
    comments: Comments | None = Field(default=None, examples=["Values for the EU region"])
    config: JsonDocument = Field(description="Any JSON object.", examples=[_EXAMPLE_CONFIG])
    json_schema: JsonDocument | None = Field(
        default=None, alias="schema", description=_SCHEMA_DESCRIPTION, examples=[_EXAMPLE_SCHEMA]
    )
    secrets: SecretLocationList = Field(
        default_factory=list, description=_SECRETS_DESCRIPTION, examples=[_EXAMPLE_SECRETS]
    )
    message: ChangeMessage | None = None


class ConfigurationUpdate(InputModel):
    """Fields left out stay as they are; `comments: null` and `schema: null` clear; name,
    config and secrets can't be null."""

    # The default None only marks "left out" (see model_fields_set); an explicit null fails
    # validation, and the JSON Schema says "string"/"object", not "or null".
    name: Name = Field(default=None, description="May be left out, not null.")  # type: ignore[assignment]
    comments: Comments | None = Field(default=None)
    config: JsonDocument = Field(
        default=None,  # type: ignore[arg-type]
        description="Replaces the whole document. May be left out, not null.",
        examples=[_EXAMPLE_CONFIG],
    )
    json_schema: JsonDocument | None = Field(
        default=None, alias="schema", description=_SCHEMA_DESCRIPTION
    )
    secrets: SecretLocationList = Field(
        default=None,  # type: ignore[arg-type]
        description=_SECRETS_DESCRIPTION + " May be left out (they stay), not null.",
        examples=[_EXAMPLE_SECRETS],
    )
    message: ChangeMessage | None = None


class ConfigurationState(InputModel):
    """The editable part of a configuration, as a merge patch sees it."""

    name: Name
    # A merge patch removes a member with null: a removed comments or schema means none.
    comments: Comments | None = None
    config: JsonObject
    json_schema: JsonObject | None = Field(default=None, alias="schema")
    # A removed list means no secrets.
    secrets: SecretLocationList = Field(default_factory=list)


class RestoreRequest(InputModel):
    message: ChangeMessage | None = Field(
        default=None, description="Defaults to “restore of revision N”."
    )


def _merge_patch_body_schema() -> dict[str, Any]:
    """What a merge patch of a configuration may hold: the editable members (null removes
    those that may be absent; removed `secrets` are none) and `message`. Nulls inside `config`
    and `schema` remove keys; `secrets`, an array, is replaced whole."""

    def nullable(schema: dict[str, Any]) -> dict[str, Any]:
        return {"anyOf": [schema, {"type": "null"}]}

    document = {"$ref": "#/components/schemas/JsonDocument"}
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": TypeAdapter(Name).json_schema(),
            "comments": nullable(TypeAdapter(Comments).json_schema()),
            "config": document,
            "schema": nullable(document),
            "secrets": nullable(TypeAdapter(SecretLocationList).json_schema()),
            "message": nullable(TypeAdapter(ChangeMessage).json_schema()),
        },
    }


MergePatchBody = Annotated[dict[str, Any], WithJsonSchema(_merge_patch_body_schema())]


@dataclass(frozen=True)
class ConfigurationPatch:
    """A JSON merge patch (RFC 7396) of a configuration's `{name, comments, config, schema,
    secrets}` (`members`), and the change message to keep with the revision it makes."""

    members: JsonObject
    message: str | None = None


@dataclass(frozen=True)
class StoredSecrets:
    """A stored config that holds secrets (a current row's or a revision's), as rotation
    re-encrypts it: `config` as stored, with an envelope at each of its `secrets`."""

    configuration_id: str
    revision: int
    config: JsonObject
    secrets: list[str]
