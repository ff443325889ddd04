"""One page of a keyset-paginated list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class HasId(Protocol):
    @property
    def id(self) -> str: ...


Item = TypeVar("Item", bound=HasId)


@dataclass(frozen=True)
class Page(Generic[Item]):
    items: list[Item]
    next_after: str | None

    @classmethod
    def from_rows(cls, rows: Sequence[Item], *, limit: int) -> Page[Item]:
        """`rows` were fetched with LIMIT limit+1: one extra row means another page exists."""
        items = list(rows[:limit])
        has_more = len(rows) > limit
        return cls(items=items, next_after=items[-1].id if has_more and items else None)
