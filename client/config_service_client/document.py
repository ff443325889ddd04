"""What the client hands out: a configuration's document at a revision, and a deletion."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Document:
    """A configuration's document (`value`, the JSON object itself) at `revision`.

    `stale` is True when the service could not be reached and this is the last good document
    this process or the disk cache had; `fetched_at` is when the service last confirmed it, so
    `age` says how old it may be. Treat `value` as read-only: a revalidated document (a 304)
    shares it with the client's memory instead of parsing it again.
    """

    application: str
    name: str
    value: dict[str, Any]
    revision: int
    etag: str
    fetched_at: datetime
    stale: bool = False

    @property
    def age(self) -> timedelta:
        """How long ago the service last confirmed this document."""
        return utc_now() - self.fetched_at

    def confirmed(self) -> Document:
        """The same document, confirmed now (a 304)."""
        return dataclasses.replace(self, fetched_at=utc_now(), stale=False)

    def as_stale(self) -> Document:
        return dataclasses.replace(self, stale=True)


@dataclass(frozen=True)
class Deleted:
    """In a watch of a whole application: the configuration `name` was deleted (or renamed to
    another name, which then arrives as a new document)."""

    application: str
    name: str
