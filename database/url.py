"""Which database the service talks to, and what to say when it cannot be reached."""

from __future__ import annotations

import re

import psycopg2

from config.settings import Settings
from database.embedded import running_embedded_postgres_url, start_embedded_postgres

# libpq reports a refused connection as text only (psycopg2 gives no SQLSTATE for it); the
# server's message for SQLSTATE 3D000 ends like this in its default (English) messages.
_MISSING_DATABASE = re.compile(r'database "(?P<name>[^"]*)" does not exist')


def resolve_database_url(settings: Settings, *, join_running: bool = False) -> str:
    """DATABASE_URL when set; otherwise the embedded server, started if needed. With
    `join_running`, a running embedded server is used without this process becoming one of
    its owners (see running_embedded_postgres_url)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    if join_running and (url := running_embedded_postgres_url(settings.embedded_postgres_dir)):
        return url
    return start_embedded_postgres(settings.embedded_postgres_dir)


def describe_connection_failure(error: psycopg2.OperationalError) -> str:
    """One line for people: which database is missing, or why the server did not answer."""
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    missing = _MISSING_DATABASE.search(text)
    if missing:
        return (
            f"database {missing['name']} does not exist ({text}); create it, or point "
            "DATABASE_URL at one that does"
        )
    return (
        f"the database is unreachable ({text or 'no answer'}); start PostgreSQL or fix "
        "DATABASE_URL (DATABASE_CONNECT_TIMEOUT_SECONDS bounds each attempt)"
    )
