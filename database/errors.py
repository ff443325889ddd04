"""Database failures, in terms the rest of the service can act on without knowing psycopg2."""

from __future__ import annotations


class DatabaseError(Exception):
    """Base class for the failures below."""


class DatabaseUnavailable(DatabaseError):
    """The database could not be reached, dropped the connection or did not answer in time.

    The request may be retried; nothing was committed unless the failure hit the commit itself.
    """

    def __init__(self, reason: str, *, retry_after_seconds: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds


class PoolExhausted(DatabaseUnavailable):
    """Every pooled connection stayed busy for the whole configured wait."""


class TransactionConflict(DatabaseUnavailable):
    """A serialization failure or deadlock (SQLSTATE 40001, 40P01): the whole unit of work can
    be run again, which services/write_retry.py does a few times before giving up."""


class ConstraintConflict(DatabaseError):
    """A write broke a uniqueness or reference rule that a service did not anticipate."""


class UnstorableValue(DatabaseError):
    """PostgreSQL refused a value (for example text it cannot encode)."""
