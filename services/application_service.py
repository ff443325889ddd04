"""Use cases for applications; each attempt runs in one unit of work."""

from __future__ import annotations

from models.application import Application, ApplicationCreate, ApplicationDetail, ApplicationUpdate
from models.audit import Actor, AuditAction, AuditEntry, TargetType
from models.change import ChangeEntry, ChangeKind
from models.page import Page
from models.versioned import Precondition, Versioned, last_writer_wins
from repositories import change_log_repository
from repositories.errors import DuplicateKey
from repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from services.errors import (
    ApplicationNameTaken,
    ApplicationNotFound,
    ApplicationTooLargeToDelete,
)
from services.ids import new_id
from services.preconditions import check_precondition
from services.write_retry import StaleRead, retry_write

RESOURCE = "application"


def _detail(
    application: Versioned[Application], configuration_ids: list[str]
) -> Versioned[ApplicationDetail]:
    detail = ApplicationDetail(
        **application.value.model_dump(), configuration_ids=configuration_ids
    )
    return Versioned(detail, version=application.version)


def _current(
    uow: UnitOfWork, application_id: str, precondition: Precondition | None
) -> Versioned[Application]:
    """The application as the write finds it, locked unless the write is a pure
    compare-and-set; raises when it is missing or not what the write expects."""
    current = uow.applications.get(
        application_id=application_id, lock=last_writer_wins(precondition)
    )
    if current is None:
        raise ApplicationNotFound(application_id)
    check_precondition(precondition, current, resource=RESOURCE, resource_id=application_id)
    return current


def _audit(
    uow: UnitOfWork,
    actor: Actor,
    action: AuditAction,
    application_id: str,
    *,
    before: int | None,
    after: int | None,
) -> None:
    entry = AuditEntry(
        action=action,
        target_type=TargetType.APPLICATION,
        target_id=application_id,
        application_id=application_id,
        revision_before=before,
        revision_after=after,
    )
    uow.audit.append(actor=actor, entry=entry)


class ApplicationService:
    def __init__(self, unit_of_work: UnitOfWorkFactory, *, actor: Actor) -> None:
        """`actor`: who the writes are made for; each one is audited in its transaction."""
        self._unit_of_work = unit_of_work
        self._actor = actor

    def create(self, *, data: ApplicationCreate) -> Versioned[ApplicationDetail]:
        def attempt(uow: UnitOfWork) -> Versioned[Application] | None:
            created = uow.applications.add(
                application_id=new_id(), name=data.name, comments=data.comments
            )
            if created is not None:
                action = AuditAction.APPLICATION_CREATED
                _audit(uow, self._actor, action, created.value.id, before=None, after=1)
            return created

        created = retry_write(self._unit_of_work, attempt)
        if created is None:
            raise ApplicationNameTaken(data.name)
        return _detail(created, [])

    def get(self, *, application_id: str) -> Versioned[ApplicationDetail]:
        with self._unit_of_work() as uow:
            application = uow.applications.get(application_id=application_id)
            if application is None:
                raise ApplicationNotFound(application_id)
            return _detail(
                application, uow.applications.configuration_ids(application_id=application_id)
            )

    def list(
        self,
        *,
        after: str | None,
        limit: int,
        name: str | None,
        only: frozenset[str] | None = None,
    ) -> Page[Application]:
        """`only`: just these applications (what a scoped key may read); None: all."""
        chosen = None if only is None else sorted(only)
        with self._unit_of_work() as uow:
            rows = uow.applications.list_page(after=after, limit=limit + 1, name=name, only=chosen)
        return Page.from_rows(
            [row.value for row in rows], limit=limit, cursor=lambda application: application.id
        )

    def update(
        self,
        *,
        application_id: str,
        changes: ApplicationUpdate,
        precondition: Precondition | None = None,
    ) -> Versioned[ApplicationDetail]:
        """Compare-and-set on the version read: a concurrent change makes the write retry
        (when it expects no particular version) or fail with PreconditionFailed."""

        def attempt(uow: UnitOfWork) -> Versioned[ApplicationDetail]:
            current = _current(uow, application_id, precondition)
            provided = changes.model_fields_set
            name = changes.name if "name" in provided else current.value.name
            comments = changes.comments if "comments" in provided else current.value.comments
            written: Versioned[Application] | None = current
            if (name, comments) != (current.value.name, current.value.comments):
                try:
                    written = uow.applications.update_if_version(
                        application_id=application_id,
                        expected_version=current.version,
                        name=name,
                        comments=comments,
                    )
                except DuplicateKey as error:
                    raise ApplicationNameTaken(name) from error
            if written is None:
                raise StaleRead(resource=RESOURCE, resource_id=application_id)
            if written is not current:
                revisions = {"before": current.value.revision, "after": written.value.revision}
                action = AuditAction.APPLICATION_UPDATED
                _audit(uow, self._actor, action, application_id, **revisions)
            ids = uow.applications.configuration_ids(application_id=application_id)
            if name != current.value.name:
                # Clients find configurations by application name: caches must know.
                uow.change_log.append(
                    application_id=application_id,
                    entries=[ChangeEntry(kind=ChangeKind.APPLICATION_RENAMED)],
                )
            return _detail(written, ids)

        return retry_write(self._unit_of_work, attempt)

    def delete(self, *, application_id: str, precondition: Precondition | None = None) -> None:
        def attempt(uow: UnitOfWork) -> None:
            uow.applications.wait_for_configuration_writers(application_id=application_id)
            current = _current(uow, application_id, precondition)
            # Creating a configuration changes the version, so this list stays complete.
            deleted = uow.change_log.configurations_of(application_id=application_id)
            # One record per configuration and one for the application, in one transaction.
            most = change_log_repository.MAX_RECORDS_PER_TRANSACTION
            if len(deleted) + 1 > most:
                raise ApplicationTooLargeToDelete(
                    application_id=application_id, configurations=len(deleted), most=most - 1
                )
            if not uow.applications.delete_if_version(
                application_id=application_id, expected_version=current.version
            ):
                raise StaleRead(resource=RESOURCE, resource_id=application_id)
            before = current.value.revision
            action = AuditAction.APPLICATION_DELETED
            _audit(uow, self._actor, action, application_id, before=before, after=None)
            uow.change_log.append(
                application_id=application_id,
                entries=[*deleted, ChangeEntry(kind=ChangeKind.APPLICATION_DELETED)],
            )

        retry_write(self._unit_of_work, attempt)
