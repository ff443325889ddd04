"""A unit of work: one transaction, and the repositories that work in it.

Services open one with `with self._unit_of_work() as uow:` and reach the data through
`uow.applications` and `uow.configurations`; the transaction commits when the block ends and
rolls back when it raises. A new repository is added here, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from database.pool import Connection, Database
from repositories.application_repository import ApplicationRepository
from repositories.configuration_repository import ConfigurationRepository


class UnitOfWork:
    def __init__(self, connection: Connection) -> None:
        self.applications = ApplicationRepository(connection)
        self.configurations = ConfigurationRepository(connection)


UnitOfWorkFactory = Callable[[], AbstractContextManager[UnitOfWork]]


def unit_of_work_factory(database: Database) -> UnitOfWorkFactory:
    """Units of work on pooled connections of `database`, one transaction each."""

    @contextmanager
    def open_unit_of_work() -> Iterator[UnitOfWork]:
        with database.transaction() as connection:
            yield UnitOfWork(connection)

    return open_unit_of_work
