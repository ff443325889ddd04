"""What every repository shares: the connection it works on, how it reads one row, and how
PostgreSQL's refusals of a write become errors a service can name."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2.errors
from psycopg2.extras import RealDictCursor

from database.pool import Connection
from repositories.errors import DuplicateKey, MissingReference


class Repository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def _fetch_one(self, query: str, parameters: dict[str, Any]) -> dict[str, Any] | None:
        """The first row of `query` (a module constant of the calling repository), or None."""
        with self._connection.cursor(cursor_factory=RealDictCursor) as cursor:
            cursor.execute(query, parameters)
            row: dict[str, Any] | None = cursor.fetchone()
            return row


@contextmanager
def refusals_named() -> Iterator[None]:
    """A unique violation becomes DuplicateKey, a foreign key violation MissingReference, each
    naming the constraint; anything else passes through."""
    try:
        yield
    except psycopg2.errors.UniqueViolation as error:
        raise DuplicateKey(error.diag.constraint_name or "") from error
    except psycopg2.errors.ForeignKeyViolation as error:
        raise MissingReference(error.diag.constraint_name or "") from error
