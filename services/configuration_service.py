"""Use cases for configurations and their history; each attempt runs in one unit of work.

Every change writes the next revision with a compare-and-set on the revision that was read, so
two writers can never both succeed from the same starting point: a writer that expects no
particular revision locks the row while it reads it, and builds on the winner's state, never
undoing it; one that expects a revision it no longer finds gets PreconditionFailed.
"""

from __future__ import annotations

from typing import Any

from models.audit import Actor, AuditAction
from models.configuration import (
    Configuration,
    ConfigurationCreate,
    ConfigurationPatch,
    ConfigurationRevision,
    ConfigurationUpdate,
)
from models.page import Page
from models.versioned import Precondition, Versioned, last_writer_wins
from repositories.configuration_repository import ConfigurationRepository
from repositories.errors import DuplicateKey
from repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from services.configuration_records import record_change
from services.configuration_rules import (
    Change,
    State,
    check_state,
    patched_state,
    unknown_application,
)
from services.errors import (
    ApplicationNotFound,
    ConfigurationNameTaken,
    ConfigurationNotFound,
    InvalidRequest,
    RevisionNotFound,
)
from services.ids import new_id
from services.json_diff import diff as json_diff
from services.preconditions import check_precondition
from services.write_retry import StaleRead, retry_write

RESOURCE = "configuration"


def versioned(configuration: Configuration) -> Versioned[Configuration]:
    """A configuration's version is its revision."""
    return Versioned(configuration, version=configuration.revision)


