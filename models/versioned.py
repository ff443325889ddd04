"""A resource together with its version, and what a write expects that version to be."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

# Covariant: a Versioned[Configuration] is a Versioned of anything a Configuration is.
Value_co = TypeVar("Value_co", covariant=True)


@dataclass(frozen=True)
class Versioned(Generic[Value_co]):
    value: Value_co
    version: int


@dataclass(frozen=True)
class Precondition:
    """What a write expects of the version it finds; finding anything else fails it, and
    nothing is written.

    The version must be one of `versions` (any will do with `any_version`; with neither, none
    will), and must not be one of `unwanted_versions` (none will do with `must_not_exist`).
    """

    versions: frozenset[int] = frozenset()
    any_version: bool = False
    unwanted_versions: frozenset[int] = frozenset()
    must_not_exist: bool = False

    def expects(self, version: int) -> bool:
        return self.any_version or version in self.versions

    def rejects(self, version: int) -> bool:
        return self.must_not_exist or version in self.unwanted_versions

    def allows(self, version: int) -> bool:
        return self.expects(version) and not self.rejects(version)


def last_writer_wins(precondition: Precondition | None) -> bool:
    """Writes that expect no particular version must not fail because others wrote first: they
    lock the row while they read it, so their compare-and-set cannot lose (and a version they
    must not find is checked under that lock). Writes expecting particular versions stay a pure
    compare-and-set, and a lost race is their failed precondition."""
    return precondition is None or precondition.any_version
