"""PostgreSQL sessions opened in the benchmark's database (`pg_stat_database.sessions`), read
over a connection to the maintenance database so that reading them opens none of its own.

PostgreSQL counts a session when the backend reports its statistics: at its end, or within
about a second of going idle, so a session opened at the very end of one figure may be counted
in the next."""

from __future__ import annotations

from types import TracebackType

import psycopg2

from testing.databases import database_name, server_dsn


class SessionCounter:
    def __init__(self, database_url: str) -> None:
        self._database = database_name(database_url)
        self._connection = psycopg2.connect(server_dsn(database_url))
        self._connection.autocommit = True

    def __enter__(self) -> SessionCounter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._connection.close()

    def opened(self) -> int:
        """Sessions opened in the database since statistics began."""
        with self._connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT sessions FROM pg_stat_database WHERE datname = %(name)s",
                {"name": self._database},
            )
            row = cursor.fetchone()
        return int(row[0]) if row is not None and row[0] is not None else 0

    def server_version(self) -> str:
        with self._connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            row = cursor.fetchone()
        return str(row[0]).split()[0] if row is not None else "unknown"
