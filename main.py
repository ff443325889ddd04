"""Config Service: the application factory and the command line (`python main.py serve|dev`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg2
import uvicorn
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api.body_limit import BodyLimitMiddleware
from api.openapi import DESCRIPTION, install_openapi
from api.problems import install_problem_handlers
from api.v1 import router as v1_router
from config.settings import PROJECT_ROOT, Settings, SettingsError, load_settings
from database.migration_runner import MigrationRunner
from database.pool import Database
from database.url import resolve_database_url

logger = logging.getLogger("config_service")

VERSION = "1.0.0"


class SchemaNotCurrent(RuntimeError):
    """The database schema does not match the migrations this code was written for."""


def check_schema(database_url: str) -> None:
    """Refuse to serve an out-of-date schema; a database that is down is not refused."""
    try:
        status = MigrationRunner(database_url).status()
    except psycopg2.OperationalError as error:
        logger.warning("database unreachable at start-up, serving 503 until it is: %s", error)
        return
    if not status.is_current:
        raise SchemaNotCurrent(status.describe())


def open_database(settings: Settings, database_url: str) -> Database:
    return Database(
        dsn=database_url,
        min_size=settings.database_pool_min_size,
        max_size=settings.database_pool_max_size,
        wait_seconds=settings.database_pool_timeout_seconds,
        connect_timeout_seconds=settings.database_connect_timeout_seconds,
        statement_timeout_ms=settings.database_statement_timeout_ms,
        lock_timeout_ms=settings.database_lock_timeout_ms,
    )


def _start(settings: Settings) -> Database:
    database_url = resolve_database_url(settings)
    check_schema(database_url)
    database = open_database(settings, database_url)
    database.warm_up()
    return database


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    database = await run_in_threadpool(_start, app.state.settings)
    app.state.database = database
    try:
        yield
    finally:
        await run_in_threadpool(database.close)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    app = FastAPI(
        title="Config Service",
        version=VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "applications", "description": "Owners of configurations."},
            {"name": "configurations", "description": "Named JSON documents."},
        ],
    )
    app.state.settings = settings
    app.include_router(v1_router)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    install_problem_handlers(app)
    install_openapi(app)
    return app


def _serve(settings: Settings, *, reload: bool) -> None:
    uvicorn.run(
        "main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        reload=reload,
        reload_dirs=[str(PROJECT_ROOT)] if reload else None,
        reload_excludes=[".postgres", ".venv"] if reload else None,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="main.py", description=__doc__)
    parser.add_argument(
        "command",
        choices=["serve", "dev"],
        help="serve: run the API; dev: apply migrations, then run the API with auto-reload",
    )
    arguments = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    database_url = resolve_database_url(settings)
    # Worker processes (and the reloader's children) reach the same server through this.
    os.environ["DATABASE_URL"] = database_url
    if arguments.command == "dev":
        for name in MigrationRunner(database_url).up():
            print(f"applied {name}")
    try:
        check_schema(database_url)
    except SchemaNotCurrent as error:
        print(error, file=sys.stderr)
        return 1
    _serve(settings, reload=arguments.command == "dev")
    return 0


if __name__ == "__main__":
    sys.exit(main())
