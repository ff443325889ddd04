"""A record of the change log: what changed, where, and at which position."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from models.base import ApiModel
from models.fields import EXAMPLE_APPLICATION_ID, EXAMPLE_CONFIGURATION_ID


class ChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    RESTORED = "restored"
    DELETED = "deleted"
    APPLICATION_RENAMED = "application_renamed"
    APPLICATION_DELETED = "application_deleted"


class Change(ApiModel):
    """One change, at its position in the log: positions follow the writing transactions' ids
    (increasing, with gaps), and resuming after a position misses nothing."""

    position: int = Field(ge=1, examples=[42])
    kind: ChangeKind = Field(examples=[ChangeKind.UPDATED])
    application_id: str = Field(examples=[EXAMPLE_APPLICATION_ID])
    configuration_id: str | None = Field(
        description="Null for application_renamed and application_deleted.",
        examples=[EXAMPLE_CONFIGURATION_ID],
    )
    name: str | None = Field(
        description="The configuration's name after the change (its last name when deleted).",
        examples=["production"],
    )
    revision: int | None = Field(
        description="The configuration's new revision; null when it was deleted.", examples=[4]
    )

    @property
    def ends_configuration(self) -> bool:
        return self.kind in (ChangeKind.DELETED, ChangeKind.APPLICATION_DELETED)


class ChangeEntry(ApiModel):
    """A change to record, before it has a position."""

    kind: ChangeKind
    configuration_id: str | None = None
    name: str | None = None
    revision: int | None = None
