"""SQL for the change log. Rows in, models out; never commits.

A record's position is `(writing transaction's id << ORDINAL_BITS) + its ordinal` (migration
008): writers take no shared lock, and ordering by position is ordering by transaction id. A
reader reads only below the frontier, `pg_snapshot_xmin(pg_current_snapshot()) << ORDINAL_BITS`:
every transaction below it has ended and every later writer gets a larger id, so the log below
the frontier is final and resuming "after position P" skips nothing, whatever the commit order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg2.extras import RealDictCursor

from database.pool import Connection
from models.change import Change, ChangeEntry, ChangeKind

NOTIFY_CHANNEL = "config_changes"

# Room for 2**20 - 1 records in one transaction (deleting an application records one per
# configuration), and for transaction ids up to 2**43 before a position leaves bigint.
ORDINAL_BITS = 20
MAX_RECORDS_PER_TRANSACTION = 2**ORDINAL_BITS - 1

# In the SQL below, `<< 20` is ORDINAL_BITS, and the frontier (the first position no reader
# may read yet: the snapshot's oldest running transaction) is spelt out as
# `(pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 20)`.

# An append carries on from the last position this transaction has appended (a transaction
# may append more than once: a bulk load, say), or from its first ordinal: one probe of the
# primary key, as only this transaction writes positions in its range. The update statement in
# configuration_repository.py spells out the same subquery.
# One statement: the records, and the notification that PostgreSQL delivers on commit.
APPEND_CHANGES = """
    WITH appended AS (
        INSERT INTO change_log
            (position, application_id, configuration_id, configuration_name, kind, revision)
        SELECT (
                   SELECT coalesce(max(position), pg_current_xact_id()::text::bigint << 20)
                   FROM change_log
                   WHERE position >= (pg_current_xact_id()::text::bigint << 20)
                     AND position < ((pg_current_xact_id()::text::bigint + 1) << 20)
               ) + entry.number,
               %(application_id)s, entry.configuration_id, entry.name, entry.kind,
               entry.revision
        FROM unnest(%(configuration_ids)s::text[], %(names)s::text[], %(kinds)s::text[],
                    %(revisions)s::integer[])
                 WITH ORDINALITY AS entry(configuration_id, name, kind, revision, number)
        RETURNING position
    )
    SELECT pg_notify('config_changes', max(position)::text), max(position) AS position
    FROM appended
"""

SELECT_CHANGES_AFTER = """
    SELECT position, application_id, configuration_id, configuration_name, kind, revision
    FROM change_log
    WHERE position > %(after)s
      AND position < (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 20)
      AND (%(application_id)s::text IS NULL OR application_id = %(application_id)s)
    ORDER BY position
    LIMIT %(limit)s
"""

SELECT_BOUNDS = """
    SELECT (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 20) - 1 AS head,
           (SELECT position FROM change_log_pruned) AS pruned,
           EXISTS (
               SELECT 1 FROM change_log
               WHERE position >= (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 20)
           ) AS pending
"""

SELECT_SNAPSHOT = """
    SELECT pg_snapshot_xmin(snapshot)::text::bigint AS oldest_running,
           pg_snapshot_xmax(snapshot)::text::bigint AS next_id,
           ARRAY(SELECT pg_snapshot_xip(snapshot)::text::bigint) AS running
    FROM pg_current_snapshot() AS snapshot
"""

SELECT_CONFIGURATIONS_OF_APPLICATION = """
    SELECT id, name
    FROM configurations
    WHERE application_id = %(application_id)s
    ORDER BY id
"""

# Deletes a prefix of the final part of the log (at most `batch` records) and raises the
# watermark to the highest position it dropped: everything above the watermark is kept. Only
# below the frontier, so that a slow transaction's record can never commit below the watermark.
PRUNE_CHANGES = """
    WITH oldest AS (
        SELECT position, recorded_at FROM change_log
        WHERE position < (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 20)
        ORDER BY position LIMIT %(batch)s
    ), first_kept AS (
        SELECT min(position) AS position FROM oldest WHERE recorded_at >= %(cutoff)s
    ), dropped AS (
        DELETE FROM change_log
        WHERE position IN (
            SELECT position FROM oldest
            WHERE position < coalesce((SELECT position FROM first_kept), 9223372036854775807)
        )
        RETURNING position
    ), watermark AS (
        UPDATE change_log_pruned
        SET position = greatest(position, (SELECT max(position) FROM dropped))
        WHERE EXISTS (SELECT 1 FROM dropped)
    )
    SELECT count(*) AS dropped FROM dropped
"""


@dataclass(frozen=True)
class LogBounds:
    """What a reader may ask for: the positions after `pruned`, up to `head` (the frontier, less
    one); `pending`: committed records above the head wait for an older transaction to end."""

    head: int
    pruned: int
    pending: bool


@dataclass(frozen=True)
class CommittedBefore:
    """Which transactions had committed at one moment (a snapshot): those below
    `oldest_running`, and those below `next_id` that are not `running`."""

    oldest_running: int
    next_id: int
    running: frozenset[int]

    def holds(self, position: int) -> bool:
        """Whether the change at `position` had committed by then."""
        transaction = position >> ORDINAL_BITS
        if transaction < self.oldest_running:
            return True
        return transaction < self.next_id and transaction not in self.running


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
        position. At most once per transaction (positions count from the transaction's id)."""
        if not 1 <= len(entries) <= MAX_RECORDS_PER_TRANSACTION:
            raise ValueError(
                f"a transaction records 1 to {MAX_RECORDS_PER_TRANSACTION} changes "
                f"(got {len(entries)})"
            )
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
        if row is None or row["position"] is None:
            raise RuntimeError("appending to the change log recorded nothing")
        position: int = row["position"]
        return position

    def after(
        self, *, position: int, limit: int, application_id: str | None = None
    ) -> list[Change]:
        """Final changes after `position`, oldest first (of one application, if given)."""
        parameters = {"after": position, "limit": limit, "application_id": application_id}
        with self._connection.cursor(cursor_factory=RealDictCursor) as cursor:
            cursor.execute(SELECT_CHANGES_AFTER, parameters)
            return [change_from_row(row) for row in cursor.fetchall()]

    def bounds(self) -> LogBounds:
        with self._connection.cursor(cursor_factory=RealDictCursor) as cursor:
            cursor.execute(SELECT_BOUNDS)
            row = cursor.fetchone()
        if row is None or row["pruned"] is None:
            raise RuntimeError("change_log_pruned has no row: migration 008 was not applied")
        return LogBounds(head=int(row["head"]), pruned=int(row["pruned"]), pending=row["pending"])

    def committed_now(self) -> CommittedBefore:
        with self._connection.cursor(cursor_factory=RealDictCursor) as cursor:
            cursor.execute(SELECT_SNAPSHOT)
            row = cursor.fetchone()
        if row is None:
            raise RuntimeError("a query of the current snapshot returned no row")
        return CommittedBefore(
            oldest_running=int(row["oldest_running"]),
            next_id=int(row["next_id"]),
            running=frozenset(int(running) for running in row["running"]),
        )

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
            row = cursor.fetchone()
        return 0 if row is None else int(row[0])
