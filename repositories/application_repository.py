"""SQL for applications. Rows in, models out; never commits.

Writes are compare-and-set on `version` (which changes with every change of the application or
of its list of configurations): they change the row only if it is still the version the
service read, and report otherwise by returning None / False.
"""

from __future__ import annotations

from typing import Any

from psycopg2.extras import RealDictCursor

from models.application import Application
from models.versioned import Versioned
from repositories.repository import Repository, refusals_named

INSERT_APPLICATION = """
    INSERT INTO applications (id, name, comments)
    VALUES (%(id)s, %(name)s, %(comments)s)
    ON CONFLICT (name) DO NOTHING
    RETURNING id, name, comments, revision, version, created_at, updated_at
"""

SELECT_APPLICATION = """
    SELECT id, name, comments, revision, version, created_at, updated_at
    FROM applications
    WHERE id = %(id)s
"""

SELECT_APPLICATION_FOR_UPDATE = """
    SELECT id, name, comments, revision, version, created_at, updated_at
    FROM applications
    WHERE id = %(id)s
    FOR NO KEY UPDATE
"""

# An application's deletion waits for the writes of its configurations under way (they hold this
# lock shared, see configuration_repository.py) before it is given a transaction id, so its
# records follow theirs in the change log.
TAKE_DELETION_TURN = """
    SELECT pg_advisory_xact_lock(1019, hashtext(%(id)s))
"""

SELECT_APPLICATIONS_PAGE = """
    SELECT id, name, comments, revision, version, created_at, updated_at
    FROM applications
    WHERE (%(after)s::text IS NULL OR id > %(after)s)
      AND (%(name)s::text IS NULL OR name = %(name)s)
      AND (%(only)s::text[] IS NULL OR id = ANY(%(only)s))
    ORDER BY id
    LIMIT %(limit)s
"""

UPDATE_APPLICATION_IF_VERSION = """
    UPDATE applications
    SET name = %(name)s,
        comments = %(comments)s,
        revision = revision + 1,
        version = version + 1,
        updated_at = now()
    WHERE id = %(id)s AND version = %(expected_version)s
    RETURNING id, name, comments, revision, version, created_at, updated_at
"""

BUMP_APPLICATION_VERSION = """
    UPDATE applications
    SET version = version + 1
    WHERE id = %(id)s
    RETURNING id
"""

DELETE_APPLICATION_IF_VERSION = """
    DELETE FROM applications
    WHERE id = %(id)s AND version = %(expected_version)s
"""

SELECT_APPLICATION_ID_BY_NAME = """
    SELECT id FROM applications WHERE name = %(name)s
"""

SELECT_EXISTING_APPLICATION_IDS = """
    SELECT id FROM applications WHERE id = ANY(%(ids)s)
"""

SELECT_OWNER_OF_CONFIGURATION = """
    SELECT application_id FROM configurations WHERE id = %(id)s
"""

SELECT_CONFIGURATION_IDS = """
    SELECT id
    FROM configurations
    WHERE application_id = %(application_id)s
    ORDER BY id
"""


def application_from_row(row: dict[str, Any]) -> Versioned[Application]:
    application = Application(
        id=row["id"],
        name=row["name"],
        comments=row["comments"],
        revision=row["revision"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
    return Versioned(application, version=row["version"])


class ApplicationRepository(Repository):
    def add(
        self, *, application_id: str, name: str, comments: str | None
    ) -> Versioned[Application] | None:
        """Insert; None when the name is taken (also when a concurrent insert took it)."""
        row = self._fetch_one(
            INSERT_APPLICATION, {"id": application_id, "name": name, "comments": comments}
        )
        return None if row is None else application_from_row(row)

    def get(self, *, application_id: str, lock: bool = False) -> Versioned[Application] | None:
        """With `lock`, the row stays locked against other writers until the transaction ends."""
        row = self._fetch_one(
            SELECT_APPLICATION_FOR_UPDATE if lock else SELECT_APPLICATION, {"id": application_id}
        )
        return None if row is None else application_from_row(row)

    def wait_for_configuration_writers(self, *, application_id: str) -> None:
        """The first statement of an application's deletion (see TAKE_DELETION_TURN)."""
        with self._connection.cursor() as cursor:
            cursor.execute(TAKE_DELETION_TURN, {"id": application_id})

    def list_page(
        self, *, after: str | None, limit: int, name: str | None, only: list[str] | None = None
    ) -> list[Versioned[Application]]:
        """`only`: just these ids (None: every application)."""
        parameters = {"after": after, "limit": limit, "name": name, "only": only}
        with self._connection.cursor(cursor_factory=RealDictCursor) as cursor:
            cursor.execute(SELECT_APPLICATIONS_PAGE, parameters)
            return [application_from_row(row) for row in cursor.fetchall()]

    def update_if_version(
        self, *, application_id: str, expected_version: int, name: str, comments: str | None
    ) -> Versioned[Application] | None:
        """Change name and comments if the row is still at `expected_version`; else None."""
        parameters = {
            "id": application_id,
            "expected_version": expected_version,
            "name": name,
            "comments": comments,
        }
        with refusals_named():
            row = self._fetch_one(UPDATE_APPLICATION_IF_VERSION, parameters)
        return None if row is None else application_from_row(row)

    def bump_version(self, *, application_id: str) -> bool:
        """Mark the application's representation as changed (its configuration list did).

        Also locks the row until the transaction ends. False when there is no such application.
        """
        return self._fetch_one(BUMP_APPLICATION_VERSION, {"id": application_id}) is not None

    def delete_if_version(self, *, application_id: str, expected_version: int) -> bool:
        with self._connection.cursor() as cursor:
            cursor.execute(
                DELETE_APPLICATION_IF_VERSION,
                {"id": application_id, "expected_version": expected_version},
            )
            return bool(cursor.rowcount == 1)

    def configuration_ids(self, *, application_id: str) -> list[str]:
        with self._connection.cursor() as cursor:
            cursor.execute(SELECT_CONFIGURATION_IDS, {"application_id": application_id})
            return [row[0] for row in cursor.fetchall()]

    def id_by_name(self, *, name: str) -> str | None:
        row = self._fetch_one(SELECT_APPLICATION_ID_BY_NAME, {"name": name})
        return None if row is None else str(row["id"])

    def existing_ids(self, *, application_ids: list[str]) -> set[str]:
        """Those of `application_ids` that name an application."""
        with self._connection.cursor() as cursor:
            cursor.execute(SELECT_EXISTING_APPLICATION_IDS, {"ids": application_ids})
            return {row[0] for row in cursor.fetchall()}

    def owner_of_configuration(self, *, configuration_id: str) -> str | None:
        """The id of the application a configuration belongs to (it never moves)."""
        row = self._fetch_one(SELECT_OWNER_OF_CONFIGURATION, {"id": configuration_id})
        return None if row is None else str(row["application_id"])
