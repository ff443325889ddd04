"""SQL for API keys. Rows in, models out; never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg2.extras import RealDictCursor

from models.api_key import ApiKey, Role, StoredKey
from repositories.repository import Repository

# Revoked keys and changed bindings are announced here, in the changing transaction, so that
# every process of every instance forgets what it cached of them (api/auth/credentials_listener.py).
CREDENTIALS_CHANNEL = "config_credentials"
NOTIFY_KEY_REVOKED = "SELECT pg_notify('config_credentials', 'key revoked')"

INSERT_KEY = """
    INSERT INTO api_keys (id, name, prefix, secret_hash, role, applications, expires_at,
                          created_by, reveal_secrets)
    VALUES (%(id)s, %(name)s, %(prefix)s, %(secret_hash)s, %(role)s, %(applications)s,
            %(expires_at)s, %(created_by)s, %(reveal_secrets)s)
    ON CONFLICT (prefix) DO NOTHING
    RETURNING id, name, prefix, secret_hash, role, applications, created_at, expires_at,
              revoked_at, created_by, reveal_secrets
"""

SELECT_KEY = """
    SELECT id, name, prefix, secret_hash, role, applications, created_at, expires_at, revoked_at,
           created_by, reveal_secrets
    FROM api_keys
    WHERE id = %(id)s
"""

SELECT_KEY_BY_PREFIX = """
    SELECT id, name, prefix, secret_hash, role, applications, created_at, expires_at, revoked_at,
           created_by, reveal_secrets
    FROM api_keys
    WHERE prefix = %(prefix)s
"""

SELECT_KEYS_PAGE = """
    SELECT id, name, prefix, secret_hash, role, applications, created_at, expires_at, revoked_at,
           created_by, reveal_secrets
    FROM api_keys
    WHERE (%(after)s::text IS NULL OR id > %(after)s)
    ORDER BY id
    LIMIT %(limit)s
"""

REVOKE_KEY = """
    UPDATE api_keys
    SET revoked_at = coalesce(revoked_at, now())
    WHERE id = %(id)s
    RETURNING id, name, prefix, secret_hash, role, applications, created_at, expires_at,
              revoked_at, created_by, reveal_secrets
"""


def key_from_row(row: dict[str, Any]) -> StoredKey:
    key = ApiKey(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        role=Role(row["role"]),
        applications=row["applications"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        created_by=row["created_by"],
        reveal_secrets=row["reveal_secrets"],
    )
    return StoredKey(key=key, secret_hash=bytes(row["secret_hash"]))


class ApiKeyRepository(Repository):
    def add(
        self,
        *,
        key_id: str,
        name: str,
        prefix: str,
        secret_hash: bytes,
        role: Role,
        applications: list[str] | None,
        expires_at: datetime | None,
        created_by: str | None,
        reveal_secrets: bool = False,
    ) -> StoredKey | None:
        """The new key, or None when its prefix is taken (the caller draws another)."""
        row = self._fetch_one(
            INSERT_KEY,
            {
                "id": key_id,
                "name": name,
                "prefix": prefix,
                "secret_hash": secret_hash,
                "role": role.value,
                "applications": applications,
                "expires_at": expires_at,
                "created_by": created_by,
                "reveal_secrets": reveal_secrets,
            },
        )
        return None if row is None else key_from_row(row)

    def get(self, *, key_id: str) -> StoredKey | None:
        row = self._fetch_one(SELECT_KEY, {"id": key_id})
        return None if row is None else key_from_row(row)

    def get_by_prefix(self, *, prefix: str) -> StoredKey | None:
        row = self._fetch_one(SELECT_KEY_BY_PREFIX, {"prefix": prefix})
        return None if row is None else key_from_row(row)

    def list_page(self, *, after: str | None, limit: int) -> list[StoredKey]:
        with self._connection.cursor(cursor_factory=RealDictCursor) as cursor:
            cursor.execute(SELECT_KEYS_PAGE, {"after": after, "limit": limit})
            return [key_from_row(row) for row in cursor.fetchall()]

    def revoke(self, *, key_id: str) -> StoredKey | None:
        """Revoked now, or kept as revoked when it already was; None when there is no such key."""
        row = self._fetch_one(REVOKE_KEY, {"id": key_id})
        return None if row is None else key_from_row(row)

    def announce_revocation(self) -> None:
        """Every listening process forgets the keys it checked, once this transaction commits."""
        with self._connection.cursor() as cursor:
            cursor.execute(NOTIFY_KEY_REVOKED)
