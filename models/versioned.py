"""A resource together with the version its ETag is made from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

Value = TypeVar("Value")


@dataclass(frozen=True)
class Versioned(Generic[Value]):
    value: Value
    version: int


@dataclass(frozen=True)
class Precondition:
    """What an If-Match header allows: any current version (`*`), or only these versions."""

    versions: frozenset[int] = frozenset()
    any_version: bool = False

    def allows(self, version: int) -> bool:
        return self.any_version or version in self.versions


def last_writer_wins(precondition: Precondition | None) -> bool:
    """Writes without If-Match (or with `*`) must not fail because others wrote first: they
    lock the row while they read it, so their compare-and-set cannot lose. Writes naming
    versions stay a pure compare-and-set, and a lost race is their 412."""
    return precondition is None or precondition.any_version
