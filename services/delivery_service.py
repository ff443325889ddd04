"""Reads for delivery: configurations by id and by name, older revisions, who owns what, and
the change log.

Plain sync code over the pool (each read is one short transaction); the waiting and streaming
around it is async and lives in delivery/.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.change import Change
from models.configuration import Configuration, ConfigurationRevision
from repositories.change_log_repository import ChangeLogRepository, CommittedBefore, LogBounds
from repositories.unit_of_work import UnitOfWorkFactory
from services.errors import (
    ApplicationNameNotFound,
    ApplicationNotFound,
    ChangePositionExpired,
    ConfigurationNameNotFound,
    ConfigurationNotFound,
    RevisionNotFound,
)

PRUNE_BATCH = 1000


class DeliveryService:
    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._unit_of_work = unit_of_work

    def get(self, *, configuration_id: str) -> Configuration:
        with self._unit_of_work() as uow:
            found = uow.configurations.get(configuration_id=configuration_id)
        if found is None:
            raise ConfigurationNotFound(configuration_id)
        return found

    def get_by_names(self, *, application_name: str, name: str) -> Configuration:
        with self._unit_of_work() as uow:
            exists, found = uow.configurations.get_by_names(
                application_name=application_name, name=name
            )
        if not exists:
            raise ApplicationNameNotFound(application_name)
        if found is None:
            raise ConfigurationNameNotFound(application_name=application_name, name=name)
        return found

    def get_revision_by_names(
        self, *, application_name: str, name: str, revision: int
    ) -> ConfigurationRevision:
        with self._unit_of_work() as uow:
            repository = uow.configurations
            found = repository.get_revision_by_names(
                application_name=application_name, name=name, revision=revision
            )
            if found is not None:
                return found
            exists, current = repository.get_by_names(application_name=application_name, name=name)
        if not exists:
            raise ApplicationNameNotFound(application_name)
        if current is None:
            raise ConfigurationNameNotFound(application_name=application_name, name=name)
        raise RevisionNotFound(configuration_id=current.id, revision=revision)

    def owner_of(self, *, configuration_id: str) -> str | None:
        """The id of the application the configuration belongs to; None when it does not
        exist."""
        with self._unit_of_work() as uow:
            return uow.applications.owner_of_configuration(configuration_id=configuration_id)

    def application_id_by_name(self, *, name: str) -> str | None:
        with self._unit_of_work() as uow:
            return uow.applications.id_by_name(name=name)

    def check_application(self, *, application_id: str) -> None:
        with self._unit_of_work() as uow:
            if uow.applications.get(application_id=application_id) is None:
                raise ApplicationNotFound(application_id)

    def committed_now(self) -> CommittedBefore:
        """What has committed by now: a stream that starts live skips those changes, which
        the listener may publish a little later (once no older transaction runs)."""
        with self._unit_of_work() as uow:
            return uow.change_log.committed_now()

    def changes_after(
        self, *, position: int, limit: int, application_id: str | None = None
    ) -> list[Change]:
        """Every final change after `position` (up to `limit`), in position order; raises
        ChangePositionExpired when the log cannot tell what happened right after it."""
        with self._unit_of_work() as uow:
            return read_changes_after(
                uow.change_log,
                position=position,
                limit=limit,
                application_id=application_id,
            )


def read_changes_after(
    change_log: ChangeLogRepository,
    *,
    position: int,
    limit: int,
    application_id: str | None = None,
) -> list[Change]:
    changes, _ = read_changes_and_bounds(
        change_log, position=position, limit=limit, application_id=application_id
    )
    return changes


def read_changes_and_bounds(
    change_log: ChangeLogRepository,
    *,
    position: int,
    limit: int,
    application_id: str | None = None,
) -> tuple[list[Change], LogBounds]:
    """The final changes after `position` and the log's bounds as read just after them;
    raises ChangePositionExpired when `position` is outside them."""
    changes = change_log.after(position=position, limit=limit, application_id=application_id)
    # Read after the changes: the watermark only rises, so if `position` is still at or above
    # it now, nothing after `position` had been pruned when the changes were read.
    bounds = change_log.bounds()
    if not bounds.pruned <= position <= bounds.head:
        raise ChangePositionExpired(position=position, pruned=bounds.pruned, head=bounds.head)
    return changes, bounds


def prune_change_log(change_log: ChangeLogRepository, *, retention: timedelta) -> int:
    """Drop records older than `retention` in bounded batches (each its own statement, so run
    it on an autocommit connection); how many were dropped."""
    cutoff = datetime.now(UTC) - retention
    dropped = 0
    while True:
        count = change_log.prune(recorded_before=cutoff, batch=PRUNE_BATCH)
        dropped += count
        if count < PRUNE_BATCH:
            return dropped
