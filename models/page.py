"""One page of a keyset-paginated list."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")


@dataclass(frozen=True)
class Page(Generic[Item]):
    items: list[Item]
    next_after: str | None

    @classmethod
    def from_rows(
        cls, rows: Sequence[Item], *, limit: int, cursor: Callable[[Item], str]
    ) -> Page[Item]:
        """`rows` were fetched with LIMIT limit+1: one extra row means another page exists;
        `cursor` gives the value of `after` that continues behind an item."""
        items = list(rows[:limit])
        has_more = len(rows) > limit
        return cls(items=items, next_after=cursor(items[-1]) if has_more and items else None)
