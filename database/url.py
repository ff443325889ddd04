"""Which database the service talks to."""

from __future__ import annotations

from config.settings import Settings
from database.embedded import start_embedded_postgres


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL when set; otherwise the embedded server, started if needed."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return start_embedded_postgres(settings.embedded_postgres_dir)
