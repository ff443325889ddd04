"""Real API keys for tests and the benchmark, made as `create-key` makes them."""

from __future__ import annotations

from datetime import datetime

from config.settings import Settings
from database.pool import Database
from models.api_key import ApiKeyCreate, ApiKeyCreated, Role
from models.audit import Actor
from repositories.unit_of_work import unit_of_work_factory
from services.api_key_secrets import key_hash, prefix_of
from services.api_key_service import ApiKeyService
from services.ids import new_id

TESTS = Actor(key_id=None, key_name="tests")


def create_api_key(
    settings: Settings,
    *,
    role: Role = Role.ADMIN,
    name: str = "tests",
    applications: list[str] | None = None,
    expires_at: datetime | None = None,
    reveal_secrets: bool = False,
) -> ApiKeyCreated:
    """A new key in the database of `settings` (whose schema must be current)."""
    assert settings.database_url is not None  # noqa: S101  # nosec B101
    database = Database(
        dsn=settings.database_url.get_secret_value(), min_size=0, max_size=1, wait_seconds=5
    )
    try:
        service = ApiKeyService(unit_of_work_factory(database), pepper=settings.pepper)
        data = ApiKeyCreate(
            name=name, role=role, applications=applications, reveal_secrets=reveal_secrets
        )
        created = service.create(data=data, actor=TESTS)
        if expires_at is None:
            return created
        # The API refuses an expiry in the past; tests of expired keys set it afterwards.
        with database.transaction() as connection, connection.cursor() as cursor:
            cursor.execute(
                "UPDATE api_keys SET expires_at = %(expires_at)s WHERE id = %(id)s",
                {"expires_at": expires_at, "id": created.id},
            )
        return created.model_copy(update={"expires_at": expires_at})
    finally:
        database.close()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def store_api_key(settings: Settings, key: str, *, name: str = "tests") -> None:
    """Store `key` (made beforehand with services.api_key_secrets.new_key) as an admin key, for
    a test that must know its key before the database exists."""
    assert settings.database_url is not None  # noqa: S101  # nosec B101
    prefix = prefix_of(key)
    assert prefix is not None  # noqa: S101  # nosec B101
    database = Database(
        dsn=settings.database_url.get_secret_value(), min_size=0, max_size=1, wait_seconds=5
    )
    try:
        with unit_of_work_factory(database)() as uow:
            uow.api_keys.add(
                key_id=new_id(),
                name=name,
                prefix=prefix,
                secret_hash=key_hash(key, pepper=settings.pepper),
                role=Role.ADMIN,
                applications=None,
                expires_at=None,
                created_by=None,
            )
    finally:
        database.close()