class ConfigurationService:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        *,
        max_json_depth: int,
        actor: Actor,
        max_document_bytes: int | None = None,
    ) -> None:
        """`actor`: who the writes are made for; each one is audited in its transaction.
        `max_document_bytes`: the most a config or schema may take once stored (None: no
        limit)."""
        self._unit_of_work = unit_of_work
        self._max_json_depth = max_json_depth
        self._actor = actor
        self._max_document_bytes = max_document_bytes

    # Reads

    def get(self, *, configuration_id: str) -> Versioned[Configuration]:
        with self._unit_of_work() as uow:
            configuration = uow.configurations.get(configuration_id=configuration_id)
        if configuration is None:
            raise ConfigurationNotFound(configuration_id)
        return versioned(configuration)

    def list_for_application(
        self, *, application_id: str, after: str | None, limit: int
    ) -> Page[Configuration]:
        with self._unit_of_work() as uow:
            if uow.applications.get(application_id=application_id) is None:
                raise ApplicationNotFound(application_id)
            rows = uow.configurations.list_page(
                application_id=application_id, after=after, limit=limit + 1
            )
        return Page.from_rows(rows, limit=limit, cursor=lambda configuration: configuration.id)

    def list_revisions(
        self, *, configuration_id: str, before: int | None, limit: int
    ) -> Page[ConfigurationRevision]:
        with self._unit_of_work() as uow:
            if uow.configurations.get(configuration_id=configuration_id) is None:
                raise ConfigurationNotFound(configuration_id)
            rows = uow.configurations.list_revisions(
                configuration_id=configuration_id, before=before, limit=limit + 1
            )
        return Page.from_rows(rows, limit=limit, cursor=lambda revision: str(revision.revision))

    def get_revision(
        self, *, configuration_id: str, revision: int
    ) -> Versioned[ConfigurationRevision]:
        with self._unit_of_work() as uow:
            found = _revision(uow.configurations, configuration_id, revision)
        return Versioned(found, version=found.revision)

    def diff(self, *, configuration_id: str, source: int, target: int) -> list[dict[str, Any]]:
        """An RFC 6902 JSON Patch that turns revision `source`'s config into `target`'s."""
        with self._unit_of_work() as uow:
            before = _revision(uow.configurations, configuration_id, source)
            after = _revision(uow.configurations, configuration_id, target)
        return json_diff(before.config, after.config)

    # Writes

    def create(self, *, data: ConfigurationCreate) -> Versioned[Configuration]:
        state = State(
            name=data.name, comments=data.comments, config=data.config, schema=data.json_schema
        )
        check_state(
            state,
            max_json_depth=self._max_json_depth,
            max_document_bytes=self._max_document_bytes,
        )

        def attempt(uow: UnitOfWork) -> Configuration:
            # Locks the application first (as deletes do), and its version changes: its list of
            # configuration ids is about to.
            if not uow.applications.bump_version(application_id=data.application_id):
                raise InvalidRequest([unknown_application(data.application_id)])
            created = uow.configurations.add(
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
            record_change(
                uow, self._actor, AuditAction.CONFIGURATION_CREATED, before=None, after=created
            )
            return created

        return versioned(retry_write(self._unit_of_work, attempt))

    def update(
        self,
        *,
        configuration_id: str,
        changes: ConfigurationUpdate,
        precondition: Precondition | None = None,
    ) -> Versioned[Configuration]:
        provided = changes.model_fields_set

        def apply(current: Configuration) -> State:
            return State(
                name=changes.name if "name" in provided else current.name,
                comments=changes.comments if "comments" in provided else current.comments,
                config=changes.config if "config" in provided else current.config,
                schema=changes.json_schema if "json_schema" in provided else current.json_schema,
            )

        change = Change(apply, changes.message)
        return self._write(
            configuration_id, precondition, change, AuditAction.CONFIGURATION_UPDATED
        )

    def merge_patch(
        self,
        *,
        configuration_id: str,
        patch: ConfigurationPatch,
        precondition: Precondition | None = None,
    ) -> Versioned[Configuration]:
        """Apply an RFC 7396 merge patch to {name, comments, config, schema}."""

        def apply(current: Configuration) -> State:
            return patched_state(current, patch)

        change = Change(apply, patch.message)
        return self._write(
            configuration_id, precondition, change, AuditAction.CONFIGURATION_PATCHED
        )

    def restore(
        self,
        *,
        configuration_id: str,
        revision: int,
        message: str | None = None,
        precondition: Precondition | None = None,
    ) -> Versioned[Configuration]:
        """A new revision whose config, schema and comments are those of `revision` (the name
        stays: it is how clients find the configuration, and the old one may be taken)."""
        with self._unit_of_work() as uow:
            restored = _revision(uow.configurations, configuration_id, revision)

        def apply(current: Configuration) -> State:
            return State(
                name=current.name,
                comments=restored.comments,
                config=restored.config,
                schema=restored.json_schema,
            )

        change = Change(apply, message or f"restore of revision {revision}", restored_from=revision)
        return self._write(
            configuration_id, precondition, change, AuditAction.CONFIGURATION_RESTORED
        )

    def delete(self, *, configuration_id: str, precondition: Precondition | None = None) -> None:
        def attempt(uow: UnitOfWork) -> None:
            current = uow.configurations.get(configuration_id=configuration_id)
            if current is None:
                raise ConfigurationNotFound(configuration_id)
            # The application's row is locked before the configuration's, in the same order
            # as creates and application deletes take them: no deadlock.
            uow.applications.bump_version(application_id=current.application_id)
            if last_writer_wins(precondition):
                current = uow.configurations.get(configuration_id=configuration_id, lock=True)
                if current is None:
                    raise ConfigurationNotFound(configuration_id)
            check_precondition(
                precondition, versioned(current), resource=RESOURCE, resource_id=configuration_id
            )
            if not uow.configurations.delete_if_revision(
                configuration_id=configuration_id, expected_revision=current.revision
            ):
                raise StaleRead(resource=RESOURCE, resource_id=configuration_id)
            record_change(
                uow, self._actor, AuditAction.CONFIGURATION_DELETED, before=current, after=None
            )

        retry_write(self._unit_of_work, attempt)

    # Internals

    def _write(
        self,
        configuration_id: str,
        precondition: Precondition | None,
        change: Change,
        action: AuditAction,
    ) -> Versioned[Configuration]:
        def attempt(uow: UnitOfWork) -> Configuration:
            current = uow.configurations.get(
                configuration_id=configuration_id, lock=last_writer_wins(precondition)
            )
            if current is None:
                raise ConfigurationNotFound(configuration_id)
            check_precondition(
                precondition, versioned(current), resource=RESOURCE, resource_id=configuration_id
            )
            state = change.apply(current)
            if not change.always_writes and state.same_as(State.of(current)):
                return current
            check_state(
                state,
                max_json_depth=self._max_json_depth,
                max_document_bytes=self._max_document_bytes,
            )
            try:
                written = uow.configurations.update_if_revision(
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
            if written is None:
                # Another writer got there first; the next attempt starts from its revision.
                raise StaleRead(resource=RESOURCE, resource_id=configuration_id)
            record_change(uow, self._actor, action, before=current, after=written)
            return written

        return versioned(retry_write(self._unit_of_work, attempt))


def _revision(
    repository: ConfigurationRepository, configuration_id: str, revision: int
) -> ConfigurationRevision:
    found = repository.get_revision(configuration_id=configuration_id, revision=revision)
    if found is not None:
        return found
    if repository.get(configuration_id=configuration_id) is None:
        raise ConfigurationNotFound(configuration_id)
    raise RevisionNotFound(configuration_id=configuration_id, revision=revision)
