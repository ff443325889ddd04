"""SQL for applications. Rows in, models out; never commits."""

from __future__ import annotations

from typing import Any

import psycopg2.errors
from psycopg2.extras import RealDictCursor

from database.pool import Connection
from models.application import Application
from repositories.errors import DuplicateKey

INSERT_APPLICATION = """
    INSERT INTO applications (id, name, comments)
    VALUES (%(id)s, %(name)s, %(comments)s)
    ON CONFLICT (name) DO NOTHING
    RETURNING id, name, comments, created_at, updated_at
"""

SELECT_APPLICATION = """
    SELECT id, name, comments, created_at, updated_at
    FROM applications
    WHERE id = %(id)s
"""

SELECT_APPLICATION_FOR_UPDATE = """
    SELECT id, name, comments, created_at, updated_at
    FROM applications
    WHERE id = %(id)s
    FOR UPDATE
"""

SELECT_APPLICATIONS_PAGE = """
    SELECT id, name, comments, created_at, updated_at
    FROM applications
    WHERE (%(after)s::text IS NULL OR id > %(after)s)
      AND (%(name)s::text IS NULL OR name = %(name)s)
    ORDER BY id
    LIMIT %(limit)s
"""

UPDATE_APPLICATION = """
    UPDATE applications
    SET name = %(name)s, comments = %(comments)s, updated_at = now()
    WHERE id = %(id)s
    RETURNING id, name, comments, created_at, updated_at
"""

DELETE_APPLICATION = """
    DELETE FROM applications
    WHERE id = %(id)s
"""

SELECT_CONFIGURATION_IDS = """
    SELECT id
    FROM configurations
    WHERE application_id = %(application_id)s
    ORDER BY id
"""


def application_from_row(row: dict[str, Any]) -> Application:
    return Application(
        id=row["id"],
        name=row["name"],
        comments=row["comments"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class ApplicationRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, *, application_id: str, name: str, comments: str | None) -> Application | None:
        """Insert; None when the name is taken (also when a concurrent insert took it)."""
        row = self._fetch_one(
            INSERT_APPLICATION, {"id": application_id, "name": name, "comments": comments}
        )
        return None if row is None else application_from_row(row)

    def get(self, *, application_id: str, for_update: bool = False) -> Application | None:
        query = SELECT_APPLICATION_FOR_UPDATE if for_update else SELECT_APPLICATION
        row = self._fetch_one(query, {"id": application_id})
        return None if row is None else application_from_row(row)

    def list_page(self, *, after: str | None, limit: int, name: str | None) -> list[Application]:
        with self._connection.cursor(cursor_factory=RealDictCursor) as cursor:
            cursor.execute(SELECT_APPLICATIONS_PAGE, {"after": after, "limit": limit, "name": name})
            return [application_from_row(row) for row in cursor.fetchall()]

    def update(self, *, application_id: str, name: str, comments: str | None) -> Application:
        try:
            row = self._fetch_one(
                UPDATE_APPLICATION, {"id": application_id, "name": name, "comments": comments}
            )
        except psycopg2.errors.UniqueViolation as error:
            raise DuplicateKey(error.diag.constraint_name or "") from error
        if row is None:
            raise LookupError(f"application {application_id} vanished while locked")
        return application_from_row(row)

    def delete(self, *, application_id: str) -> bool:
        with self._connection.cursor() as cursor:
            cursor.execute(DELETE_APPLICATION, {"id": application_id})
            return bool(cursor.rowcount == 1)

    def configuration_ids(self, *, application_id: str) -> list[str]:
        with self._connection.cursor() as cursor:
            cursor.execute(SELECT_CONFIGURATION_IDS, {"application_id": application_id})
            return [row[0] for row in cursor.fetchall()]

    def _fetch_one(self, query: str, parameters: dict[str, Any]) -> dict[str, Any] | None:
        with self._connection.cursor(cursor_factory=RealDictCursor) as cursor:
            cursor.execute(query, parameters)
            row: dict[str, Any] | None = cursor.fetchone()
            return row
