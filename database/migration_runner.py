"""Numbered SQL migrations: `NNN_name.sql` files applied in order, recorded in schema_migrations.

Each migration runs in a transaction of its own together with its history row, so it is applied
entirely or not at all. Migration files must therefore not manage transactions themselves (no
BEGIN/COMMIT, no CREATE INDEX CONCURRENTLY). An applied file is never edited: the runner refuses
to go on when one changed or disappeared, because the database would no longer match the code.

Connection failures surface as psycopg2.OperationalError, so callers can tell "database down"
from "schema wrong" (MigrationError).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import psycopg2.extensions

from database.migration_files import (
    AppliedMigration,
    Migration,
    MigrationError,
    MigrationStatus,
    compare_with_history,
    discover_migrations,
)

MIGRATIONS_DIRECTORY = Path(__file__).resolve().parent / "migrations"

# Arbitrary but fixed: every runner of this service must take the same session-level lock so
# that concurrent runs queue up instead of applying a file twice.
ADVISORY_LOCK_KEY = 4_387_295_117_062_913_021

LOCK_SQL = "SELECT pg_advisory_lock(%(key)s)"

CREATE_HISTORY_SQL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""

HISTORY_EXISTS_SQL = "SELECT to_regclass('schema_migrations') IS NOT NULL"

SELECT_HISTORY_SQL = "SELECT version, name, checksum FROM schema_migrations ORDER BY version"

INSERT_HISTORY_SQL = """
INSERT INTO schema_migrations (version, name, checksum)
VALUES (%(version)s, %(name)s, %(checksum)s)
"""

DELETE_HISTORY_SQL = "DELETE FROM schema_migrations WHERE version = %(version)s"

Connection = psycopg2.extensions.connection


class MigrationRunner:
    """Applies, reverts and reports the migrations in `directory` on the database at `dsn`."""

    def __init__(
        self,
        dsn: str,
        directory: Path = MIGRATIONS_DIRECTORY,
        *,
        connect_timeout_seconds: int = 5,
    ) -> None:
        self._dsn = dsn
        self._directory = directory
        self._connect_timeout_seconds = connect_timeout_seconds

    def status(self) -> MigrationStatus:
        """Compare files and history. Read-only: creates nothing and takes no lock."""
        migrations = discover_migrations(self._directory)
        with self._connect() as connection:
            connection.set_session(readonly=True, autocommit=True)
            history = _read_history(connection)
        return compare_with_history(migrations, history)

    def up(self) -> list[str]:
        """Apply every pending migration in version order; return the names applied."""
        migrations = discover_migrations(self._directory)
        with self._locked_connection() as connection:
            history = _read_history(connection)
            _refuse_inconsistent_history(migrations, history)
            recorded = {row.version for row in history}
            applied = []
            for migration in migrations:
                if migration.version not in recorded:
                    _run_in_transaction(
                        connection,
                        path=migration.up_path,
                        content=migration.content,
                        history_sql=INSERT_HISTORY_SQL,
                        history_parameters={
                            "version": migration.version,
                            "name": migration.name,
                            "checksum": migration.checksum,
                        },
                    )
                    applied.append(migration.name)
            return applied

    def down(self, steps: int = 1) -> list[str]:
        """Revert the `steps` highest applied versions, newest first; return their names."""
        if steps < 1:
            raise MigrationError(f"steps must be at least 1 (got {steps})")
        migrations = discover_migrations(self._directory)
        by_version = {migration.version: migration for migration in migrations}
        with self._locked_connection() as connection:
            history = _read_history(connection)
            _refuse_inconsistent_history(migrations, history)
            to_revert = [by_version[row.version] for row in reversed(history)][:steps]
            without_down = [migration.name for migration in to_revert if not migration.down_path]
            if without_down:
                raise MigrationError(
                    f"cannot revert {', '.join(without_down)}: no down file "
                    f"({', '.join(f'{name}.down.sql' for name in without_down)}); "
                    "nothing was reverted"
                )
            reverts = [(m, m.down_path) for m in to_revert if m.down_path is not None]
            for migration, down_path in reverts:
                _run_in_transaction(
                    connection,
                    path=down_path,
                    content=down_path.read_bytes(),
                    history_sql=DELETE_HISTORY_SQL,
                    history_parameters={"version": migration.version},
                )
            return [migration.name for migration in to_revert]

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        connection = psycopg2.connect(
            self._dsn,
            application_name="config-service-migrate",
            connect_timeout=self._connect_timeout_seconds,
        )
        try:
            yield connection
        finally:
            connection.close()

    @contextmanager
    def _locked_connection(self) -> Iterator[Connection]:
        """A connection holding the migration lock, with the history table in place.

        The lock is session-level, so it outlives the per-migration transactions; closing the
        connection releases it, even when the run fails half-way.
        """
        with self._connect() as connection:
            with connection.cursor() as cursor:
                cursor.execute(LOCK_SQL, {"key": ADVISORY_LOCK_KEY})
                cursor.execute(CREATE_HISTORY_SQL)
            connection.commit()
            yield connection


def _read_history(connection: Connection) -> list[AppliedMigration]:
    with connection.cursor() as cursor:
        cursor.execute(HISTORY_EXISTS_SQL)
        row = cursor.fetchone()
        if row is None or not row[0]:
            return []
        cursor.execute(SELECT_HISTORY_SQL)
        return [
            AppliedMigration(version=version, name=name, checksum=checksum)
            for version, name, checksum in cursor.fetchall()
        ]


def _refuse_inconsistent_history(
    migrations: list[Migration], history: list[AppliedMigration]
) -> None:
    status = compare_with_history(migrations, history)
    reasons = []
    if status.changed:
        files = ", ".join(f"{name}.sql" for name in status.changed)
        reasons.append(
            f"{files} changed after being applied; restore the applied content and write a new "
            "migration for the change instead"
        )
    if status.missing:
        reasons.append(
            f"{', '.join(status.missing)} applied to this database but not found in "
            f"the migrations directory; restore the file (or run newer code)"
        )
    if reasons:
        raise MigrationError(f"refusing to migrate, nothing was done: {'; '.join(reasons)}")


def _run_in_transaction(
    connection: Connection,
    *,
    path: Path,
    content: bytes,
    history_sql: str,
    history_parameters: dict[str, object],
) -> None:
    """Run a migration file and its history change together: both commit, or neither."""
    try:
        sql_text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MigrationError(f"{path.name} is not valid UTF-8: {error}") from None
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql_text)
            cursor.execute(history_sql, history_parameters)
        connection.commit()
    except psycopg2.Error as error:
        connection.rollback()
        raise MigrationError(
            f"{path.name} failed and was rolled back: {str(error).strip()}"
        ) from error
