"""Use cases for applications; each runs in one transaction."""

from __future__ import annotations

from database.pool import Database
from models.application import Application, ApplicationCreate, ApplicationDetail, ApplicationUpdate
from models.page import Page
from models.versioned import Precondition, Versioned, last_writer_wins
from repositories.application_repository import ApplicationRepository
from repositories.errors import DuplicateKey
from services.errors import (
    ApplicationNameTaken,
    ApplicationNotFound,
    ConcurrentModification,
    PreconditionFailed,
)
from services.ids import new_id

# A write without If-Match retries this often when other writers keep winning the race.
MAX_WRITE_ATTEMPTS = 5


def _detail(
    application: Versioned[Application], configuration_ids: list[str]
) -> Versioned[ApplicationDetail]:
    detail = ApplicationDetail(
        **application.value.model_dump(), configuration_ids=configuration_ids
    )
    return Versioned(detail, version=application.version)


def check_precondition(
    precondition: Precondition | None, current: Versioned[Application], application_id: str
) -> None:
    if precondition is not None and not precondition.allows(current.version):
        raise PreconditionFailed(
            resource="application",
            resource_id=application_id,
            current_version=current.version,
            current_revision=current.value.revision,
        )


class ApplicationService:
    def __init__(self, database: Database) -> None:
        self._database = database

    def create(self, *, data: ApplicationCreate) -> Versioned[ApplicationDetail]:
        with self._database.transaction() as connection:
            created = ApplicationRepository(connection).add(
                application_id=new_id(), name=data.name, comments=data.comments
            )
        if created is None:
            raise ApplicationNameTaken(data.name)
        return _detail(created, [])

    def get(self, *, application_id: str) -> Versioned[ApplicationDetail]:
        with self._database.transaction() as connection:
            repository = ApplicationRepository(connection)
            application = repository.get(application_id=application_id)
            if application is None:
                raise ApplicationNotFound(application_id)
            return _detail(application, repository.configuration_ids(application_id=application_id))

    def list(self, *, after: str | None, limit: int, name: str | None) -> Page[Application]:
        with self._database.transaction() as connection:
            rows = ApplicationRepository(connection).list_page(
                after=after, limit=limit + 1, name=name
            )
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
        (without If-Match) or fail with PreconditionFailed (with one)."""
        for _ in range(MAX_WRITE_ATTEMPTS):
            with self._database.transaction() as connection:
                repository = ApplicationRepository(connection)
                current = repository.get(
                    application_id=application_id, lock=last_writer_wins(precondition)
                )
                if current is None:
                    raise ApplicationNotFound(application_id)
                check_precondition(precondition, current, application_id)
                provided = changes.model_fields_set
                name = changes.name if "name" in provided else current.value.name
                comments = changes.comments if "comments" in provided else current.value.comments
                written: Versioned[Application] | None = current
                if (name, comments) != (current.value.name, current.value.comments):
                    try:
                        written = repository.update_if_version(
                            application_id=application_id,
                            expected_version=current.version,
                            name=name,
                            comments=comments,
                        )
                    except DuplicateKey as error:
                        raise ApplicationNameTaken(name) from error
                if written is not None:
                    ids = repository.configuration_ids(application_id=application_id)
                    return _detail(written, ids)
        raise ConcurrentModification(resource="application", resource_id=application_id)

    def delete(self, *, application_id: str, precondition: Precondition | None = None) -> None:
        for _ in range(MAX_WRITE_ATTEMPTS):
            with self._database.transaction() as connection:
                repository = ApplicationRepository(connection)
                current = repository.get(
                    application_id=application_id, lock=last_writer_wins(precondition)
                )
                if current is None:
                    raise ApplicationNotFound(application_id)
                check_precondition(precondition, current, application_id)
                if repository.delete_if_version(
                    application_id=application_id, expected_version=current.version
                ):
                    return
        raise ConcurrentModification(resource="application", resource_id=application_id)
