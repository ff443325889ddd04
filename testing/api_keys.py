"""Real API keys for tests and the benchmark, made as `create-key` makes them."""

from __future__ import annotations

from datetime import datetime

from config.settings import Settings
from database.pool import Database
from models.api_key import ApiKeyCreate, ApiKeyCreated, Role
from models.audit import Actor
from repositories.unit_of_work import unit_of_work_factory
from services.api_key_service import ApiKeyService

TESTS = Actor(key_id=None, key_name="tests")


def create_api_key(
    settings: Settings,
    *,
    role: Role = Role.ADMIN,
    name: str = "tests",
    applications: list[str] | None = None,
    expires_at: datetime | None = None,
) -> ApiKeyCreated:
    """A new key in the database of `settings` (whose schema must be current)."""
    assert settings.database_url is not None  # noqa: S101  # nosec B101
    database = Database(
        dsn=settings.database_url.get_secret_value(), min_size=0, max_size=1, wait_seconds=5
    )
    try:
        service = ApiKeyService(unit_of_work_factory(database), pepper=settings.pepper)
        data = ApiKeyCreate(name=name, role=role, applications=applications, expires_at=expires_at)
        return service.create(data=data, actor=TESTS)
    finally:
        database.close()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
