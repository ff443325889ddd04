"""Use cases for configurations and their history; each attempt runs in one unit of work.

Every change writes the next revision with a compare-and-set on the revision that was read, so
two writers can never both succeed from the same starting point: a writer that expects no
particular revision locks the row while it reads it, and builds on the winner's state, never
undoing it; one that expects a revision it no longer finds gets PreconditionFailed.

Secret values are sealed (encrypted where they stand, services/secret_values) before they are
stored, and every rule sees them plain: a write opens the current config, applies the change,
keeps the stored value where the placeholder was written back, checks, and seals what it
writes. Reads return configurations and revisions as stored; what a caller sees of them is
services/secret_values/views.py's to make.
"""

from __future__ import annotations

from collections.abc import Callable
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
from services.configuration_records import record_change, update_record
from services.configuration_rules import (
    Change,
    State,
    check_state,
    kept_secrets,
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
from services.secret_values.cipher import SecretCipher
from services.secret_values.errors import SecretWouldShow
from services.secret_values.locations import (
    SecretLocations,
    conceal,
    diff_views,
    shown_locations,
)
from services.secret_values.sealing import SealedConfig, seal_config
from services.secret_values.views import revealed
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
        cipher: SecretCipher | None = None,
        may_reveal: Callable[[str], bool] = lambda _application_id: False,
    ) -> None:
        """`actor`: who the writes are made for; each one is audited in its transaction.
        `max_document_bytes`: the most a config or schema may take once stored (None: no
        limit). `cipher`: seals and opens secret values (None: no key, so no secrets).
        `may_reveal`: whether the actor may see an application's secret values (by its id);
        one that may not cannot unmark a secret while its value stays."""
        self._unit_of_work = unit_of_work
        self._max_json_depth = max_json_depth
        self._actor = actor
        self._max_document_bytes = max_document_bytes
        self._cipher = cipher or SecretCipher(())
        self._may_reveal = may_reveal

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
        """An RFC 6902 JSON Patch that turns revision `source`'s config into `target`'s, for
        every caller alike: a changed secret is a `replace` with the placeholder, never the
        value (so both revisions' secrets are opened, to tell whether they changed)."""
        with self._unit_of_work() as uow:
            before = _revision(uow.configurations, configuration_id, source)
            after = _revision(uow.configurations, configuration_id, target)
        before_view, after_view = diff_views(
            revealed(before, self._cipher).config,
            SecretLocations.of(before.secrets),
            revealed(after, self._cipher).config,
            SecretLocations.of(after.secrets),
        )
        return json_diff(before_view, after_view)

    # Writes

    def create(self, *, data: ConfigurationCreate) -> Versioned[Configuration]:
        state = State(
            name=data.name,
            comments=data.comments,
            config=data.config,
            schema=data.json_schema,
            secrets=tuple(data.secrets),
        )
        state = kept_secrets(state, stored=None)
        self._check(state)

        def attempt(uow: UnitOfWork) -> Configuration:
            # Locks the application first (as deletes do), and its version changes: its list of
            # configuration ids is about to.
            if not uow.applications.bump_version(application_id=data.application_id):
                raise InvalidRequest([unknown_application(data.application_id)])
            configuration_id = new_id()
            created = uow.configurations.add(
                configuration_id=configuration_id,
                application_id=data.application_id,
                name=data.name,
                comments=data.comments,
                config=seal_config(
                    state.config,
                    SecretLocations.of(state.secrets),
                    cipher=self._cipher,
                    configuration_id=configuration_id,
                ).config,
                schema=data.json_schema,
                secrets=list(state.secrets),
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
                secrets=tuple(changes.secrets if "secrets" in provided else current.secrets),
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
        """Apply an RFC 7396 merge patch to {name, comments, config, schema, secrets}."""

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
        """A new revision whose config, schema, secrets and comments are those of `revision`
        (the name stays: it is how clients find the configuration, and the old one may be
        taken). The old secret values come back themselves, sealed anew for the new revision."""
        with self._unit_of_work() as uow:
            restored = revealed(
                _revision(uow.configurations, configuration_id, revision), self._cipher
            )

        def apply(current: Configuration) -> State:
            return State(
                name=current.name,
                comments=restored.comments,
                config=restored.config,
                schema=restored.json_schema,
                secrets=tuple(restored.secrets),
            )

        change = Change(apply, message or f"restore of revision {revision}", restored_from=revision)
        return self._write(
            configuration_id, precondition, change, AuditAction.CONFIGURATION_RESTORED
        )

    def delete(self, *, configuration_id: str, precondition: Precondition | None = None) -> None:
        def attempt(uow: UnitOfWork) -> None:
            current = uow.configurations.get_for_write(
                configuration_id=configuration_id, lock=False
            )
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
            current = uow.configurations.get_for_write(
                configuration_id=configuration_id, lock=last_writer_wins(precondition)
            )
            if current is None:
                raise ConfigurationNotFound(configuration_id)
            check_precondition(
                precondition, versioned(current), resource=RESOURCE, resource_id=configuration_id
            )
            plain = revealed(current, self._cipher)
            state = change.apply(plain)
            if change.restored_from is None:  # a restore brings back values, not placeholders
                state = kept_secrets(state, plain.config, plain.secrets)
                self._check_nothing_shown(current, plain, change, state)
            if not change.always_writes and state.same_as(State.of(plain)):
                return current
            self._check(state)
            sealed = seal_config(
                state.config,
                SecretLocations.of(state.secrets),
                cipher=self._cipher,
                configuration_id=configuration_id,
                previous=SealedConfig(current.config, SecretLocations.of(current.secrets)),
                previous_plain=plain.config,
            )
            try:
                written = uow.configurations.update_if_revision(
                    configuration_id=configuration_id,
                    expected_revision=current.revision,
                    name=state.name,
                    comments=state.comments,
                    config=sealed.config,
                    schema=state.schema,
                    secrets=list(state.secrets),
                    message=change.message,
                    restored_from=change.restored_from,
                    record=update_record(self._actor, action, current=current),
                )
            except DuplicateKey as error:
                raise ConfigurationNameTaken(
                    application_id=current.application_id, name=state.name
                ) from error
            if written is None:
                # Another writer got there first; the next attempt starts from its revision.
                raise StaleRead(resource=RESOURCE, resource_id=configuration_id)
            return written

        return versioned(retry_write(self._unit_of_work, attempt))

    def _check_nothing_shown(
        self, current: Configuration, plain: Configuration, change: Change, state: State
    ) -> None:
        """Refuse a change that would show a part of a stored secret to everyone (by leaving it
        outside every secret location of `state`) unless the actor may see it anyway. Which
        parts it keeps is found by making the same change to the config with each part of each
        secret replaced by a stand-in (a restore never needs this: it brings back a revision's
        values at that revision's own secret locations)."""
        if not current.secrets or self._may_reveal(current.application_id):
            return
        hidden = conceal(plain.config, SecretLocations.of(current.secrets))
        concealed = change.apply(plain.model_copy(update={"config": hidden}))
        shown = shown_locations(concealed.config, SecretLocations.of(state.secrets))
        if shown:
            raise SecretWouldShow(configuration_id=current.id, locations=shown)

    def _check(self, state: State) -> None:
        """Every rule a written state keeps (its secret locations passed kept_secrets)."""
        check_state(
            state,
            max_json_depth=self._max_json_depth,
            max_document_bytes=self._max_document_bytes,
            can_seal=self._cipher.can_seal,
        )


def _revision(
    repository: ConfigurationRepository, configuration_id: str, revision: int
) -> ConfigurationRevision:
    found = repository.get_revision(configuration_id=configuration_id, revision=revision)
    if found is not None:
        return found
    if repository.get(configuration_id=configuration_id) is None:
        raise ConfigurationNotFound(configuration_id)
    raise RevisionNotFound(configuration_id=configuration_id, revision=revision)
