"""Waiting for the change log to be final up to now, for tests that read it right after writing.

The log is read only below the oldest running transaction of the whole PostgreSQL server
(repositories/change_log_repository.py), and tests of other databases run on the same server at
the same time: a test that wrote and reads at once may find its changes not final yet. This
waits, bounded, until every transaction that began before the call has ended.
"""

from __future__ import annotations

import time

from database.pool import Connection, Database
from repositories.change_log_repository import ORDINAL_BITS, ChangeLogRepository

WAIT_SECONDS = 30.0


def wait_until_final(database: Database) -> int:
    """Wait until every change committed before the call can be read; returns the log's head."""
    with database.connection() as connection:
        return wait_until_final_on(connection)


def wait_until_final_on(connection: Connection) -> int:
    """`wait_until_final` on a connection of one's own (each query is committed at once: a
    transaction that holds an id would hold the log back itself)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint")
        row = cursor.fetchone()
    connection.commit()
    assert row is not None  # noqa: S101 (test support)  # nosec B101
    now = int(row[0]) << ORDINAL_BITS
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        head = ChangeLogRepository(connection).bounds().head
        connection.commit()
        if head >= now:
            return head
        if time.monotonic() > deadline:
            raise TimeoutError(f"the change log stayed below position {now} (head {head})")
        time.sleep(0.01)
