"""Use cases for configurations and their history; each attempt runs in one transaction.

Every change writes the next revision with a compare-and-set on the revision that was read, so
two writers can never both succeed from the same starting point: without If-Match the loser
re-reads and retries (last writer wins, but on top of the winner's state, never undoing it);
with If-Match it gets PreconditionFailed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from database.pool import Database
from models.configuration import (
    Configuration,
    ConfigurationCreate,
    ConfigurationRevision,
    ConfigurationState,
    ConfigurationUpdate,
    JsonObject,
)
from models.fields import ChangeMessage
from models.json_document import find_document_problems, same_document
from models.page import Page
from models.versioned import Precondition, last_writer_wins
from repositories.application_repository import ApplicationRepository
from repositories.configuration_repository import ConfigurationRepository
from repositories.errors import DuplicateKey
from services.errors import (
    ApplicationNotFound,
    ConcurrentModification,
    ConfigurationNameTaken,
    ConfigurationNotFound,
    FieldProblem,
    InvalidRequest,
    PreconditionFailed,
    RevisionNotFound,
)
from services.ids import new_id
from services.json_diff import diff as json_diff
from services.json_schema_rules import config_problems, schema_problems
from services.merge_patch import apply_merge_patch

MAX_WRITE_ATTEMPTS = 5
_MESSAGE = TypeAdapter(ChangeMessage | None)


@dataclass(frozen=True)
class State:
    """The editable part of a configuration: what a revision records."""

    name: str
    comments: str | None
    config: JsonObject
    schema: JsonObject | None

    @classmethod
    def of(cls, configuration: Configuration) -> State:
        return cls(
            name=configuration.name,
            comments=configuration.comments,
            config=configuration.config,
            schema=configuration.json_schema,
        )

    def same_as(self, other: State) -> bool:
        return (
            (self.name, self.comments) == (other.name, other.comments)
            and same_document(self.config, other.config)
            and same_document(self.schema, other.schema)
        )


@dataclass(frozen=True)
class Change:
    """How to get from the current state to the next, and what the revision records."""

    apply: Callable[[Configuration], State]
    message: str | None = None
    restored_from: int | None = None

    @property
    def always_writes(self) -> bool:
        """A restore always makes a revision; an edit only when something changed."""
        return self.restored_from is not None


def problems_from_validation(error: ValidationError, *, location: str) -> list[FieldProblem]:
    return [
        FieldProblem(
            location=location,
            field=".".join(str(part) for part in item["loc"]),
            rule=item["type"],
            message=item["msg"],
            pointer="".join(f"/{part}" for part in item["loc"]),
        )
        for item in error.errors(include_url=False)
    ]


class ConfigurationService:
    def __init__(self, database: Database, *, max_json_depth: int) -> None:
        self._database = database
        self._max_json_depth = max_json_depth

    # Reads

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
        return Page.from_rows(rows, limit=limit, cursor=lambda configuration: configuration.id)

    def list_revisions(
        self, *, configuration_id: str, before: int | None, limit: int
    ) -> Page[ConfigurationRevision]:
        with self._database.transaction() as connection:
            repository = ConfigurationRepository(connection)
            if repository.get(configuration_id=configuration_id) is None:
                raise ConfigurationNotFound(configuration_id)
            rows = repository.list_revisions(
                configuration_id=configuration_id, before=before, limit=limit + 1
            )
        return Page.from_rows(rows, limit=limit, cursor=lambda revision: str(revision.revision))

    def get_revision(self, *, configuration_id: str, revision: int) -> ConfigurationRevision:
        with self._database.transaction() as connection:
            return self._revision(ConfigurationRepository(connection), configuration_id, revision)

    def diff(self, *, configuration_id: str, source: int, target: int) -> list[dict[str, Any]]:
        """An RFC 6902 JSON Patch that turns revision `source`'s config into `target`'s."""
        with self._database.transaction() as connection:
            repository = ConfigurationRepository(connection)
            before = self._revision(repository, configuration_id, source)
            after = self._revision(repository, configuration_id, target)
        return json_diff(before.config, after.config)

    # Writes

    def create(self, *, data: ConfigurationCreate) -> Configuration:
        self._check_state(
            State(
                name=data.name, comments=data.comments, config=data.config, schema=data.json_schema
            )
        )
        with self._database.transaction() as connection:
            # Locks the application first (as deletes do), and its ETag changes: its list of
            # configuration ids is about to.
            if not ApplicationRepository(connection).bump_version(
                application_id=data.application_id
            ):
                raise InvalidRequest([_unknown_application(data.application_id)])
            created = ConfigurationRepository(connection).add(
                configuration_id=new_id(),
                application_id=data.application_id,
                name=data.name,
                comments=data.comments,
                config=data.config,
                schema=data.json_schema,
                message=data.message,
            )
            if created is None:
                raise ConfigurationNameTaken(application_id=data.application_id, name=data.name)
        return created

    def update(
        self,
        *,
        configuration_id: str,
        changes: ConfigurationUpdate,
        precondition: Precondition | None = None,
    ) -> Configuration:
        provided = changes.model_fields_set

        def apply(current: Configuration) -> State:
            return State(
                name=changes.name if "name" in provided else current.name,
                comments=changes.comments if "comments" in provided else current.comments,
                config=changes.config if "config" in provided else current.config,
                schema=changes.json_schema if "json_schema" in provided else current.json_schema,
            )

        return self._write(configuration_id, precondition, Change(apply, changes.message))

    def merge_patch(
        self, *, configuration_id: str, patch: object, precondition: Precondition | None = None
    ) -> Configuration:
        """Apply an RFC 7396 merge patch to {name, comments, config, schema}; a top-level
        `message` member is taken out of the patch and recorded with the revision."""
        if not isinstance(patch, dict):
            raise InvalidRequest(
                [
                    FieldProblem(
                        location="body",
                        field="",
                        rule="merge_patch_object",
                        message="a merge patch of a configuration must be a JSON object",
                        pointer="",
                    )
                ]
            )
        # The patch holds the documents one level down, so it may be one level deeper; the
        # patched config and schema are then held to the limit itself.
        self._raise_document_problems(patch, "", extra_depth=1)
        patch = dict(patch)
        try:
            message = _MESSAGE.validate_python(patch.pop("message", None), strict=True)
        except ValidationError as error:
            raise InvalidRequest(
                [
                    FieldProblem(
                        location="body",
                        field="message",
                        rule=item["type"],
                        message=item["msg"],
                        pointer="/message",
                    )
                    for item in error.errors(include_url=False)
                ]
            ) from error

        def apply(current: Configuration) -> State:
            target = {
                "name": current.name,
                "comments": current.comments,
                "config": current.config,
                "schema": current.json_schema,
            }
            try:
                state = ConfigurationState.model_validate(apply_merge_patch(target, patch))
            except ValidationError as error:
                raise InvalidRequest(problems_from_validation(error, location="body")) from error
            return State(
                name=state.name,
                comments=state.comments,
                config=state.config,
                schema=state.json_schema,
            )

        return self._write(configuration_id, precondition, Change(apply, message))

    def restore(
        self,
        *,
        configuration_id: str,
        revision: int,
        message: str | None = None,
        precondition: Precondition | None = None,
    ) -> Configuration:
        """A new revision whose config, schema and comments are those of `revision` (the name
        stays: it is how clients find the configuration, and the old one may be taken)."""
        with self._database.transaction() as connection:
            restored = self._revision(
                ConfigurationRepository(connection), configuration_id, revision
            )

        def apply(current: Configuration) -> State:
            return State(
                name=current.name,
                comments=restored.comments,
                config=restored.config,
                schema=restored.json_schema,
            )

        change = Change(apply, message or f"restore of revision {revision}", restored_from=revision)
        return self._write(configuration_id, precondition, change)

    def delete(self, *, configuration_id: str, precondition: Precondition | None = None) -> None:
        for _ in range(MAX_WRITE_ATTEMPTS):
            with self._database.transaction() as connection:
                repository = ConfigurationRepository(connection)
                current = repository.get(configuration_id=configuration_id)
                if current is None:
                    raise ConfigurationNotFound(configuration_id)
                _check_precondition(precondition, current)
                # The application's row is locked before the configuration's, in the same
                # order as creates and application deletes take them: no deadlock.
                ApplicationRepository(connection).bump_version(
                    application_id=current.application_id
                )
                if last_writer_wins(precondition):
                    current = repository.get(configuration_id=configuration_id, lock=True)
                    if current is None:
                        raise ConfigurationNotFound(configuration_id)
                if repository.delete_if_revision(
                    configuration_id=configuration_id, expected_revision=current.revision
                ):
                    return
        raise ConcurrentModification(resource="configuration", resource_id=configuration_id)

    # Internals

    def _write(
        self, configuration_id: str, precondition: Precondition | None, change: Change
    ) -> Configuration:
        for _ in range(MAX_WRITE_ATTEMPTS):
            with self._database.transaction() as connection:
                repository = ConfigurationRepository(connection)
                current = repository.get(
                    configuration_id=configuration_id, lock=last_writer_wins(precondition)
                )
                if current is None:
                    raise ConfigurationNotFound(configuration_id)
                _check_precondition(precondition, current)
                state = change.apply(current)
                if not change.always_writes and state.same_as(State.of(current)):
                    return current
                self._check_state(state)
                try:
                    written = repository.update_if_revision(
                        configuration_id=configuration_id,
                        expected_revision=current.revision,
                        name=state.name,
                        comments=state.comments,
                        config=state.config,
                        schema=state.schema,
                        message=change.message,
                        restored_from=change.restored_from,
                    )
                except DuplicateKey as error:
                    raise ConfigurationNameTaken(
                        application_id=current.application_id, name=state.name
                    ) from error
                if written is not None:
                    return written
            # Another writer got there first; the next attempt starts from its revision.
        raise ConcurrentModification(resource="configuration", resource_id=configuration_id)

    def _revision(
        self, repository: ConfigurationRepository, configuration_id: str, revision: int
    ) -> ConfigurationRevision:
        found = repository.get_revision(configuration_id=configuration_id, revision=revision)
        if found is not None:
            return found
        if repository.get(configuration_id=configuration_id) is None:
            raise ConfigurationNotFound(configuration_id)
        raise RevisionNotFound(configuration_id=configuration_id, revision=revision)

    def _check_state(self, state: State) -> None:
        """Storage rules for config and schema, then the schema itself, then config against it."""
        self._raise_document_problems(state.config, "/config")
        if state.schema is None:
            return
        self._raise_document_problems(state.schema, "/schema")
        problems = schema_problems(state.schema) or config_problems(state.config, state.schema)
        if problems:
            raise InvalidRequest(problems)

    def _raise_document_problems(
        self, document: object, root: str, *, extra_depth: int = 0
    ) -> None:
        problems = find_document_problems(document, max_depth=self._max_json_depth + extra_depth)
        if problems:
            raise InvalidRequest(
                [
                    FieldProblem(
                        location="body",
                        field=(root + problem.pointer).lstrip("/").replace("/", "."),
                        rule=problem.rule,
                        message=problem.message,
                        pointer=root + problem.pointer,
                    )
                    for problem in problems
                ]
            )


def _check_precondition(precondition: Precondition | None, current: Configuration) -> None:
    if precondition is not None and not precondition.allows(current.revision):
        raise PreconditionFailed(
            resource="configuration",
            resource_id=current.id,
            current_version=current.revision,
            current_revision=current.revision,
        )


def _unknown_application(application_id: str) -> FieldProblem:
    return FieldProblem(
        location="body",
        field="application_id",
        rule="application_exists",
        message=f"application {application_id} does not exist",
    )
