"""What a repository reports when PostgreSQL refuses a write for a reason a service can name."""

from __future__ import annotations


class DuplicateKey(Exception):
    """A unique constraint refused the write."""

    def __init__(self, constraint: str) -> None:
        super().__init__(constraint)
        self.constraint = constraint


class MissingReference(Exception):
    """A foreign key points at a row that does not exist (or was deleted concurrently)."""

    def __init__(self, constraint: str) -> None:
        super().__init__(constraint)
        self.constraint = constraint
