"""SQL for configurations and their revisions. Rows in, models out; never commits.

Every write of a configuration and the revision that records it are one SQL statement (a
data-modifying WITH), and updates are compare-and-set on `revision`: they change the row only
if it is still the revision the service read, and return None otherwise. Configs go in and
come out as stored: the value at each of their `secrets` is an envelope (see
services/secret_values), never the secret itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg2.extras import Json, RealDictCursor

from models.audit import Actor, AuditEntry
from models.change import ChangeKind
from models.configuration import Configuration, ConfigurationRevision, JsonObject
from repositories.audit_repository import audit_parameters
from repositories.repository import Repository, refusals_named


@dataclass(frozen=True)
class WriteRecord:
    """What an update leaves besides the new revision: who made it (audited as `audit`), and
    the kind of change the change log records."""

    actor: Actor
    audit: AuditEntry
    kind: ChangeKind


INSERT_CONFIGURATION = """
    WITH created AS (
        INSERT INTO configurations (id, application_id, name, comments, config, schema, secrets)
        VALUES (%(id)s, %(application_id)s, %(name)s, %(comments)s, %(config)s, %(schema)s,
                %(secrets)s)
        ON CONFLICT (application_id, name) DO NOTHING
        RETURNING id, application_id, name, comments, config, schema, secrets, revision,
                  created_at, updated_at
    ), history AS (
        INSERT INTO configuration_revisions
            (configuration_id, revision, name, comments, config, schema, secrets, message,
             created_at)
        SELECT id, revision, name, comments, config, schema, secrets, %(message)s, updated_at
        FROM created
    )
    SELECT id, application_id, name, comments, config, schema, secrets, revision, created_at,
           updated_at
    FROM created
"""

SELECT_CONFIGURATION = """
    SELECT id, application_id, name, comments, config, schema, secrets, revision, created_at,
           updated_at
    FROM configurations
    WHERE id = %(id)s
"""

SELECT_CONFIGURATION_FOR_UPDATE = """
    SELECT id, application_id, name, comments, config, schema, secrets, revision, created_at,
           updated_at
    FROM configurations
    WHERE id = %(id)s
    FOR NO KEY UPDATE
"""

# Writers of one configuration take their turn on a transaction-scoped advisory lock before
# anything else: waiting for it assigns no transaction id, so each writer's id (the change log's
# order, see change_log_repository.py) is assigned after the previous writer's, and a
# configuration's changes are logged in revision order. (Waiting for a row lock can assign the
# id first: among several waiters, a loser may hold an older id than the winner.) They also
# hold their application's advisory lock shared, which an application's deletion takes
# exclusive (application_repository.py), so that its `deleted` records come after every change
# it waited for. Class ids 1_018 (configurations) and 1_019 (applications) keep these keys apart
# from other advisory locks.
SELECT_CONFIGURATION_FOR_WRITE = """
    WITH turn AS MATERIALIZED (
        SELECT pg_advisory_xact_lock_shared(1019, hashtext(application_id)) AS application,
               pg_advisory_xact_lock(1018, hashtext(%(id)s)) AS configuration
        FROM configurations
        WHERE id = %(id)s
    )
    SELECT id, application_id, name, comments, config, schema, secrets, revision, created_at,
           updated_at
    FROM turn, configurations
    WHERE id = %(id)s
"""

SELECT_CONFIGURATION_FOR_WRITE_LOCKED = """
    WITH turn AS MATERIALIZED (
        SELECT pg_advisory_xact_lock_shared(1019, hashtext(application_id)) AS application,
               pg_advisory_xact_lock(1018, hashtext(%(id)s)) AS configuration
        FROM configurations
        WHERE id = %(id)s
    )
    SELECT id, application_id, name, comments, config, schema, secrets, revision, created_at,
           updated_at
    FROM turn, configurations
    WHERE id = %(id)s
    FOR NO KEY UPDATE OF configurations
"""

SELECT_CONFIGURATIONS_PAGE = """
    SELECT id, application_id, name, comments, config, schema, secrets, revision, created_at,
           updated_at
    FROM configurations
    WHERE application_id = %(application_id)s
      AND (%(after)s::text IS NULL OR id > %(after)s)
    ORDER BY id
    LIMIT %(limit)s
