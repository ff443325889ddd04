"""A unit of work: one transaction, and the repositories that work in it.

Services open one with `with self._unit_of_work() as uow:` and reach the data through
`uow.applications`, `uow.configurations`, `uow.api_keys`, `uow.bindings`, `uow.secrets`,
`uow.audit` and `uow.change_log`; the transaction commits when the block ends and rolls back
when it raises. A new repository is added here, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from database.pool import Connection, Database
from repositories.api_key_repository import ApiKeyRepository
from repositories.application_repository import ApplicationRepository
from repositories.audit_repository import AuditRepository
from repositories.binding_repository import BindingRepository
from repositories.change_log_repository import ChangeLogRepository
from repositories.configuration_repository import ConfigurationRepository
from repositories.secret_repository import SecretRepository


class UnitOfWork:
    def __init__(self, connection: Connection) -> None:
        self.applications = ApplicationRepository(connection)
        self.configurations = ConfigurationRepository(connection)
        self.api_keys = ApiKeyRepository(connection)
        self.secrets = SecretRepository(connection)

        self.bindings = BindingRepository(connection)
        # Every change appends its record here, in its own transaction (before the change log).
        self.audit = AuditRepository(connection)
        # Appends must come last in a writing transaction (see change_log_repository.py).
        self.change_log = ChangeLogRepository(connection)


UnitOfWorkFactory = Callable[[], AbstractContextManager[UnitOfWork]]


def unit_of_work_factory(database: Database) -> UnitOfWorkFactory:
    """Units of work on pooled connections of `database`, one transaction each."""

    @contextmanager
    def open_unit_of_work() -> Iterator[UnitOfWork]:
        with database.transaction() as connection:
            yield UnitOfWork(connection)

    return open_unit_of_work
