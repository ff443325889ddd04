"""The one classification of psycopg2 errors: what the service layers see instead of a driver
error, the metrics label of each, and whether the connection that raised it is dead."""

from __future__ import annotations

from collections.abc import Callable

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from database.errors import (
    ConstraintConflict,
    DatabaseUnavailable,
    TransactionConflict,
    UnstorableValue,
)


def is_connection_failure(error: psycopg2.Error) -> bool:
    """Whether the connection that raised `error` is dead and must not go back to the pool."""
    if isinstance(error, psycopg2.InterfaceError):
        return True
    if not isinstance(error, psycopg2.OperationalError):
        return False
    # No SQLSTATE means the client noticed a dead link; class 08 and 57P0x mean the server
    # dropped the session. Other errors (query canceled, lock not available) leave it usable.
    code = error.pgcode
    return code is None or code.startswith(("08", "57P"))


# The one classification of driver errors, first match wins: the kind a listener is told (a
# metrics label, one of ERROR_KINDS) and what the service layers see instead of the driver error.
_CLASSIFICATION: list[tuple[type[psycopg2.Error], str, Callable[[], Exception]]] = [
    (
        psycopg2.errors.QueryCanceled,
        "statement_timeout",
        lambda: DatabaseUnavailable("the database did not answer within the statement timeout"),
    ),
    (
        psycopg2.errors.LockNotAvailable,
        "lock_timeout",
        lambda: DatabaseUnavailable("the data is locked by another operation; try again"),
    ),
    (
        psycopg2.extensions.TransactionRollbackError,
        "serialization",
        lambda: TransactionConflict("the write collided with a concurrent one; try again"),
    ),
    (
        psycopg2.OperationalError,
        "connection",
        lambda: DatabaseUnavailable("the database is unreachable", retry_after_seconds=2),
    ),
    (
        psycopg2.InterfaceError,
        "connection",
        lambda: DatabaseUnavailable("the database is unreachable", retry_after_seconds=2),
    ),
    (
        psycopg2.IntegrityError,
        "integrity",
        lambda: ConstraintConflict("the change conflicts with the current state of the data"),
    ),
    (
        psycopg2.DataError,
        "data",
        lambda: UnstorableValue("a value cannot be stored by the database"),
    ),
]


def classify_database_error(error: psycopg2.Error) -> str:
    """A small, fixed vocabulary (ERROR_KINDS, a metrics label); the first match wins."""
    for driver_error, kind, _ in _CLASSIFICATION:
        if isinstance(error, driver_error):
            return kind
    return "other"


def translate_database_error(error: psycopg2.Error) -> Exception:
    """Map a driver error onto what the service layers understand (first match wins)."""
    for driver_error, _, translated in _CLASSIFICATION:
        if isinstance(error, driver_error):
            return translated()
    return error