"""

# The next revision, its history row, and what the write leaves besides (the audit record, the
# change-log record and its notification, see audit_repository.py and change_log_repository.py)
# in one statement: one round trip instead of three. The records are inserted only when the
# compare-and-set wrote (they select FROM updated); their values are known beforehand, since the
# new revision is always the expected one plus one.
UPDATE_CONFIGURATION_IF_REVISION = """
    WITH updated AS (
        UPDATE configurations
        SET name = %(name)s,
            comments = %(comments)s,
            config = %(config)s,
            schema = %(schema)s,
            secrets = %(secrets)s,
            revision = revision + 1,
            updated_at = now()
        WHERE id = %(id)s AND revision = %(expected_revision)s
        RETURNING id, application_id, name, comments, config, schema, secrets, revision,
                  created_at, updated_at
    ), history AS (
        INSERT INTO configuration_revisions
            (configuration_id, revision, name, comments, config, schema, secrets, message,
             restored_from, created_at)
        SELECT id, revision, name, comments, config, schema, secrets, %(message)s,
               %(restored_from)s, updated_at
        FROM updated
    ), audited AS (
        INSERT INTO audit_log (key_id, key_name, issuer, subject, binding_ids, action,
                               target_type, target_id, application_id, configuration_id,
                               revision_before, revision_after, request_id, client_address)
        SELECT %(key_id)s, %(key_name)s, %(issuer)s, %(subject)s, %(binding_ids)s, %(action)s,
               %(target_type)s, %(target_id)s, %(application_id)s, %(configuration_id)s,
               %(revision_before)s, %(revision_after)s, %(request_id)s, %(client_address)s
        FROM updated
    ), appended AS (
        INSERT INTO change_log
            (position, application_id, configuration_id, configuration_name, kind, revision)
        SELECT (
                   SELECT coalesce(max(position), pg_current_xact_id()::text::bigint << 20)
                   FROM change_log
                   WHERE position >= (pg_current_xact_id()::text::bigint << 20)
                     AND position < ((pg_current_xact_id()::text::bigint + 1) << 20)
               ) + 1,
               application_id, id, name,
               %(kind)s, revision
        FROM updated
        RETURNING pg_notify('config_changes', position::text)
    )
    SELECT id, application_id, name, comments, config, schema, secrets, revision, created_at,
           updated_at, (SELECT count(*) FROM appended) AS notified
    FROM updated
"""

DELETE_CONFIGURATION_IF_REVISION = """
    DELETE FROM configurations
    WHERE id = %(id)s AND revision = %(expected_revision)s
"""

SELECT_REVISIONS_PAGE = """
    SELECT configuration_id, revision, name, comments, config, schema, secrets, message,
           restored_from, created_at
    FROM configuration_revisions
    WHERE configuration_id = %(configuration_id)s
      AND (%(before)s::integer IS NULL OR revision < %(before)s)
    ORDER BY revision DESC
    LIMIT %(limit)s
"""

SELECT_REVISION = """
    SELECT configuration_id, revision, name, comments, config, schema, secrets, message,
           restored_from, created_at
    FROM configuration_revisions
    WHERE configuration_id = %(configuration_id)s AND revision = %(revision)s
"""


SELECT_CONFIGURATION_BY_NAMES = """
    SELECT applications.id AS owner_id, configurations.id, configurations.application_id,
           configurations.name, configurations.comments, configurations.config,
           configurations.schema, configurations.secrets, configurations.revision,
           configurations.created_at, configurations.updated_at
    FROM applications
    LEFT JOIN configurations
           ON configurations.application_id = applications.id
          AND configurations.name = %(name)s
    WHERE applications.name = %(application_name)s
"""

SELECT_REVISION_BY_NAMES = """
    SELECT configuration_revisions.configuration_id, configuration_revisions.revision,
           configuration_revisions.name, configuration_revisions.comments,
           configuration_revisions.config, configuration_revisions.schema,
           configuration_revisions.secrets, configuration_revisions.message,
           configuration_revisions.restored_from, configuration_revisions.created_at
    FROM applications
    JOIN configurations
      ON configurations.application_id = applications.id AND configurations.name = %(name)s
    JOIN configuration_revisions
      ON configuration_revisions.configuration_id = configurations.id
     AND configuration_revisions.revision = %(revision)s
    WHERE applications.name = %(application_name)s
