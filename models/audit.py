"""The audit log: who changed what, when, from where."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from models.api_key import EXAMPLE_KEY_ID
from models.base import ApiModel
from models.fields import EXAMPLE_APPLICATION_ID, EXAMPLE_CONFIGURATION_ID


class AuditAction(StrEnum):
    APPLICATION_CREATED = "application.created"
    APPLICATION_UPDATED = "application.updated"
    APPLICATION_DELETED = "application.deleted"
    CONFIGURATION_CREATED = "configuration.created"
    CONFIGURATION_UPDATED = "configuration.updated"
    CONFIGURATION_PATCHED = "configuration.patched"
    CONFIGURATION_DELETED = "configuration.deleted"
    CONFIGURATION_RESTORED = "configuration.restored"
    # A read that showed secret values in plain text (revision_after: the revision read).
    CONFIGURATION_REVEALED = "configuration.revealed"
    KEY_CREATED = "key.created"
    KEY_REVOKED = "key.revoked"
    BINDING_CREATED = "binding.created"
    BINDING_DELETED = "binding.deleted"


class TargetType(StrEnum):
    APPLICATION = "application"
    CONFIGURATION = "configuration"
    KEY = "key"
    BINDING = "binding"


@dataclass(frozen=True)
class Actor:
    """Who asks for a change, in the service's words: the key (None for the command line and
    for an identity token), or the identity's issuer and subject with the bindings that let it
    in, and the request id and client address to find the request again."""

    key_id: str | None
    key_name: str | None
    request_id: str | None = None
    client_address: str | None = None
    issuer: str | None = None
    subject: str | None = None
    binding_ids: tuple[str, ...] = ()


COMMAND_LINE = Actor(key_id=None, key_name="create-key command")


@dataclass(frozen=True)
class AuditEntry:
    """What a change appends (the values themselves stay in the revisions)."""

    action: AuditAction
    target_type: TargetType
    target_id: str
    application_id: str | None = None
    configuration_id: str | None = None
    revision_before: int | None = None
    revision_after: int | None = None


class AuditRecord(ApiModel):
    id: int = Field(description="Grows with every record; the list's cursor.", examples=[42])
    at: datetime = Field(examples=["2026-11-23T09:30:00.123456Z"])
    key_id: str | None = Field(examples=[EXAMPLE_KEY_ID])
    key_name: str | None = Field(examples=["billing deploys"])
    issuer: str | None = Field(
        description="For a change made with an identity token: its issuer (key_id is null).",
        examples=[None],
    )
    subject: str | None = Field(
        description="For a change made with an identity token: its subject (`sub`).",
        examples=[None],
    )
    binding_ids: list[str] | None = Field(
        description="For a change made with an identity token: the bindings that let it in.",
        examples=[None],
    )
    action: AuditAction
    target_type: TargetType
    target_id: str = Field(examples=[EXAMPLE_CONFIGURATION_ID])
    application_id: str | None = Field(examples=[EXAMPLE_APPLICATION_ID])
    configuration_id: str | None = Field(examples=[EXAMPLE_CONFIGURATION_ID])
    revision_before: int | None = Field(examples=[3])
    revision_after: int | None = Field(examples=[4])
    request_id: str | None = Field(examples=["7f3c9a0e5b2d4c8e9f1a6b3d5c7e9f10"])
    client_address: str | None = Field(examples=["192.0.2.10"])


@dataclass(frozen=True)
class AuditFilter:
    application_id: str | None = None
    configuration_id: str | None = None
    key_id: str | None = None
    action: AuditAction | None = None
    since: datetime | None = None
    until: datetime | None = None
    # None: every application; otherwise only records of these (a write key's view).
    visible_applications: frozenset[str] | None = None
    # Leave out records of no application (those of keys): a write key's view.
    applications_only: bool = False
