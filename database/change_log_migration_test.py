"""Migration 008_change_log_by_transaction on a real PostgreSQL: a log written under 003's
counter carries on, with what was pruned remembered, and the down migration gives the counter
back above every position handed out."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from database.migration_files import discover_migrations
from database.migration_runner import MIGRATIONS_DIRECTORY, MigrationRunner
from database.pool import connect
from models.change import ChangeEntry, ChangeKind
from repositories.change_log_repository import ORDINAL_BITS, ChangeLogRepository
from services.delivery_service import read_changes_after
from services.errors import ChangePositionExpired
from testing.change_log import wait_until_final_on
from testing.databases import run_sql

APPLICATION = "01JQ3V6KX8Q7M4Z2W9R5T1N0BC"
OLD_RECORDS = (
    "INSERT INTO change_log (position, application_id, configuration_id, kind, revision)"
    " VALUES (2, %(application)s, 'c', 'updated', 2), (3, %(application)s, 'c', 'updated', 3);"
    " UPDATE change_log_head SET position = 3"
)


def test_a_log_kept_by_the_counter_carries_on_after_008_and_back(
    empty_database_url: str, tmp_path: Path
) -> None:
    for migration in discover_migrations(MIGRATIONS_DIRECTORY):
        if migration.version < 8:
            shutil.copy(migration.up_path, tmp_path)
    MigrationRunner(empty_database_url, tmp_path).up()
    # Position 1 was pruned under 003: the log starts at 2.
    run_sql(empty_database_url, OLD_RECORDS, {"application": APPLICATION})

    assert MigrationRunner(empty_database_url).up() == ["008_change_log_by_transaction"]

    assert run_sql(empty_database_url, "SELECT position FROM change_log_pruned") == [(1,)]
    assert run_sql(empty_database_url, "SELECT to_regclass('change_log_head')") == [(None,)]
    connection = connect(empty_database_url)
    try:
        entry = ChangeEntry(kind=ChangeKind.UPDATED, configuration_id="c", revision=4)
        with connection:
            appended = ChangeLogRepository(connection).append(
                application_id=APPLICATION, entries=[entry]
            )
        assert appended % 2**ORDINAL_BITS == 1
        wait_until_final_on(connection)
        with connection:
            log = ChangeLogRepository(connection)
            resumed = read_changes_after(log, position=1, limit=10)
            assert [(change.position, change.revision) for change in resumed] == [
                (2, 2),
                (3, 3),
                (appended, 4),
            ]
            with pytest.raises(ChangePositionExpired) as expired:
                read_changes_after(log, position=0, limit=10)  # position 1 was pruned
            assert expired.value.head >= appended
    finally:
        connection.close()

    MigrationRunner(empty_database_url).down()
    assert run_sql(empty_database_url, "SELECT position FROM change_log_head") == [(appended,)]
    assert run_sql(empty_database_url, "SELECT to_regclass('change_log_pruned')") == [(None,)]
