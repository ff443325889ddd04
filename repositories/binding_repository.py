"""SQL for identity bindings. Rows in, models out; never commits."""

from __future__ import annotations

from typing import Any

from psycopg2.extras import Json, RealDictCursor

from models.api_key import Role
from models.identity_binding import Binding, BindingCreate
from repositories.repository import Repository

INSERT_BINDING = """
    INSERT INTO identity_bindings (id, name, issuer, claims, role, applications, reveal_secrets)
    VALUES (%(id)s, %(name)s, %(issuer)s, %(claims)s, %(role)s, %(applications)s,
            %(reveal_secrets)s)
    RETURNING id, name, issuer, claims, role, applications, reveal_secrets, created_at
"""

SELECT_BINDING = """
    SELECT id, name, issuer, claims, role, applications, reveal_secrets, created_at
    FROM identity_bindings
    WHERE id = %(id)s
"""

SELECT_BINDINGS_PAGE = """
    SELECT id, name, issuer, claims, role, applications, reveal_secrets, created_at
    FROM identity_bindings
    WHERE (%(after)s::text IS NULL OR id > %(after)s)
    ORDER BY id
    LIMIT %(limit)s
"""

SELECT_BINDINGS_OF_ISSUER = """
    SELECT id, name, issuer, claims, role, applications, reveal_secrets, created_at
    FROM identity_bindings
    WHERE issuer = %(issuer)s
    ORDER BY id
"""

# On the channel of api_key_repository.CREDENTIALS_CHANNEL (api/auth/credentials_listener.py).
NOTIFY_BINDING_CHANGED = "SELECT pg_notify('config_credentials', 'binding changed')"

DELETE_BINDING = """
    DELETE FROM identity_bindings
    WHERE id = %(id)s
    RETURNING id, name, issuer, claims, role, applications, reveal_secrets, created_at
"""


def binding_from_row(row: dict[str, Any]) -> Binding:
    return Binding(
        id=row["id"],
        name=row["name"],
        issuer=row["issuer"],
        claims=row["claims"],
        role=Role(row["role"]),
        applications=row["applications"],
        reveal_secrets=row["reveal_secrets"],
        created_at=row["created_at"],
    )


class BindingRepository(Repository):
    def add(self, *, binding_id: str, data: BindingCreate) -> Binding:
        [binding] = self._all(
            INSERT_BINDING,
            {
                "id": binding_id,
                "name": data.name,
                "issuer": data.issuer,
                "claims": Json(data.claims),
                "role": data.role.value,
                "applications": data.applications,
                "reveal_secrets": data.reveal_secrets,
            },
        )
        return binding

    def get(self, *, binding_id: str) -> Binding | None:
        row = self._fetch_one(SELECT_BINDING, {"id": binding_id})
        return None if row is None else binding_from_row(row)

    def list_page(self, *, after: str | None, limit: int) -> list[Binding]:
        return self._all(SELECT_BINDINGS_PAGE, {"after": after, "limit": limit})

    def of_issuer(self, *, issuer: str) -> list[Binding]:
        return self._all(SELECT_BINDINGS_OF_ISSUER, {"issuer": issuer})

    def delete(self, *, binding_id: str) -> Binding | None:
        row = self._fetch_one(DELETE_BINDING, {"id": binding_id})
        return None if row is None else binding_from_row(row)

    def announce_change(self) -> None:
        """Every listening process reads the bindings again, once this transaction commits."""
        with self._connection.cursor() as cursor:
            cursor.execute(NOTIFY_BINDING_CHANGED)

    def _all(self, query: str, parameters: dict[str, Any]) -> list[Binding]:
        with self._connection.cursor(cursor_factory=RealDictCursor) as cursor:
            cursor.execute(query, parameters)
            return [binding_from_row(row) for row in cursor.fetchall()]