"""


def configuration_from_row(row: dict[str, Any]) -> Configuration:
    return Configuration(
        id=row["id"],
        application_id=row["application_id"],
        name=row["name"],
        comments=row["comments"],
        config=row["config"],
        schema=row["schema"],
        secrets=row["secrets"],
        revision=row["revision"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def revision_from_row(row: dict[str, Any]) -> ConfigurationRevision:
    return ConfigurationRevision(
        configuration_id=row["configuration_id"],
        revision=row["revision"],
        name=row["name"],
        comments=row["comments"],
        config=row["config"],
        schema=row["schema"],
        secrets=row["secrets"],
        message=row["message"],
        restored_from=row["restored_from"],
        created_at=row["created_at"],
    )


def _json_or_null(document: JsonObject | None) -> Json | None:
    return None if document is None else Json(document)


class ConfigurationRepository(Repository):
    def add(
        self,
        *,
        configuration_id: str,
        application_id: str,
        name: str,
        comments: str | None,
        config: JsonObject,
        schema: JsonObject | None = None,
        secrets: list[str] | None = None,
        message: str | None = None,
    ) -> Configuration | None:
        """Insert it with its revision 1 (`config` as stored: sealed at its `secrets`); None
        when the name is taken within the application.

        Raises MissingReference when the application does not exist (or was just deleted).
        """
        parameters = {
            "id": configuration_id,
            "application_id": application_id,
            "name": name,
            "comments": comments,
            "config": Json(config),
            "schema": _json_or_null(schema),
            "secrets": secrets or [],
            "message": message,
        }
        with refusals_named():
            row = self._fetch_one(INSERT_CONFIGURATION, parameters)
        return None if row is None else configuration_from_row(row)

    def get(self, *, configuration_id: str, lock: bool = False) -> Configuration | None:
        """With `lock`, the row stays locked against other writers until the transaction ends."""
        row = self._fetch_one(
            SELECT_CONFIGURATION_FOR_UPDATE if lock else SELECT_CONFIGURATION,
            {"id": configuration_id},
        )
        return None if row is None else configuration_from_row(row)

    def get_for_write(self, *, configuration_id: str, lock: bool) -> Configuration | None:
        """The first statement of a write of this configuration: waits for the other writers
        of it to end (see SELECT_CONFIGURATION_FOR_WRITE); `lock` as in `get`."""
        row = self._fetch_one(
            SELECT_CONFIGURATION_FOR_WRITE_LOCKED if lock else SELECT_CONFIGURATION_FOR_WRITE,
            {"id": configuration_id},
        )
        return None if row is None else configuration_from_row(row)

    def get_by_names(
        self, *, application_name: str, name: str
    ) -> tuple[bool, Configuration | None]:
        """(whether the application exists, its configuration of that name or None)."""
        row = self._fetch_one(
            SELECT_CONFIGURATION_BY_NAMES, {"application_name": application_name, "name": name}
        )
        if row is None:
            return False, None
        return True, None if row["id"] is None else configuration_from_row(row)

    def get_revision_by_names(
        self, *, application_name: str, name: str, revision: int
    ) -> ConfigurationRevision | None:
        parameters = {"application_name": application_name, "name": name, "revision": revision}
        row = self._fetch_one(SELECT_REVISION_BY_NAMES, parameters)
        return None if row is None else revision_from_row(row)

    def list_page(
        self, *, application_id: str, after: str | None, limit: int
    ) -> list[Configuration]:
        parameters = {"application_id": application_id, "after": after, "limit": limit}
        with self._connection.cursor(cursor_factory=RealDictCursor) as cursor:
            cursor.execute(SELECT_CONFIGURATIONS_PAGE, parameters)
            return [configuration_from_row(row) for row in cursor.fetchall()]

    def update_if_revision(
        self,
        *,
        configuration_id: str,
        expected_revision: int,
        name: str,
        comments: str | None,
        config: JsonObject,
        schema: JsonObject | None = None,
        secrets: list[str] | None = None,
        message: str | None = None,
        restored_from: int | None = None,
        record: WriteRecord,
    ) -> Configuration | None:
        """Write the next revision if the row is still at `expected_revision`; else None.
        The same statement audits the write and appends it to the change log (`record`)."""
        parameters: dict[str, Any] = {
            "id": configuration_id,
            "expected_revision": expected_revision,
            "name": name,
            "comments": comments,
            "config": Json(config),
            "schema": _json_or_null(schema),
            "secrets": secrets or [],
            "message": message,
            "restored_from": restored_from,
        }
        parameters.update(audit_parameters(record.actor, record.audit))
        parameters["kind"] = record.kind.value
        with refusals_named():
            row = self._fetch_one(UPDATE_CONFIGURATION_IF_REVISION, parameters)
        return None if row is None else configuration_from_row(row)

    def delete_if_revision(self, *, configuration_id: str, expected_revision: int) -> bool:
        with self._connection.cursor() as cursor:
            cursor.execute(
                DELETE_CONFIGURATION_IF_REVISION,
                {"id": configuration_id, "expected_revision": expected_revision},
            )
            return bool(cursor.rowcount == 1)

    def list_revisions(
        self, *, configuration_id: str, before: int | None, limit: int
    ) -> list[ConfigurationRevision]:
        """Newest first; `before` is the revision number to continue below."""
        parameters = {"configuration_id": configuration_id, "before": before, "limit": limit}
        with self._connection.cursor(cursor_factory=RealDictCursor) as cursor:
            cursor.execute(SELECT_REVISIONS_PAGE, parameters)
            return [revision_from_row(row) for row in cursor.fetchall()]

    def get_revision(self, *, configuration_id: str, revision: int) -> ConfigurationRevision | None:
        row = self._fetch_one(
            SELECT_REVISION, {"configuration_id": configuration_id, "revision": revision}
        )
        return None if row is None else revision_from_row(row)
