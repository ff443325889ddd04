"""Use cases for applications; each runs in one transaction."""

from __future__ import annotations

from database.pool import Database
from models.application import Application, ApplicationCreate, ApplicationDetail, ApplicationUpdate
from models.page import Page
from repositories.application_repository import ApplicationRepository
from repositories.errors import DuplicateKey
from services.errors import ApplicationNameTaken, ApplicationNotFound
from services.ids import new_id


def _detail(application: Application, configuration_ids: list[str]) -> ApplicationDetail:
    return ApplicationDetail(**application.model_dump(), configuration_ids=configuration_ids)


class ApplicationService:
    def __init__(self, database: Database) -> None:
        self._database = database

    def create(self, *, data: ApplicationCreate) -> ApplicationDetail:
        with self._database.transaction() as connection:
            created = ApplicationRepository(connection).add(
                application_id=new_id(), name=data.name, comments=data.comments
            )
        if created is None:
            raise ApplicationNameTaken(data.name)
        return _detail(created, [])

    def get(self, *, application_id: str) -> ApplicationDetail:
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
        return Page.from_rows(rows, limit=limit)

    def update(self, *, application_id: str, changes: ApplicationUpdate) -> ApplicationDetail:
        with self._database.transaction() as connection:
            repository = ApplicationRepository(connection)
            current = repository.get(application_id=application_id, for_update=True)
            if current is None:
                raise ApplicationNotFound(application_id)
            name = changes.name if "name" in changes.model_fields_set else current.name
            comments = (
                changes.comments if "comments" in changes.model_fields_set else current.comments
            )
            updated = current
            if (name, comments) != (current.name, current.comments):
                try:
                    updated = repository.update(
                        application_id=application_id, name=name, comments=comments
                    )
                except DuplicateKey as error:
                    raise ApplicationNameTaken(name) from error
            return _detail(updated, repository.configuration_ids(application_id=application_id))

    def delete(self, *, application_id: str) -> None:
        with self._database.transaction() as connection:
            if not ApplicationRepository(connection).delete(application_id=application_id):
                raise ApplicationNotFound(application_id)
