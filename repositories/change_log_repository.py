"""SQL for the change log. Rows in, models out; never commits.

`append` must be the LAST statement of a writing transaction: it locks the log's head row until
commit, which serialises appends so that positions are gap-free and in commit order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg2.extras import RealDictCursor

from database.pool import Connection
from models.change import Change, ChangeEntry, ChangeKind

NOTIFY_CHANNEL = "config_changes"

APPEND_CHANGES = """
    WITH head AS (
        UPDATE change_log_head
        SET position = position + cardinality(%(kinds)s::text[])
        RETURNING position
    ), appended AS (
        INSERT INTO change_log
            (position, application_id, configuration_id, configuration_name, kind, revision)
        SELECT head.position - cardinality(%(kinds)s::text[]) + entry.number,
               %(application_id)s, entry.configuration_id, entry.name, entry.kind,
               entry.revision
        FROM head,
             unnest(%(configuration_ids)s::text[], %(names)s::text[], %(kinds)s::text[],
                    %(revisions)s::integer[])
                 WITH ORDINALITY AS entry(configuration_id, name, kind, revision, number)
        RETURNING position
    )
    SELECT pg_notify('config_changes', head.position::text), head.position,
           (SELECT count(*) FROM appended) AS appended
    FROM head
"""

SELECT_CHANGES_AFTER = """
    SELECT position, application_id, configuration_id, configuration_name, kind, revision
    FROM change_log
    WHERE position > %(after)s
      AND (%(application_id)s::text IS NULL OR application_id = %(application_id)s)
    ORDER BY position
    LIMIT %(limit)s
"""

SELECT_BOUNDS = """
    SELECT (SELECT position FROM change_log_head) AS head,
           (SELECT min(position) FROM change_log) AS oldest
"""

SELECT_CONFIGURATIONS_OF_APPLICATION = """
    SELECT id, name
    FROM configurations
    WHERE application_id = %(application_id)s
    ORDER BY id
"""

# Deletes a prefix of the log (at most `batch` records), so the oldest kept position always
# tells where the log starts: positions are never missing from its middle.
PRUNE_CHANGES = """
    WITH oldest AS (
        SELECT position, recorded_at FROM change_log ORDER BY position LIMIT %(batch)s
    ), first_kept AS (
        SELECT min(position) AS position FROM oldest WHERE recorded_at >= %(cutoff)s
    )
    DELETE FROM change_log
    WHERE position IN (
        SELECT position FROM oldest
        WHERE position < coalesce((SELECT position FROM first_kept), 9223372036854775807)
    )
"""


def change_from_row(row: dict[str, Any]) -> Change:
    return Change(
        position=row["position"],
        kind=ChangeKind(row["kind"]),
        application_id=row["application_id"],
        configuration_id=row["configuration_id"],
        name=row["configuration_name"],
        revision=row["revision"],
    )


class ChangeLogRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def append(self, *, application_id: str, entries: list[ChangeEntry]) -> int:
        """Record `entries` (in order) and notify listeners on commit; returns the last
        position. Call it last in the transaction: the head stays locked until commit."""
        parameters = {
            "application_id": application_id,
            "configuration_ids": [entry.configuration_id for entry in entries],
            "names": [entry.name for entry in entries],
            "kinds": [entry.kind.value for entry in entries],
            "revisions": [entry.revision for entry in entries],
        }
        with self._connection.cursor(cursor_factory=RealDictCursor) as cursor:
            cursor.execute(APPEND_CHANGES, parameters)
            row = cursor.fetchone()
        if row is None:
            raise RuntimeError("change_log_head has no row: migration 003 was not applied")
        position: int = row["position"]
        return position

    def after(
        self, *, position: int, limit: int, application_id: str | None = None
    ) -> list[Change]:
        """Changes after `position`, oldest first (of one application, if given)."""
        parameters = {"after": position, "limit": limit, "application_id": application_id}
        with self._connection.cursor(cursor_factory=RealDictCursor) as cursor:
            cursor.execute(SELECT_CHANGES_AFTER, parameters)
            return [change_from_row(row) for row in cursor.fetchall()]

    def bounds(self) -> tuple[int, int | None]:
        """(head, oldest kept position): the last position handed out, and where the log starts
        (None when every record has been pruned)."""
        with self._connection.cursor(cursor_factory=RealDictCursor) as cursor:
            cursor.execute(SELECT_BOUNDS)
            row = cursor.fetchone()
        if row is None:
            raise RuntimeError("a query of aggregates returned no row")
        return int(row["head"]), row["oldest"]

    def configurations_of(self, *, application_id: str) -> list[ChangeEntry]:
        """`deleted` entries for every configuration of an application about to be deleted."""
        with self._connection.cursor(cursor_factory=RealDictCursor) as cursor:
            cursor.execute(SELECT_CONFIGURATIONS_OF_APPLICATION, {"application_id": application_id})
            return [
                ChangeEntry(kind=ChangeKind.DELETED, configuration_id=row["id"], name=row["name"])
                for row in cursor.fetchall()
            ]

    def prune(self, *, recorded_before: datetime, batch: int) -> int:
        """Delete up to `batch` of the oldest records recorded before the cutoff; how many."""
        with self._connection.cursor() as cursor:
            cursor.execute(PRUNE_CHANGES, {"cutoff": recorded_before, "batch": batch})
            return int(cursor.rowcount)
