"""Throw-away databases for the test suite, on the embedded server or on DATABASE_URL's, and
a way to see sessions queue for locks.

Tests never use the development database itself: each gets a database of its own, created from
template0 and dropped afterwards.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import make_dsn, parse_dsn


def with_database_name(dsn: str, name: str) -> str:
    """The same server and credentials as `dsn`, another database."""
    return make_dsn(dsn, dbname=name)


def server_dsn(dsn: str) -> str:
    """Where to run CREATE/DROP DATABASE: the `postgres` maintenance database."""
    return with_database_name(dsn, "postgres")


@contextmanager
def temporary_database(dsn: str, *, prefix: str = "config_service_test") -> Iterator[str]:
    """Create an empty database next to `dsn`'s, yield its DSN, drop it afterwards."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = psycopg2.connect(server_dsn(dsn))
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                    sql.Identifier(name)
                )
            )
        yield with_database_name(dsn, name)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        admin.close()


def database_name(dsn: str) -> str:
    return str(parse_dsn(dsn).get("dbname", ""))


def wait_for_lock_waiters(database_url: str, count: int) -> None:
    """Until `count` sessions of this database wait for a lock, as PostgreSQL reports it."""
    watcher = psycopg2.connect(database_url)
    watcher.autocommit = True
    try:
        with watcher.cursor() as cursor:
            for _ in range(3000):
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
                row = cursor.fetchone()
                if row is not None and row[0] >= count:
                    return
                time.sleep(0.01)
        raise AssertionError(f"{count} lock waiters never appeared")
    finally:
        watcher.close()


def run_sql(dsn: str, statement: str, parameters: dict[str, Any] | None = None) -> list[Any]:
    """Run one statement on a connection of its own, committed; the rows it returned, if any."""
    connection = psycopg2.connect(dsn)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(statement, parameters)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()
