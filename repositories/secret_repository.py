"""SQL for what secrets need besides the configurations' own rows: the stored configs that hold
secrets, walked in batches and re-encrypted in place (rotation), and the reveals remembered so
that each reader's first read of a revision in plain text is audited once. Never commits."""

from __future__ import annotations

from typing import Any

from psycopg2.extras import Json, RealDictCursor

from models.configuration import JsonObject, StoredSecrets
from repositories.repository import Repository

# Rows are locked until the batch's transaction ends: a writer of one of them waits that long.
SELECT_CONFIGURATIONS_WITH_SECRETS = """
    SELECT id AS configuration_id, revision, config, secrets
    FROM configurations
    WHERE cardinality(secrets) > 0 AND id > %(after)s
    ORDER BY id
    LIMIT %(limit)s
    FOR NO KEY UPDATE
"""

UPDATE_CONFIGURATION_CONFIG = """
    UPDATE configurations
    SET config = %(config)s
    WHERE id = %(configuration_id)s AND revision = %(revision)s
"""

SELECT_REVISIONS_WITH_SECRETS = """
    SELECT configuration_id, revision, config, secrets
    FROM configuration_revisions
    WHERE cardinality(secrets) > 0
      AND (configuration_id, revision) > (%(after_id)s, %(after_revision)s)
    ORDER BY configuration_id, revision
    LIMIT %(limit)s
    FOR NO KEY UPDATE
"""

UPDATE_REVISION_CONFIG = """
    UPDATE configuration_revisions
    SET config = %(config)s
    WHERE configuration_id = %(configuration_id)s AND revision = %(revision)s
"""

INSERT_REVEAL = """
    INSERT INTO secret_reveals (reader, configuration_id, revision)
    VALUES (%(reader)s, %(configuration_id)s, %(revision)s)
    ON CONFLICT DO NOTHING
    RETURNING revision
"""


def stored_from_row(row: dict[str, Any]) -> StoredSecrets:
    return StoredSecrets(
        configuration_id=row["configuration_id"],
        revision=row["revision"],
        config=row["config"],
        secrets=row["secrets"],
    )


class SecretRepository(Repository):
    def configurations_with_secrets(self, *, after: str, limit: int) -> list[StoredSecrets]:
        """Current rows holding secrets, by id after `after` (locked until the transaction
        ends)."""
        return self._fetch_all(SELECT_CONFIGURATIONS_WITH_SECRETS, {"after": after, "limit": limit})

    def revisions_with_secrets(self, *, after: tuple[str, int], limit: int) -> list[StoredSecrets]:
        """Revisions holding secrets, by (configuration id, revision) after `after` (locked
        until the transaction ends)."""
        parameters = {"after_id": after[0], "after_revision": after[1], "limit": limit}
        return self._fetch_all(SELECT_REVISIONS_WITH_SECRETS, parameters)

    def replace_configuration_config(
        self, *, configuration_id: str, revision: int, config: JsonObject
    ) -> bool:
        """The same values sealed again; False when the row is no longer at `revision`."""
        return self._update(
            UPDATE_CONFIGURATION_CONFIG,
            {"configuration_id": configuration_id, "revision": revision, "config": Json(config)},
        )

    def replace_revision_config(
        self, *, configuration_id: str, revision: int, config: JsonObject
    ) -> bool:
        return self._update(
            UPDATE_REVISION_CONFIG,
            {"configuration_id": configuration_id, "revision": revision, "config": Json(config)},
        )

    def remember_reveal(self, *, reader: str, configuration_id: str, revision: int) -> bool:
        """True the first time `reader` is remembered to have revealed this revision."""
        parameters = {"reader": reader, "configuration_id": configuration_id, "revision": revision}
        return self._fetch_one(INSERT_REVEAL, parameters) is not None

    def _fetch_all(self, query: str, parameters: dict[str, Any]) -> list[StoredSecrets]:
        with self._connection.cursor(cursor_factory=RealDictCursor) as cursor:
            cursor.execute(query, parameters)
            return [stored_from_row(row) for row in cursor.fetchall()]

    def _update(self, query: str, parameters: dict[str, Any]) -> bool:
        with self._connection.cursor() as cursor:
            cursor.execute(query, parameters)
            return bool(cursor.rowcount == 1)
