"""SQL for configurations. Rows in, models out; never commits."""

from __future__ import annotations

from typing import Any

import psycopg2.errors
from psycopg2.extras import Json, RealDictCursor

from database.pool import Connection
from models.configuration import Configuration, JsonObject
from repositories.errors import DuplicateKey, MissingReference

INSERT_CONFIGURATION = """
    INSERT INTO configurations (id, application_id, name, comments, config)
    VALUES (%(id)s, %(application_id)s, %(name)s, %(comments)s, %(config)s)
    ON CONFLICT (application_id, name) DO NOTHING
    RETURNING id, application_id, name, comments, config, created_at, updated_at
"""

SELECT_CONFIGURATION = """
    SELECT id, application_id, name, comments, config, created_at, updated_at
    FROM configurations
    WHERE id = %(id)s
"""

SELECT_CONFIGURATION_FOR_UPDATE = """
    SELECT id, application_id, name, comments, config, created_at, updated_at
    FROM configurations
    WHERE id = %(id)s
    FOR UPDATE
"""

SELECT_CONFIGURATIONS_PAGE = """
    SELECT id, application_id, name, comments, config, created_at, updated_at
    FROM configurations
    WHERE application_id = %(application_id)s
      AND (%(after)s::text IS NULL OR id > %(after)s)
    ORDER BY id
    LIMIT %(limit)s
"""

UPDATE_CONFIGURATION = """
    UPDATE configurations
    SET name = %(name)s, comments = %(comments)s, config = %(config)s, updated_at = now()
    WHERE id = %(id)s
    RETURNING id, application_id, name, comments, config, created_at, updated_at
"""

DELETE_CONFIGURATION = """
    DELETE FROM configurations
    WHERE id = %(id)s
"""


def configuration_from_row(row: dict[str, Any]) -> Configuration:
    return Configuration(
        id=row["id"],
        application_id=row["application_id"],
        name=row["name"],
        comments=row["comments"],
        config=row["config"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class ConfigurationRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(
        self,
        *,
        configuration_id: str,
        application_id: str,
        name: str,
        comments: str | None,
        config: JsonObject,
    ) -> Configuration | None:
        """Insert; None when the name is taken within the application.

        Raises MissingReference when the application does not exist (or was just deleted).
        """
        parameters = {
            "id": configuration_id,
            "application_id": application_id,
            "name": name,
            "comments": comments,
            "config": Json(config),
        }
        try:
            row = self._fetch_one(INSERT_CONFIGURATION, parameters)
        except psycopg2.errors.ForeignKeyViolation as error:
            raise MissingReference(error.diag.constraint_name or "") from error
        return None if row is None else configuration_from_row(row)

    def get(self, *, configuration_id: str, for_update: bool = False) -> Configuration | None:
        query = SELECT_CONFIGURATION_FOR_UPDATE if for_update else SELECT_CONFIGURATION
        row = self._fetch_one(query, {"id": configuration_id})
        return None if row is None else configuration_from_row(row)

    def list_page(
        self, *, application_id: str, after: str | None, limit: int
    ) -> list[Configuration]:
        parameters = {"application_id": application_id, "after": after, "limit": limit}
        with self._connection.cursor(cursor_factory=RealDictCursor) as cursor:
            cursor.execute(SELECT_CONFIGURATIONS_PAGE, parameters)
            return [configuration_from_row(row) for row in cursor.fetchall()]

    def update(
        self, *, configuration_id: str, name: str, comments: str | None, config: JsonObject
    ) -> Configuration:
        parameters = {
            "id": configuration_id,
            "name": name,
            "comments": comments,
            "config": Json(config),
        }
        try:
            row = self._fetch_one(UPDATE_CONFIGURATION, parameters)
        except psycopg2.errors.UniqueViolation as error:
            raise DuplicateKey(error.diag.constraint_name or "") from error
        if row is None:
            raise LookupError(f"configuration {configuration_id} vanished while locked")
        return configuration_from_row(row)

    def delete(self, *, configuration_id: str) -> bool:
        with self._connection.cursor() as cursor:
            cursor.execute(DELETE_CONFIGURATION, {"id": configuration_id})
            return bool(cursor.rowcount == 1)

    def _fetch_one(self, query: str, parameters: dict[str, Any]) -> dict[str, Any] | None:
        with self._connection.cursor(cursor_factory=RealDictCursor) as cursor:
            cursor.execute(query, parameters)
            row: dict[str, Any] | None = cursor.fetchone()
            return row
