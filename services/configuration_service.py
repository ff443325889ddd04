"""Use cases for configurations; each runs in one transaction."""

from __future__ import annotations

from database.pool import Database
from models.configuration import (
    Configuration,
    ConfigurationCreate,
    ConfigurationUpdate,
    JsonObject,
)
from models.json_document import find_document_problems, same_document
from models.page import Page
from repositories.application_repository import ApplicationRepository
from repositories.configuration_repository import ConfigurationRepository
from repositories.errors import DuplicateKey, MissingReference
from services.errors import (
    ApplicationNotFound,
    ConfigurationNameTaken,
    ConfigurationNotFound,
    FieldProblem,
    InvalidRequest,
)
from services.ids import new_id


class ConfigurationService:
    def __init__(self, database: Database, *, max_json_depth: int) -> None:
        self._database = database
        self._max_json_depth = max_json_depth

    def create(self, *, data: ConfigurationCreate) -> Configuration:
        self._check_document(data.config)
        with self._database.transaction() as connection:
            try:
                created = ConfigurationRepository(connection).add(
                    configuration_id=new_id(),
                    application_id=data.application_id,
                    name=data.name,
                    comments=data.comments,
                    config=data.config,
                )
            except MissingReference as error:
                raise InvalidRequest(
                    [
                        FieldProblem(
                            location="body",
                            field="application_id",
                            rule="application_exists",
                            message=f"application {data.application_id} does not exist",
                        )
                    ]
                ) from error
        if created is None:
            raise ConfigurationNameTaken(application_id=data.application_id, name=data.name)
        return created

    def get(self, *, configuration_id: str) -> Configuration:
        with self._database.transaction() as connection:
            configuration = ConfigurationRepository(connection).get(
                configuration_id=configuration_id
            )
        if configuration is None:
            raise ConfigurationNotFound(configuration_id)
        return configuration

    def list_for_application(
        self, *, application_id: str, after: str | None, limit: int
    ) -> Page[Configuration]:
        with self._database.transaction() as connection:
            if ApplicationRepository(connection).get(application_id=application_id) is None:
                raise ApplicationNotFound(application_id)
            rows = ConfigurationRepository(connection).list_page(
                application_id=application_id, after=after, limit=limit + 1
            )
        return Page.from_rows(rows, limit=limit)

    def update(self, *, configuration_id: str, changes: ConfigurationUpdate) -> Configuration:
        provided = changes.model_fields_set
        if "config" in provided:
            self._check_document(changes.config)
        with self._database.transaction() as connection:
            repository = ConfigurationRepository(connection)
            current = repository.get(configuration_id=configuration_id, for_update=True)
            if current is None:
                raise ConfigurationNotFound(configuration_id)
            name = changes.name if "name" in provided else current.name
            comments = changes.comments if "comments" in provided else current.comments
            config = changes.config if "config" in provided else current.config
            unchanged = (name, comments) == (current.name, current.comments)
            if unchanged and same_document(config, current.config):
                return current
            try:
                return repository.update(
                    configuration_id=configuration_id,
                    name=name,
                    comments=comments,
                    config=config,
                )
            except DuplicateKey as error:
                raise ConfigurationNameTaken(
                    application_id=current.application_id, name=name
                ) from error

    def delete(self, *, configuration_id: str) -> None:
        with self._database.transaction() as connection:
            if not ConfigurationRepository(connection).delete(configuration_id=configuration_id):
                raise ConfigurationNotFound(configuration_id)

    def _check_document(self, document: JsonObject) -> None:
        problems = find_document_problems(document, max_depth=self._max_json_depth)
        if problems:
            raise InvalidRequest(
                [
                    FieldProblem(
                        location="body",
                        field="config" + problem.pointer.replace("/", "."),
                        rule=problem.rule,
                        message=problem.message,
                        pointer="/config" + problem.pointer,
                    )
                    for problem in problems
                ]
            )
